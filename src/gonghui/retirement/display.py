"""How retirement figures read in Chinese, and the charts of the pages."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Final

from markupsafe import Markup

from gonghui.core.charts import Series, bar_chart, line_chart
from gonghui.core.money import FEN_PER_YUAN
from gonghui.retirement.impact import GroupImpact
from gonghui.retirement.rules import MONTHS_PER_YEAR, Category, Month, RetirementScenario

CATEGORY_LABELS: Final = {
    Category.MALE: "男职工（原法定退休年龄60周岁）",
    Category.FEMALE55: "女职工·管理技术岗（原55周岁）",
    Category.FEMALE50: "女职工·生产操作岗（原50周岁）",
}
CATEGORY_SHORT: Final = {
    Category.MALE: "男职工",
    Category.FEMALE55: "原55岁女职工",
    Category.FEMALE50: "原50岁女职工",
}


def age_text(months: int) -> str:
    """60岁, 60岁1个月."""
    years, rest = divmod(months, MONTHS_PER_YEAR)
    return f"{years}岁{rest}个月" if rest else f"{years}岁"


def years_text(months: int) -> str:
    """15年, 15年6个月, 6个月."""
    years, rest = divmod(months, MONTHS_PER_YEAR)
    if not years:
        return f"{rest}个月"
    return f"{years}年{rest}个月" if rest else f"{years}年"


def month_text(month: Month) -> str:
    return f"{month.year}年{month.month}月"


def offset_text(months: int) -> str:
    """How far a retirement month lies from the statutory one."""
    if months < 0:
        return f"提前{years_text(-months)}"
    if months > 0:
        return f"延后{years_text(months)}"
    return "法定退休时间"


def _yuan(fen: int) -> Decimal:
    # Chart coordinates only; the figures people read are formatted from fen.
    return Decimal(fen) / FEN_PER_YUAN


def _money_tick(value: float) -> str:
    return f"{value:,.0f}"


def pension_chart(scenarios: Sequence[RetirementScenario]) -> Markup:
    """Monthly pension by retirement month; months short of the minimum contribution years
    are a separate, red series, so they stand out without relying on the line alone."""
    labels = [str(scenario.retirement_month) for scenario in scenarios]
    meets = [_yuan(s.pension.total_fen) if s.meets_minimum else None for s in scenarios]
    short = [None if s.meets_minimum else _yuan(s.pension.total_fen) for s in scenarios]
    # A series with no value would only add a legend entry that matches nothing.
    series = [
        one
        for one in (
            Series("满足最低缴费年限", meets, color=1),
            Series("未满最低缴费年限", short, color=0),
        )
        if any(value is not None for value in one.values)
    ]
    return line_chart(
        "各退休时间的月养老金（估算）", labels, series, unit="元/月", value_format=_money_tick
    )


def retirements_chart(group: GroupImpact) -> Markup:
    years = [str(figures.year) for figures in group.years]
    series = [
        Series("达到原退休年龄", [f.reaching_original_age for f in group.years]),
        Series("按新规定退休", [f.retiring_new for f in group.years]),
    ]
    # With nobody in scope, "暂无数据" says more than an axis of zeros.
    return bar_chart(
        "每年退休人数：原退休年龄与新规定", years, series if group.members else [], unit="人"
    )


def older_workers_chart(group: GroupImpact) -> Markup:
    years = [str(figures.year) for figures in group.years]
    series = [
        Series("55岁以上（新规定）", [f.aged_55_plus for f in group.years]),
        Series("60岁以上（新规定）", [f.aged_60_plus for f in group.years]),
        Series("55岁以上（原规定）", [f.aged_55_plus_original for f in group.years]),
    ]
    return line_chart("年末在岗的大龄会员", years, series if group.members else [], unit="人")
