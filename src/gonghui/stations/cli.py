"""`gonghui stations …`: import positions, run an evaluation."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from gonghui.cli_support import CLI_ACTOR, console, unit_of_work
from gonghui.core.clock import clock_from
from gonghui.stations import evaluation, imports

app = typer.Typer(help="工会服务阵地", no_args_is_help=True)


@app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
) -> None:
    """按模板导入阵地（XLSX 或 CSV）；有任何错误则逐行列出，不写入任何数据。"""
    with unit_of_work() as (session, settings):
        now = clock_from(settings).now()
        report = imports.import_positions(session, file.read_bytes(), actor=CLI_ACTOR, now=now)
    console.print(report.summary)


@app.command("evaluate")
def evaluate_command(
    period: Annotated[str, typer.Option(help="考核期间：YYYY-MM（月度）或 YYYY（年度）")],
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False,
) -> None:
    """对全部在运行的阵地按五个方面考核，亮红黄牌。"""
    with unit_of_work() as (session, settings):
        now = clock_from(settings).now()
        summary = evaluation.evaluate(session, period, actor=CLI_ACTOR, now=now)
    if as_json:
        console.print_json(json.dumps(asdict(summary)))
        return
    console.print(
        f"{summary.period} 考核完成：{summary.evaluated} 个阵地，达标 {summary.green}，"
        f"黄牌 {summary.yellow}，红牌 {summary.red}"
    )
