"""`gonghui pii`: which crypto scheme keeps the ID numbers, and moving them to the other."""

from __future__ import annotations

from typing import Annotated

import typer

from gonghui.cli_support import CLI_ACTOR, console, unit_of_work
from gonghui.core.clock import clock_from
from gonghui.core.settings import CryptoScheme
from gonghui.rekey import rekey, schemes_in_use

app = typer.Typer(help="身份证号的加密与检索哈希", no_args_is_help=True)

_LABELS = {CryptoScheme.DEFAULT: "AES-GCM / HMAC-SHA256", CryptoScheme.SM: "SM4-GCM / HMAC-SM3"}


@app.command("status")
def status() -> None:
    """各加密方案下保存的身份证号条数，以及当前配置（GONGHUI_CRYPTO）。"""
    with unit_of_work() as (session, settings):
        found = schemes_in_use(session)
    console.print(f"当前配置：{settings.crypto.value}（{_LABELS[settings.crypto]}）")
    for scheme in CryptoScheme:
        console.print(f"  {scheme.value}（{_LABELS[scheme]}）：{found[scheme]} 条")


@app.command("rekey")
def rekey_command(
    to: Annotated[CryptoScheme, typer.Option("--to", help="目标方案：sm 或 default")],
) -> None:
    """在一个事务中把全部身份证号重新加密、重算检索哈希；完成后请把 GONGHUI_CRYPTO 设为目标方案。"""
    with unit_of_work() as (session, settings):
        done = rekey(
            session,
            data_key=settings.data_key.get_secret_value(),
            to=to,
            actor=CLI_ACTOR,
            now=clock_from(settings).now(),
        )
    console.print(
        f"已转换 {done.rows} 条（{_LABELS[to]}）："
        + "，".join(f"{table} {count} 条" for table, count in done.by_table.items())
    )
    if settings.crypto is not to:
        console.print(f"[yellow]请将 GONGHUI_CRYPTO 设为 {to.value} 并重启服务[/yellow]")
