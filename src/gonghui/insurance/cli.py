"""`gonghui insurance …`: plans, bank balance files, the assessment, a card's standing."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from gonghui.cli_support import CLI_ACTOR, console, errors, fail, unit_of_work
from gonghui.core.clock import clock_from
from gonghui.core.inputs import MAX_ID, InputError, parse_amount, parse_date, parse_month
from gonghui.core.money import parse_yuan, yuan_string
from gonghui.insurance import assessment, claims, parts, queries, service, snapshots
from gonghui.insurance.balances import Source, import_balances
from gonghui.insurance.rules import DayCount, PeriodKind, Terms
from gonghui.insurance.store import store_for
from gonghui.members import banks
from gonghui.members import queries as member_queries
from gonghui.members.queries import Bank

app = typer.Typer(help="补充医保“一卡一计划”", no_args_is_help=True)
plan_app = typer.Typer(help="保险计划", no_args_is_help=True)
app.add_typer(plan_app, name="plan")


def _bank(session: Session, code: str) -> Bank:
    # Whether a retired bank may still be named (a plan starting before its retirement, its
    # balances before that day) is the services' rule, the same for the pages and the API.
    return banks.bank_by_code(session, code)


def _day(text: str, what: str) -> date:
    try:
        return parse_date(text, what)
    except InputError as error:
        fail(str(error))


def _month(text: str) -> date:
    try:
        return parse_month(text, "期间")
    except InputError as error:
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
            threshold_fen=parse_amount(threshold, "达标日均余额"),
            annual_cap_fen=parse_amount(cap, "赔付上限"),
            period_kind=period,
            day_count=day_count,
        )
        starts = parse_date(effective_from, "生效日期")
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
        joined = 0
        if enroll_all_units:
            unit_ids = member_queries.selected_unit_ids(
                session, member_queries.UnitSelection(everything=True)
            )
            joined = service.enroll_units(session, plan, unit_ids, starts, actor=CLI_ACTOR, now=now)
    console.print(f"已创建保险计划 {code}")
    if enroll_all_units:
        _say_enrolled(joined, code)


def _say_enrolled(joined: int, code: str) -> None:
    if joined:
        console.print(f"{joined} 个单位参加计划 {code}")
    else:
        # Units imported later are not enrolled by themselves: say so rather than enrol nothing
        # in silence.
        errors.print(
            f"[yellow]注意：[/yellow]没有单位新参加计划 {code}。单位导入后请运行 "
            f"gonghui insurance plan enroll --plan {code} --all-units --from YYYY-MM-DD"
        )


@plan_app.command("enroll")
def plan_enroll(
    plan: Annotated[str, typer.Option(help="计划代码")],
    joined_from: Annotated[str, typer.Option("--from", help="参保日期 YYYY-MM-DD")],
    all_units: Annotated[bool, typer.Option("--all-units", help="名册上的全部单位")] = False,
    district: Annotated[str, typer.Option(help="某区县的单位")] = "",
    industry: Annotated[str, typer.Option(help="某行业的单位")] = "",
    unit: Annotated[list[str] | None, typer.Option(help="单位统一社会信用代码，可重复")] = None,
) -> None:
    """登记参保单位（全部、按区县、按行业或逐个）；已参保的单位不变，退出的单位重新参保。"""
    selection = member_queries.UnitSelection(all_units, district, industry, tuple(unit or ()))
    if selection.empty:
        fail("请指定 --all-units、--district、--industry 或 --unit")
    starts = _day(joined_from, "参保日期")
    with unit_of_work() as (session, settings):
        chosen = service.plan_by_code(session, plan)
        unit_ids = member_queries.selected_unit_ids(session, selection)
        joined = service.enroll_units(
            session, chosen, unit_ids, starts, actor=CLI_ACTOR, now=clock_from(settings).now()
        )
    _say_enrolled(joined, plan)


@plan_app.command("unenroll")
def plan_unenroll(
    plan: Annotated[str, typer.Option(help="计划代码")],
    unit: Annotated[list[str], typer.Option(help="单位统一社会信用代码，可重复")],
    left_from: Annotated[str, typer.Option("--from", help="退出日期 YYYY-MM-DD")],
) -> None:
    """单位自某日起退出计划：此后结束的考核期不再考核其会员，已赠送的保障不变。"""
    leaves = _day(left_from, "退出日期")
    with unit_of_work() as (session, settings):
        chosen = service.plan_by_code(session, plan)
        unit_ids = member_queries.selected_unit_ids(
            session, member_queries.UnitSelection(credit_codes=tuple(unit))
        )
        left = service.unenroll_units(
            session, chosen, unit_ids, leaves, actor=CLI_ACTOR, now=clock_from(settings).now()
        )
    console.print(f"{left} 个单位自 {leaves} 起退出计划 {plan}")


@plan_app.command("amend")
def plan_amend(
    plan: Annotated[str, typer.Option(help="计划代码")],
    effective_from: Annotated[str, typer.Option(help="新版本生效日期 YYYY-MM-DD")],
    threshold: Annotated[str | None, typer.Option(help="达标日均余额（元）")] = None,
    cap: Annotated[str | None, typer.Option(help="每人每年赔付上限（元）")] = None,
    deductible: Annotated[str | None, typer.Option(help="免赔额（元）")] = None,
    ratio: Annotated[str | None, typer.Option(help="赔付比例（%），如 90")] = None,
    period: Annotated[PeriodKind | None, typer.Option(help="考核周期")] = None,
    day_count: Annotated[DayCount | None, typer.Option(help="开卡前天数的计法")] = None,
    min_group_size: Annotated[
        int | None, typer.Option(min=0, max=100_000, help="团体最低人数（0 为不设）")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", help="不再确认")] = False,
) -> None:
    """以新版本修改计划条款：列出与现行版本的差异，自生效日起的考核和入院的理赔使用新版本。"""
    starts = _day(effective_from, "生效日期")
    with unit_of_work() as (session, settings):
        chosen = service.plan_by_code(session, plan)
        current = service.terms_of(service.latest_version(session, chosen))
        try:
            terms = replace(
                current,
                threshold_fen=parse_yuan(threshold) if threshold else current.threshold_fen,
                annual_cap_fen=parse_yuan(cap) if cap else current.annual_cap_fen,
                deductible_fen=parse_yuan(deductible) if deductible else current.deductible_fen,
                ratio_bp=parse_yuan(ratio) if ratio else current.ratio_bp,
                period_kind=period or current.period_kind,
                day_count=day_count or current.day_count,
                min_group_size=current.min_group_size
                if min_group_size is None
                else (min_group_size or None),
            )
        except ValueError as error:
            fail(str(error))
        _print_changes(service.compare_terms(current, terms))
        if not yes and not typer.confirm(f"自 {starts} 起生效？"):
            fail("已取消")
        version = service.amend_plan(
            session, chosen, terms, starts, actor=CLI_ACTOR, now=clock_from(settings).now()
        )
        number = version.version
    console.print(f"计划 {plan} 第{number}版自 {starts} 起生效")


def _print_changes(changes: list[service.TermChange]) -> None:
    table = Table(title="条款对比")
    for column in ("条款", "现行版本", "新版本"):
        table.add_column(column)
    for change in changes:
        style = "bold yellow" if change.changed else None
        table.add_row(change.label, change.before, change.after, style=style)
    console.print(table)


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
    allow_missing_banks: Annotated[
        bool,
        typer.Option(
            "--allow-missing-banks",
            help="有银行的余额文件未报送至期末时仍然考核（记入审计日志；文件补齐后可重新考核）",
        ),
    ] = False,
    replay: Annotated[
        int | None,
        typer.Option(
            help="按第 N 号考核快照记录的余额分片与计划版本重算，逐卡核对结果（不改动任何数据）",
            min=1,
            max=MAX_ID,
        ),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False,
) -> None:
    """考核各卡日均余额，决定参保资格并赠送下一保障期的补充医保；重复运行结果相同、不会重复。

    只能考核已结束的期间，且计划内各银行的余额文件须已报送至期末。每次考核记录一份快照
    （所读余额分片与计划版本），可用 --replay 重算核对。"""
    month = _month(period)
    if replay is not None:
        _replay(replay, month, json_output=json_output)
        return
    with unit_of_work() as (session, settings), errors.status(f"正在考核 {period}…"):
        summary = assessment.assess(
            session,
            service.plan_by_code(session, plan),
            month,
            actor=CLI_ACTOR,
            now=clock_from(settings).now(),
            store=store_for(settings),
            allow_missing_banks=allow_missing_banks,
        )
    if json_output:
        typer.echo(json.dumps(asdict(summary), ensure_ascii=False))
        return
    console.print(
        f"{summary.period}：考核 {summary.cards_assessed} 张卡，达标 {summary.eligible}，"
        f"未达标 {summary.ineligible}（考核快照 {summary.snapshot}）"
    )
    if summary.banks_missing:
        errors.print(f"注意：{'、'.join(summary.banks_missing)} 的余额文件未报送至期末")


def _replay(snapshot_id: int, month: date, *, json_output: bool) -> None:
    with unit_of_work() as (session, settings), errors.status(f"正在重算考核快照 {snapshot_id}…"):
        snapshot = snapshots.snapshot_for(session, snapshot_id)
        if not snapshot.period_start <= month <= snapshot.period_end:
            fail(
                f"考核快照 {snapshot_id} 是 {snapshot.period_start} 至 {snapshot.period_end} "
                f"的考核，与所给期间不符"
            )
        report = snapshots.replay(session, snapshot_id, actor=CLI_ACTOR, store=store_for(settings))
    if json_output:
        typer.echo(json.dumps(asdict(report), ensure_ascii=False))
    else:
        console.print(report.summary)
        for diff in report.differences:
            console.print(f"  {diff.card_no}：原结果 {diff.recorded}，重算 {diff.recomputed}")
    if not report.matches:
        raise typer.Exit(1)


@app.command()
def compact(
    month: Annotated[str, typer.Option(help="已结束的月份 YYYY-MM")],
) -> None:
    """把某个已结束月份各银行的逐日余额分片合并为按卡号排序的一个分片（原子替换；
    被替换的分片在所有读取结束后由清理删除）。"""
    chosen = _month(month)
    with unit_of_work() as (session, settings), errors.status(f"正在合并 {month} 的余额分片…"):
        store = store_for(settings)
        now = clock_from(settings).now()
        report = parts.compact_month(session, store, chosen, actor=CLI_ACTOR, now=now)
        purged = parts.purge_replaced(session, store, now)
    console.print(report.summary)
    if purged:
        console.print(f"已删除 {purged} 个早已被替换的分片文件")


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
        admitted = parse_date(admission, "入院日期")
        eligible = parse_amount(eligible_amount, "可报销费用")
    except InputError as error:
        fail(str(error))
    with unit_of_work() as (session, _settings):
        chosen = service.plan_by_code(session, plan)
        holdings = member_queries.card_holdings(
            session, service.plan_bank_ids(session, chosen), card_no=card
        )
        if not holdings:
            fail(f"参加计划 {chosen.code} 的会员卡 {card} 不存在")
        member_id = holdings[0].member_id
        # Cover first, as on the claim page: nothing is promised for a stay no cover includes.
        reason = claims.not_covered(session, chosen, member_id, admitted, actor=CLI_ACTOR)
        result = None if reason else claims.estimate(session, chosen, member_id, admitted, eligible)
    if result is None:
        if json_output:
            payload = {"covered": False, "not_covered_reason": reason, "payable": "0.00"}
            typer.echo(json.dumps(payload, ensure_ascii=False))
            return
        console.print(f"{reason}本次不可赔付。")
        return
    payload = {
        "covered": True,
        "payable": yuan_string(result.payable_fen),
        "remaining_before": yuan_string(result.remaining_before_fen),
        "remaining_after": yuan_string(result.remaining_after_fen),
    }
    if json_output:
        typer.echo(json.dumps(payload, ensure_ascii=False))
        return
    for line in result.lines:
        console.print(f"{line.label}：{yuan_string(line.amount_fen)} 元")
