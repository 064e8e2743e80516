"""`gonghui audit`: verify the chain, purge past the retention period."""

from __future__ import annotations

from typing import Annotated

import typer

from gonghui.cli_support import CLI_ACTOR, console, fail, unit_of_work
from gonghui.core import audit, audit_chain
from gonghui.core.clock import clock_from

app = typer.Typer(help="审计日志", no_args_is_help=True)


@app.command("verify")
def verify() -> None:
    """逐条校验审计链；发现断裂时指出第一条不符的记录并以非零状态退出。"""
    with unit_of_work() as (session, _settings):
        verdict = audit_chain.verify(session)
    if not verdict.ok:
        where = f"审计记录 #{verdict.broken_at}" if verdict.broken_at is not None else "链尾"
        fail(f"审计链断裂：{where}：{verdict.reason}（此前 {verdict.checked} 条完好）")
    console.print(f"审计链完好：已校验 {verdict.checked} 条")


@app.command("purge")
def purge(
    keep_days: Annotated[
        int | None, typer.Option(help="保留天数（不少于180天；默认取 GONGHUI_AUDIT_KEEP_DAYS）")
    ] = None,
) -> None:
    """清理超过保留期的审计记录（链首部分），并记下检查点，使其余部分仍可校验。"""
    with unit_of_work() as (session, settings):
        now = clock_from(settings).now()
        days = keep_days if keep_days is not None else settings.audit_keep_days
        try:
            anchor = audit_chain.purge(
                session, now=now, keep_days=days, actor_label=audit.label_of(CLI_ACTOR)
            )
        except (audit_chain.RetentionTooShortError, audit_chain.ChainBrokenError) as error:
            fail(str(error))
    if anchor is None:
        console.print("没有超过保留期的审计记录")
        return
    console.print(f"已清理 {anchor.purged} 条审计记录（至链序号 {anchor.through_seq}）")
