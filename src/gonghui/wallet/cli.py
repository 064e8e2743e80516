"""`gonghui wallet …`: check the ledger, run the 06:00 release, regions, funding, settlement."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gonghui.cli_support import CLI_ACTOR, console, errors, fail, load_settings, unit_of_work
from gonghui.core.clock import business_date, clock_from
from gonghui.core.inputs import InputError, parse_amount, parse_date
from gonghui.core.money import format_fen
from gonghui.wallet import ledger, queries, regions, transfers
from gonghui.wallet.exports import settlement_workbook
from gonghui.wallet.verification import run_money_request

app = typer.Typer(help="医保钱包：跨省共济", no_args_is_help=True)


@app.command("verify-ledger")
def verify_ledger() -> None:
    """核对账本：每张凭证借贷平衡、无透支、缓存余额与分录一致、每笔转账恰好记账一次。"""
    with unit_of_work() as (session, _settings):
        problems = ledger.verify(session)
    if problems:
        for problem in problems:
            errors.print(f"  {problem}")
        fail(f"账本核对发现 {len(problems)} 处问题")
    console.print("账本核对通过：借贷平衡，无透支，余额一致")


@app.command("release-due")
def release_due() -> None:
    """退回已到期（次日06:00）仍未接收的转账；可重复运行。"""
    now = clock_from(load_settings()).now()
    with unit_of_work() as (session, _settings):
        released = transfers.release_due(session, now, actor=CLI_ACTOR)
    console.print(f"已退回 {released} 笔未接收的转账")


@app.command("regions")
def regions_report() -> None:
    """各省开通情况。"""
    today = business_date(clock_from(load_settings()).now())
    with unit_of_work() as (session, _settings):
        lines = regions.rollout_by_province(session, today)
    opened = sum(line.rollout.open_regions for line in lines)
    for line in lines:
        if line.rollout.open_regions:
            wide = "（全省域）" if line.rollout.province_wide else ""
            console.print(f"{line.name} {line.rollout.open_regions}/{line.rollout.regions}{wide}")
    console.print(f"已开通统筹区 {opened} 个")


@app.command("open-region")
def open_region(
    code: Annotated[str, typer.Argument(help="6位统筹区代码")],
    on: Annotated[str, typer.Option(help="开通日期 YYYY-MM-DD")],
) -> None:
    """开通统筹区的医保钱包。"""
    now = clock_from(load_settings()).now()
    try:
        opened_on = parse_date(on, "开通日期")
    except InputError as error:
        fail(str(error))
    with unit_of_work() as (session, _settings):
        region = regions.open_region(session, code, opened_on, actor=CLI_ACTOR, now=now)
        name = region.name
    console.print(f"{name}已开通医保钱包，自 {opened_on} 起")


@app.command("fund")
def fund(
    insured: Annotated[int, typer.Option(help="参保人编号")],
    amount: Annotated[str, typer.Option(help="划入金额（元）")],
    key: Annotated[str, typer.Option(help="请求编号（同一编号只记账一次）")],
) -> None:
    """向职工个人账户划入资金。"""
    now = clock_from(load_settings()).now()
    try:
        fen = parse_amount(amount, "划入金额")
    except InputError as error:
        fail(str(error))
    with unit_of_work() as (session, _settings):
        run_money_request(
            session,
            lambda: transfers.fund_personal_account(
                session, insured, fen, idempotency_key=key, actor=CLI_ACTOR, now=now
            ),
            now,
        )
    console.print(f"已划入 {format_fen(fen)}")


@app.command("settlement")
def settlement(
    month: Annotated[str, typer.Option(help="月份 YYYY-MM")],
    out: Annotated[Path | None, typer.Option(help="导出 XLSX 文件")] = None,
) -> None:
    """统筹区间月度清算：各地被共济人使用外地共济额度的金额。"""
    with unit_of_work() as (session, settings):
        now = clock_from(settings).now()
        first = queries.settlement_month(month, business_date(now))
        pairs, provinces = queries.settlement(session, CLI_ACTOR, first)
    for line in pairs:
        console.print(f"{line.spent_name} ← {line.giver_name}：{format_fen(line.amount_fen)}")
    if out is not None:
        who = CLI_ACTOR.display_name
        out.write_bytes(settlement_workbook(pairs, provinces, month=first, who=who, now=now))
        console.print(f"已导出到 {out}")
