"""The impact report (``impact.impact_report``) computed set-based, in DuckDB, over an Arrow table.

``impact.py`` states the figures and stays the reference the tests hold this one to. Here the
members never become Python objects: the rule runs once per distinct (category, birth month)
present — about 2,300 calls for a million members — into a small decision table, and DuckDB joins
the members to it and computes every figure of every unit, industry and year in one pass. Only
the aggregated rows and the members retiring in the next 12 months come back to Python.
"""

from __future__ import annotations

import functools
import itertools
from datetime import date
from typing import Any, Final

import duckdb
import pyarrow as pa

from gonghui.members.rules import PostType, Sex
from gonghui.retirement.impact import (
    HORIZON_YEARS,
    UPCOMING_MONTHS,
    GroupImpact,
    ImpactReport,
    UpcomingRetirement,
    YearFigures,
)
from gonghui.retirement.membership import AT_WORK, category_of
from gonghui.retirement.rules import MONTHS_PER_YEAR, Category, Month, decide_retirement

MEMBER_SCHEMA: Final = pa.schema(
    [
        ("member_id", pa.int64()),
        ("unit_id", pa.int64()),
        ("unit_name", pa.string()),
        ("unit_credit_code", pa.string()),
        ("industry", pa.string()),
        ("birth_date", pa.date32()),
        ("sex", pa.string()),  # Sex values
        ("post_type", pa.string()),  # PostType values
        ("employment_status", pa.string()),  # EmploymentStatus values
    ]
)
"""The columns ``impact_report_sql`` reads; a member's ``member_id`` is unique."""

# Categories are joined on their position here: an integer key is cheaper than text.
_CATEGORIES: Final = list(Category)
_AGE_55: Final = 55 * MONTHS_PER_YEAR
_AGE_60: Final = 60 * MONTHS_PER_YEAR

# The members at work, each with the key of their decision (month index of birth).
_AT_WORK_SQL: Final = """
    SELECT m.member_id, m.unit_id, m.unit_name, m.unit_credit_code, m.industry, c.code,
           (year(m.birth_date) * 12 + month(m.birth_date) - 1)::INTEGER AS birth
    FROM members AS m JOIN categories AS c USING (sex, post_type)
    WHERE m.employment_status IN (SELECT status FROM at_work_statuses)
"""

_COHORTS_SQL: Final = f"SELECT DISTINCT code, birth FROM ({_AT_WORK_SQL})"  # noqa: S608

_NOT_AT_WORK_SQL: Final = """
    SELECT count(*) FROM members
    WHERE employment_status NOT IN (SELECT status FROM at_work_statuses)
"""


def _year_columns(prefix: str, condition: str) -> list[str]:
    """One count per year of the horizon; ``condition`` tests the year ``{y}``."""
    return [
        f"sum(({condition.format(y=f'$first + {offset}')})::INTEGER) AS {prefix}{offset}"
        for offset in range(HORIZON_YEARS)
    ]


# Per unit, the figures in the order ``_group`` reads them, as sums of 0/1 (twice as fast as
# FILTER clauses in DuckDB 2.0 here). "At work in December of year y" means y < the retirement
# year; "aged A or more then" means y >= the year the member turns A.
_FIGURES: Final = [
    "count(*) AS members",
    "sum((d.delay > 0)::INTEGER) AS affected",
    "sum(d.delay) AS extra_months",
    "sum((d.new < $as_of)::INTEGER) AS past",
    "sum((d.new >= $as_of AND d.new < $as_of + $upcoming)::INTEGER) AS upcoming",
    *_year_columns("reaching", "d.original_year = {y}"),
    *_year_columns("retiring", "d.new_year = {y}"),
    *_year_columns("aged55_", "d.year_55 <= {y} AND {y} < d.new_year"),
    *_year_columns("aged60_", "d.year_60 <= {y} AND {y} < d.new_year"),
    *_year_columns("aged55o_", "d.year_55 <= {y} AND {y} < d.original_year"),
]
_NAMES: Final = [figure.rsplit(" AS ", 1)[1] for figure in _FIGURES]

# Units, then their industries, then everything: industries add up their units (a unit counts
# under its own industry), as in the reference.
_GROUPS_SQL: Final = f"""
    WITH units AS (
        SELECT w.unit_id, min(w.unit_name) AS unit_name, min(w.unit_credit_code) AS code,
               min(w.industry) AS industry, {", ".join(_FIGURES)}
        FROM ({_AT_WORK_SQL}) AS w JOIN decisions AS d USING (code, birth)
        GROUP BY w.unit_id
    )
    SELECT grouping(unit_id, industry) AS level, unit_name, code, industry,
           {", ".join(f"coalesce(sum({name}), 0)::BIGINT" for name in _NAMES)}
    FROM units
    GROUP BY GROUPING SETS ((unit_id, unit_name, code, industry), (industry), ())
"""  # noqa: S608 - only this module's constants are interpolated

_UPCOMING_SQL: Final = f"""
    SELECT w.member_id, w.unit_name, w.unit_credit_code, w.industry, d.category, w.birth,
           d.original, d.new, d.delay
    FROM ({_AT_WORK_SQL}) AS w JOIN decisions AS d USING (code, birth)
    WHERE d.new >= $as_of AND d.new < $as_of + $upcoming
    ORDER BY d.new, w.unit_name, w.member_id
"""  # noqa: S608 - only this module's constants are interpolated

_UNIT, _INDUSTRY = 0, 2  # grouping(unit_id, industry): a bit per column left out


def impact_report_sql(members: pa.Table, today: date) -> ImpactReport:
    """``impact.impact_report`` over ``members`` (``MEMBER_SCHEMA``), computed in DuckDB."""
    as_of = Month(today.year, today.month)
    parameters = {"as_of": as_of.index, "first": as_of.year, "upcoming": UPCOMING_MONTHS}
    with duckdb.connect() as connection:
        connection.register("members", members.select(MEMBER_SCHEMA.names).cast(MEMBER_SCHEMA))
        connection.register("categories", _categories())
        connection.register(
            "at_work_statuses", pa.table({"status": sorted(status.value for status in AT_WORK)})
        )
        cohorts = connection.execute(_COHORTS_SQL).fetchall()
        connection.register("decisions", _decisions(cohorts))
        groups = connection.execute(_GROUPS_SQL, parameters).fetchall()
        upcoming = connection.execute(
            _UPCOMING_SQL, {"as_of": as_of.index, "upcoming": UPCOMING_MONTHS}
        ).fetchall()
        not_at_work = connection.execute(_NOT_AT_WORK_SQL).fetchall()[0][0]
    return _assemble(as_of, groups, upcoming, not_at_work)


def _categories() -> pa.Table:
    pairs = list(itertools.product(Sex, PostType))
    return pa.table(
        {
            "sex": [sex.value for sex, _ in pairs],
            "post_type": [post.value for _, post in pairs],
            "code": pa.array(
                [_CATEGORIES.index(category_of(sex, post)) for sex, post in pairs], pa.int8()
            ),
        }
    )


def _decisions(cohorts: list[tuple[Any, ...]]) -> pa.Table:
    """The rule's outcome for each (category, birth month index) present, with the years the
    report's figures test."""
    columns: dict[str, list[Any]] = {
        name: []
        for name in (
            "code",
            "category",
            "birth",
            "original",
            "new",
            "delay",
            "original_year",
            "new_year",
            "year_55",
            "year_60",
        )
    }
    for code, birth in cohorts:
        category = _CATEGORIES[code]
        decision = decide_retirement(category, Month.from_index(birth))
        original = birth + decision.original_age_months
        new = decision.retirement_month.index
        for name, value in (
            ("code", code),
            ("category", category.value),
            ("birth", birth),
            ("original", original),
            ("new", new),
            ("delay", decision.delay_months),
            ("original_year", original // MONTHS_PER_YEAR),
            ("new_year", new // MONTHS_PER_YEAR),
            ("year_55", (birth + _AGE_55) // MONTHS_PER_YEAR),
            ("year_60", (birth + _AGE_60) // MONTHS_PER_YEAR),
        ):
            columns[name].append(value)
    schema = pa.schema(
        [("code", pa.int8()), ("category", pa.string())]
        + [(name, pa.int32()) for name in list(columns)[2:]]
    )
    return pa.table(columns, schema=schema)


def _group(
    row: tuple[Any, ...], first_year: int, key: str, name: str, industry: str
) -> GroupImpact:
    members, affected, extra, past, upcoming, *by_year = row
    columns = [
        by_year[start : start + HORIZON_YEARS]
        for start in range(0, 5 * HORIZON_YEARS, HORIZON_YEARS)
    ]
    reaching, retiring, aged_55, aged_60, aged_55_original = columns
    return GroupImpact(
        key=key,
        name=name,
        industry=industry,
        members=members,
        affected=affected,
        extra_months=extra,
        past_retirement=past,
        retiring_next_12_months=upcoming,
        years=tuple(
            YearFigures(first_year + offset, *figures)
            for offset, figures in enumerate(
                zip(reaching, retiring, aged_55, aged_60, aged_55_original, strict=True)
            )
        ),
    )


def _assemble(
    as_of: Month,
    groups: list[tuple[Any, ...]],
    upcoming: list[tuple[Any, ...]],
    not_at_work: int,
) -> ImpactReport:
    first = as_of.year
    by_unit, by_industry = [], []
    total = _group((0,) * len(_NAMES), first, "", "全部", "")
    for level, unit_name, code, industry, *figures in groups:
        if level == _UNIT:
            by_unit.append(_group(tuple(figures), first, code, unit_name, industry))
        elif level == _INDUSTRY:
            by_industry.append(_group(tuple(figures), first, industry, industry, industry))
        else:
            total = _group(tuple(figures), first, "", "全部", "")
    month = functools.cache(Month.from_index)
    return ImpactReport(
        as_of=as_of,
        total=total,
        by_unit=_most_affected_first(by_unit),
        by_industry=_most_affected_first(by_industry),
        upcoming=tuple(
            UpcomingRetirement(
                member_id=member_id,
                unit_name=unit_name,
                unit_credit_code=code,
                industry=industry,
                category=Category(category),
                birth=month(birth),
                original_month=month(original),
                retirement_month=month(new),
                delay_months=delay,
            )
            for member_id, unit_name, code, industry, category, birth, original, new, delay in (
                upcoming
            )
        ),
        not_at_work=not_at_work,
    )


def _most_affected_first(groups: list[GroupImpact]) -> tuple[GroupImpact, ...]:
    return tuple(sorted(groups, key=lambda group: (-group.extra_months, group.name, group.key)))
