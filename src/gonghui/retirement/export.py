"""The impact report as an XLSX workbook, one sheet per view of the page."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from gonghui.core.tabular import Sheet, write_workbook
from gonghui.retirement.display import CATEGORY_SHORT, month_text
from gonghui.retirement.impact import GroupImpact, ImpactReport
from gonghui.retirement.queries import ScopedImpact

YEAR_HEADERS: Final = (
    "年份",
    "达到原退休年龄人数",
    "按新规定退休人数",
    "年末在岗55岁以上（新规定）",
    "年末在岗60岁以上（新规定）",
    "年末在岗55岁以上（原规定）",
)
GROUP_HEADERS: Final = (
    "在岗会员",
    "受延迟影响人数",
    "延长工作月数合计",
    "人均延长月数（全部在岗会员）",
    "人均延长月数（受影响会员）",
    "已达法定退休年龄仍在岗",
    "未来12个月退休",
)
UPCOMING_HEADERS: Final = (
    "会员编号",
    "单位",
    "统一社会信用代码",
    "行业",
    "人员类别",
    "出生年月",
    "原退休时间",
    "新退休时间",
    "延迟月数",
)
NOTE: Final = (
    "说明：按会员名册中的出生年月、性别和岗位类型，依《国务院关于渐进式延迟法定退休年龄的办法》"
    "测算；假定会员均在法定退休年龄退休，名册人员不变；不含已退休、返聘会员；"
    "女职工按岗位类型区分原50周岁与原55周岁；特殊工种等国家另有规定的情形未单独计算。"
)


def impact_xlsx(scoped: ScopedImpact) -> bytes:
    report = scoped.report
    # Credit codes and months go out as text cells (str), so that Excel keeps them as written.
    return write_workbook(
        [
            Sheet("概况", ("项目", "数值"), _overview(scoped)),
            Sheet("逐年", YEAR_HEADERS, _year_rows(report.total)),
            Sheet(
                "按单位",
                ("单位", "统一社会信用代码", "行业", *GROUP_HEADERS),
                ([g.name, g.key, g.industry, *_group_cells(g)] for g in report.by_unit),
            ),
            Sheet(
                "按行业",
                ("行业", *GROUP_HEADERS),
                ([g.name, *_group_cells(g)] for g in report.by_industry),
            ),
            Sheet(
                "单位逐年",
                ("单位", "统一社会信用代码", *YEAR_HEADERS),
                ([g.name, g.key, *row] for g in report.by_unit for row in _year_rows(g)),
            ),
            Sheet(
                "行业逐年",
                ("行业", *YEAR_HEADERS),
                ([g.name, *row] for g in report.by_industry for row in _year_rows(g)),
            ),
            Sheet("未来12个月退休", UPCOMING_HEADERS, _upcoming_rows(report)),
        ]
    )


def _overview(scoped: ScopedImpact) -> list[list[object]]:
    total = scoped.report.total
    return [
        ["统计范围", scoped.scope],
        ["统计起始月份", month_text(scoped.report.as_of)],
        *(
            [header, value]
            for header, value in zip(GROUP_HEADERS, _group_cells(total), strict=True)
        ),
        ["未计入（已退休、返聘）", scoped.report.not_at_work],
        ["说明", NOTE],
    ]


def _group_cells(group: GroupImpact) -> list[object]:
    # Averages go out as numbers with one decimal, so the sheet can sum and sort them.
    return [
        group.members,
        group.affected,
        group.extra_months,
        float(group.extra_months_per_member),
        float(group.extra_months_per_affected),
        group.past_retirement,
        group.retiring_next_12_months,
    ]


def _year_rows(group: GroupImpact) -> list[list[object]]:
    return [
        [
            f.year,
            f.reaching_original_age,
            f.retiring_new,
            f.aged_55_plus,
            f.aged_60_plus,
            f.aged_55_plus_original,
        ]
        for f in group.years
    ]


def _upcoming_rows(report: ImpactReport) -> Iterable[list[object]]:
    for item in report.upcoming:
        yield [
            item.member_id,
            item.unit_name,
            item.unit_credit_code,
            item.industry,
            CATEGORY_SHORT[item.category],
            str(item.birth),
            str(item.original_month),
            str(item.retirement_month),
            item.delay_months,
        ]
