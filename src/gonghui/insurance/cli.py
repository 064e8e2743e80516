"""`gonghui insurance …`: plans, bank balance files, the assessment, a card's standing."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from gonghui.cli_support import CLI_ACTOR, console, errors, fail, unit_of_work
from gonghui.core.clock import clock_from
from gonghui.core.money import parse_yuan, yuan_string
from gonghui.insurance import assessment, claims, queries, service
from gonghui.insurance.balances import Source, import_balances
from gonghui.insurance.rules import DayCount, PeriodKind, RuleError, Terms, parse_month
from gonghui.insurance.store import store_for
from gonghui.members import queries as member_queries
from gonghui.members.models import Bank

app = typer.Typer(help="补充医保“一卡一计划”", no_args_is_help=True)
plan_app = typer.Typer(help="保险计划", no_args_is_help=True)
app.add_typer(plan_app, name="plan")


def _bank(session: Session, code: str) -> Bank:
    bank = next((b for b in member_queries.all_banks(session) if b.code == code), None)
    if bank is None:
        fail(f"银行代码 {code} 不存在")
    return bank


def _month(text: str) -> date:
    try:
        return parse_month(text)
    except RuleError as error:
        fail(str(error))


@plan_app.command("create")
def plan_create(
    code: Annotated[str, typer.Option(help="计划代码，如 YT2025")],
    name: Annotated[str, typer.Option(help="计划名称")],
    insurer: Annotated[str, typer.Option(help="承保保险公司")],
    bank: Annotated[list[str], typer.Option(help="合作银行代码，可重复")],
    effective_from: Annotated[str, typer.Option(help="生效日期 YYYY-MM-DD")],
    threshold: Annotated[str, typer.Option(help="达标日均余额（元）")] = "2000",
    cap: Annotated[str, typer.Option(help="每人每年赔付上限（元）")] = "50000",
    period: Annotated[PeriodKind, typer.Option(help="考核周期")] = PeriodKind.MONTH,
    day_count: Annotated[DayCount, typer.Option(help="开卡前天数的计法")] = DayCount.CALENDAR,
    enroll_all_units: Annotated[bool, typer.Option(help="全部单位参保")] = False,
) -> None:
    """创建保险计划（第1版条款）。"""
    try:
        terms = Terms(
            threshold_fen=parse_yuan(threshold),
            annual_cap_fen=parse_yuan(cap),
            period_kind=period,
            day_count=day_count,
        )
        starts = date.fromisoformat(effective_from)
    except ValueError as error:
        fail(str(error))
    with unit_of_work() as (session, settings):
        now = clock_from(settings).now()
        plan = service.create_plan(
            session,
            code=code,
            name=name,
            insurer=insurer,
            terms=terms,
            effective_from=starts,
            bank_ids=[_bank(session, b).id for b in bank],
            actor=CLI_ACTOR,
            now=now,
        )
        if enroll_all_units:
            unit_ids = [unit.id for unit in session.scalars(member_queries.export_units(CLI_ACTOR))]
            service.enroll_units(session, plan, unit_ids, starts, actor=CLI_ACTOR, now=now)
    console.print(f"已创建保险计划 {code}")


@app.command("import-balances")
def import_balances_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    bank: Annotated[str, typer.Option(help="发送文件的银行代码，如 YTB")],
) -> None:
    """导入银行日终余额文件（卡号, 日期, 日终余额）；有任何错误则逐行列出，不写入任何数据。"""
    with unit_of_work() as (session, settings), errors.status(f"正在校验并导入 {file.name}…"):
        report = import_balances(
            session,
            file.read_bytes(),
            bank=_bank(session, bank),
            filename=file.name,
            source=Source.CLI,
            actor=CLI_ACTOR,
            now=clock_from(settings).now(),
            store=store_for(settings),
        )
    console.print(report.summary)


@app.command()
def assess(
    period: Annotated[
        str, typer.Option(help="考核期间 YYYY-MM（按季或按年的计划取其所在季度或年度）")
    ],
    plan: Annotated[str | None, typer.Option(help="计划代码（只有一个计划时可省略）")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False,
) -> None:
    """考核各卡日均余额，决定参保资格并赠送下一保障期的补充医保；重复运行结果相同、不会重复。"""
    month = _month(period)
    with unit_of_work() as (session, settings), errors.status(f"正在考核 {period}…"):
        summary = assessment.assess(
            session,
            service.plan_by_code(session, plan),
            month,
            actor=CLI_ACTOR,
            now=clock_from(settings).now(),
            store=store_for(settings),
        )
    if json_output:
        typer.echo(json.dumps(asdict(summary), ensure_ascii=False))
        return
    console.print(
        f"{summary.period}：考核 {summary.cards_assessed} 张卡，达标 {summary.eligible}，"
        f"未达标 {summary.ineligible}"
    )


@app.command()
def balance(
    card: Annotated[str, typer.Option(help="会员卡号")],
    period: Annotated[str, typer.Option(help="期间 YYYY-MM")],
    plan: Annotated[str | None, typer.Option(help="计划代码")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False,
) -> None:
    """一张卡在某期间的日均余额与参保资格。"""
    month = _month(period)
    with unit_of_work() as (session, settings):
        standing = queries.card_standing(
            session, service.plan_by_code(session, plan), card, month, store=store_for(settings)
        )
    if json_output:
        payload = {
            "average_daily_balance": yuan_string(standing.decision.average_fen),
            "days": standing.decision.days,
            "eligible": standing.decision.eligible,
        }
        typer.echo(json.dumps(payload, ensure_ascii=False))
        return
    console.print(standing.explanation)


@app.command()
def estimate(
    card: Annotated[str, typer.Option(help="会员卡号")],
    admission: Annotated[str, typer.Option(help="入院日期 YYYY-MM-DD")],
    eligible_amount: Annotated[str, typer.Option(help="可报销费用（元）")],
    plan: Annotated[str | None, typer.Option(help="计划代码")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False,
) -> None:
    """理赔试算：按计划条款和本年度已用额度，计算本次可赔付金额。"""
    try:
        admitted = date.fromisoformat(admission)
        eligible = parse_yuan(eligible_amount)
    except ValueError as error:
        fail(f"入院日期应为 YYYY-MM-DD，金额最多两位小数（{error}）")
    if eligible < 0:
        fail("可报销费用不能为负数")
    with unit_of_work() as (session, _settings):
        chosen = service.plan_by_code(session, plan)
        holdings = member_queries.card_holdings(
            session, service.plan_bank_ids(session, chosen), card_no=card
        )
        if not holdings:
            fail(f"参加计划 {chosen.code} 的会员卡 {card} 不存在")
        result = claims.estimate(session, chosen, holdings[0].member_id, admitted, eligible)
    payload = {
        "payable": yuan_string(result.payable_fen),
        "remaining_before": yuan_string(result.remaining_before_fen),
        "remaining_after": yuan_string(result.remaining_after_fen),
    }
    if json_output:
        typer.echo(json.dumps(payload, ensure_ascii=False))
        return
    for line in result.lines:
        console.print(f"{line.label}：{yuan_string(line.amount_fen)} 元")
