"""`gonghui banks …`: the federation's partner banks."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from gonghui.cli_support import CLI_ACTOR, console, fail, unit_of_work
from gonghui.core.clock import clock_from
from gonghui.core.inputs import InputError, parse_date
from gonghui.members import banks

banks_app = typer.Typer(help="合作银行", no_args_is_help=True)

Prefixes = Annotated[list[str], typer.Option("--prefix", help="会员卡号前缀（BIN），可重复")]


@banks_app.command("add")
def add(
    code: Annotated[str, typer.Option(help="银行代码，如 YTB")],
    name: Annotated[str, typer.Option(help="银行名称，如 烟台银行")],
    prefix: Prefixes = [],  # noqa: B006 - Typer reads a list option's default from here
) -> None:
    """登记合作银行及其会员卡号前缀。"""
    with unit_of_work() as (session, settings):
        bank = banks.register_bank(
            session,
            code=code,
            name=name,
            prefixes=prefix,
            actor=CLI_ACTOR,
            now=clock_from(settings).now(),
        )
    console.print(f"已登记合作银行 {bank.name}（{bank.code}）")


@banks_app.command("update")
def update(
    code: Annotated[str, typer.Option(help="银行代码")],
    name: Annotated[str | None, typer.Option(help="新名称")] = None,
    prefix: Annotated[
        list[str] | None, typer.Option("--prefix", help="卡号前缀（给出即整体替换），可重复")
    ] = None,
) -> None:
    """修改银行名称或卡号前缀（已登记的卡不受影响）。"""
    with unit_of_work() as (session, settings):
        bank = banks.bank_by_code(session, code)
        banks.update_bank(
            session,
            bank,
            name=bank.name if name is None else name,
            prefixes=banks.prefixes_of(session, bank.id) if prefix is None else prefix,
            actor=CLI_ACTOR,
            now=clock_from(settings).now(),
        )
    console.print(f"已更新 {bank.code}：{bank.name}")


@banks_app.command("retire")
def retire(
    code: Annotated[str, typer.Option(help="银行代码")],
    on: Annotated[str | None, typer.Option(help="停止合作日期 YYYY-MM-DD（默认今天）")] = None,
) -> None:
    """停止与银行的合作：不再登记新卡、令牌失效，历史数据保留。"""
    try:
        day = parse_date(on, "停止合作日期") if on else None
    except InputError as error:
        fail(str(error))
    with unit_of_work() as (session, settings):
        bank = banks.bank_by_code(session, code)
        banks.retire_bank(session, bank, day, actor=CLI_ACTOR, now=clock_from(settings).now())
        retired_on = bank.retired_on
    console.print(f"{bank.name}自 {retired_on} 起停止合作")


@banks_app.command("list")
def list_banks() -> None:
    """列出合作银行。"""
    with unit_of_work() as (session, _settings):
        views = banks.bank_views(session)
    table = Table(title="合作银行")
    for column in ("代码", "名称", "卡号前缀", "状态"):
        table.add_column(column)
    for view in views:
        state = "合作中" if view.active else f"自 {view.retired_on} 起停止合作"
        table.add_row(view.code, view.name, "、".join(view.prefixes) or "—", state)
    console.print(table)
