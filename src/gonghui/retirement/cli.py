"""`gonghui retirement …`: the statutory age, the pension estimate and the impact report.

`age` and `pension` need no database. Their `--json` output is the API's answer, key for key,
so other tools can call either.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from gonghui.cli_support import CLI_ACTOR, console, fail, load_settings
from gonghui.core.clock import business_date, clock_from
from gonghui.core.db import engine_for, session_factory, transaction
from gonghui.core.errors import DomainError
from gonghui.core.money import format_fen
from gonghui.retirement import inputs, queries
from gonghui.retirement.display import CATEGORY_LABELS, age_text, month_text, years_text
from gonghui.retirement.export import impact_xlsx
from gonghui.retirement.schemas import AgeOut, PensionOut

app = typer.Typer(help="退休：渐进式延迟法定退休年龄、养老金估算与影响分析", no_args_is_help=True)

AS_JSON = typer.Option("--json", help="输出一个 JSON 对象（与 API 相同）")


@app.command("age")
def age(
    category: Annotated[str, typer.Option(help="人员类别：male、female55 或 female50")],
    birth: Annotated[str, typer.Option(help="出生年月，YYYY-MM")],
    as_json: Annotated[bool, AS_JSON] = False,
) -> None:
    """法定退休年龄、退休时间、弹性退休范围和最低缴费年限。"""
    try:
        decision = inputs.decision(category, birth)
    except DomainError as error:
        fail(error.message)
    if as_json:
        typer.echo(AgeOut.of(decision).model_dump_json())
        return
    table = Table(title="退休年龄测算", show_header=False)
    for label, value in (
        ("人员类别", CATEGORY_LABELS[decision.category]),
        ("出生年月", month_text(decision.birth)),
        ("原法定退休年龄", age_text(decision.original_age_months)),
        ("新法定退休年龄", age_text(decision.statutory_age_months)),
        ("延迟", f"{decision.delay_months}个月"),
        ("法定退休时间", month_text(decision.retirement_month)),
        ("弹性提前最早", month_text(decision.earliest_month)),
        ("弹性延迟最晚", month_text(decision.latest_month)),
        (
            "最低缴费年限",
            (
                f"{years_text(decision.min_contribution_months)}"
                f"（按{decision.retirement_month.year}年）"
            ),
        ),
    ):
        table.add_row(label, value)
    console.print(table)


@app.command("pension")
def pension(
    base: Annotated[str, typer.Option(help="计发基数（元/月）")],
    index: Annotated[str, typer.Option(help="本人平均缴费指数，如 1.0")],
    contribution_years: Annotated[str, typer.Option(help="累计缴费年限（含视同缴费），如 35")],
    account_balance: Annotated[str, typer.Option(help="个人账户储存额（元）")],
    age_months: Annotated[str, typer.Option(help="退休年龄（月），如 60岁 为 720")],
    as_json: Annotated[bool, AS_JSON] = False,
) -> None:
    """按国发〔2005〕38号估算基础养老金和个人账户养老金。"""
    try:
        estimate = inputs.pension(base, index, contribution_years, account_balance, age_months)
    except DomainError as error:
        fail(error.message)
    if as_json:
        typer.echo(PensionOut.of(estimate).model_dump_json())
        return
    table = Table(title=f"养老金估算（{age_text(estimate.age_months)}退休）", show_header=False)
    table.add_row("计发月数", str(estimate.divisor))
    table.add_row("基础养老金", format_fen(estimate.basic_pension_fen))
    table.add_row("个人账户养老金", format_fen(estimate.account_pension_fen))
    table.add_row("合计（月）", format_fen(estimate.total_fen))
    console.print(table)


@app.command("impact")
def impact(
    unit: Annotated[str, typer.Option(help="只统计该单位（统一社会信用代码）")] = "",
    out: Annotated[Path | None, typer.Option(dir_okay=False, help="另存为 XLSX 文件")] = None,
) -> None:
    """延迟退休影响分析：今后15年每年退休人数、延长工作月数、大龄在岗会员。"""
    if out is not None and out.suffix.lower() != ".xlsx":
        fail("输出文件名应以 .xlsx 结尾")
    settings = load_settings()
    engine = engine_for(settings)
    today = business_date(clock_from(settings).now())
    try:
        with transaction(session_factory(engine)) as session:
            scoped = queries.impact_for(session, CLI_ACTOR, today, unit_code=unit)
    except DomainError as error:
        fail(error.message)
    finally:
        engine.dispose()
    _print_impact(scoped)
    if out is not None:
        out.write_bytes(impact_xlsx(scoped))
        console.print(f"已导出到 {out}")


def _print_impact(scoped: queries.ScopedImpact) -> None:
    total = scoped.report.total
    console.print(
        f"延迟退休影响分析（{scoped.scope}，自{month_text(scoped.report.as_of)}起）：\n"
        f"在岗会员 {total.members} 人，受延迟影响 {total.affected} 人，"
        f"延长工作共 {total.extra_months} 个月，人均 {total.extra_months_per_member} 个月"
        f"（受影响会员人均 {total.extra_months_per_affected} 个月）；"
        f"未来12个月退休 {total.retiring_next_12_months} 人。",
        # A unit's name is data: kept whole on one line, never read as Rich markup.
        soft_wrap=True,
        markup=False,
        highlight=False,
    )
    table = Table(title="逐年")
    for header in ("年份", "达到原退休年龄", "按新规定退休", "年末在岗55岁以上", "其中60岁以上"):
        table.add_column(header, justify="right")
    for figures in total.years:
        table.add_row(
            str(figures.year),
            str(figures.reaching_original_age),
            str(figures.retiring_new),
            str(figures.aged_55_plus),
            str(figures.aged_60_plus),
        )
    console.print(table)
