"""The impact report (``impact.impact_report``) computed set-based, in DuckDB, over Arrow tables.

``impact.py`` states the figures and stays the reference the tests hold this one to. Here the
members never become Python objects: the rule runs once per distinct (category, birth month)
present — about 1,700 calls for a million members — into a small decision table, and DuckDB
joins the members to it. Only aggregated rows and the members retiring in the next 12 months
come back to Python.

Why it is shaped the way it is (measured on a million members, 2 cores):
- A unit's name, credit code and industry can come in a units table (``UNIT_SCHEMA``) instead
  of three text columns repeated on every member: building those three columns from Python
  objects cost about as much as the whole DuckDB side.
- The 75 yearly figures of a member depend only on the years of a few events (reaching the
  original age, retiring, turning 55 and 60), so the ~1,700 decisions share ~80 "signatures"
  of yearly effects. The members are counted per (unit, signature) first — ~130,000 rows — and
  only those counts are spread over the yearly cells, as difference arrays summed up in Python
  (``impact._effect`` does the same per cohort). Evaluating 75 conditional sums per member
  instead took about four times as long (0.6 s against 0.15 s).
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable
from datetime import date
from itertools import accumulate
from operator import add
from typing import Any, Final

import duckdb
import pyarrow as pa

from gonghui.core.inputs import Sex
from gonghui.members.rules import PostType
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

UNIT_SCHEMA: Final = pa.schema(
    [
        ("unit_id", pa.int64()),
        ("unit_name", pa.string()),
        ("unit_credit_code", pa.string()),
        ("industry", pa.string()),
    ]
)
"""A unit as the report shows it; ``unit_id`` is unique."""

FACT_SCHEMA: Final = pa.schema(
    [
        ("member_id", pa.int64()),
        ("unit_id", pa.int64()),
        ("birth_date", pa.date32()),
        ("sex", pa.string()),  # Sex values
        ("post_type", pa.string()),  # PostType values
        ("employment_status", pa.string()),  # EmploymentStatus values
    ]
)
"""What the report needs of a member when their units are handed over apart (``UNIT_SCHEMA``);
``member_id`` is unique."""

MEMBER_SCHEMA: Final = pa.schema(
    # members.queries' column order
    [*list(FACT_SCHEMA)[:2], *list(UNIT_SCHEMA)[1:], *list(FACT_SCHEMA)[2:]]
)
"""A member with their unit's columns in one table (the tests' and small callers' form; the
roll hands members and units over apart, ``members.queries.member_profile_columns``)."""

# Categories are joined on their position here: an integer key is cheaper than text.
_CATEGORIES: Final = list(Category)
# Calling the enum on its value costs microseconds per member of the next-12-months list.
_CATEGORY_OF_VALUE: Final = {category.value: category for category in Category}
_AGE_55: Final = 55 * MONTHS_PER_YEAR
_AGE_60: Final = 60 * MONTHS_PER_YEAR

# The cells of a unit's figures, as in ``impact.py``: five counts, then per year of the horizon
# the members reaching the original age and those retiring under the reform, then three
# difference arrays (+n in the first year a member counts, -n in the first year they stop),
# one cell longer than the horizon for the stops past its end.
_MEMBERS: Final = 0
_BASE_FIGURES: Final = 5  # members, affected, extra months, past retirement, next 12 months
_REACHING: Final = _BASE_FIGURES
_RETIRING: Final = _REACHING + HORIZON_YEARS
_AGED_55: Final = _RETIRING + HORIZON_YEARS
_AGED_60: Final = _AGED_55 + HORIZON_YEARS + 1
_AGED_55_ORIGINAL: Final = _AGED_60 + HORIZON_YEARS + 1
_CELLS: Final = _AGED_55_ORIGINAL + HORIZON_YEARS + 1

# The members at work, each with the key of their decision (month index of birth). Materialised
# once: the cohorts, the counts and the next-12-months list all read it.
_AT_WORK_SQL: Final = """
    CREATE TEMPORARY TABLE at_work AS
    SELECT m.member_id, m.unit_id, c.code,
           (year(m.birth_date) * 12 + month(m.birth_date) - 1)::INTEGER AS birth
    FROM members AS m JOIN categories AS c USING (sex, post_type)
    WHERE m.employment_status IN (SELECT status FROM at_work_statuses)
"""

_COHORTS_SQL: Final = "SELECT DISTINCT code, birth FROM at_work"

# Members per (unit, signature), with the figures that vary within a signature summed.
_UNIT_COHORTS_SQL: Final = """
    CREATE TEMPORARY TABLE unit_cohorts AS
    SELECT w.unit_id, d.signature, count(*) AS members,
           sum((d.delay > 0)::INTEGER) AS affected, sum(d.delay) AS extra_months,
           sum(d.past::INTEGER) AS past, sum(d.upcoming::INTEGER) AS upcoming
    FROM at_work AS w JOIN decisions AS d USING (code, birth)
    GROUP BY w.unit_id, d.signature
"""

_UNITS_SQL: Final = """
    SELECT c.unit_id, u.unit_name, u.unit_credit_code, u.industry,
           sum(c.members)::BIGINT, sum(c.affected)::BIGINT, sum(c.extra_months)::BIGINT,
           sum(c.past)::BIGINT, sum(c.upcoming)::BIGINT
    FROM unit_cohorts AS c JOIN units AS u USING (unit_id)
    GROUP BY c.unit_id, u.unit_name, u.unit_credit_code, u.industry
"""

# Each unit's yearly cells that are not zero.
_YEARLY_SQL: Final = """
    SELECT c.unit_id, e.cell, sum(c.members * e.weight)::BIGINT AS n
    FROM unit_cohorts AS c JOIN effects AS e USING (signature)
    GROUP BY c.unit_id, e.cell
"""

_UPCOMING_SQL: Final = """
    SELECT w.member_id, u.unit_name, u.unit_credit_code, u.industry, d.category, w.birth,
           d.original, d.new, d.delay
    FROM at_work AS w
        JOIN (SELECT * FROM decisions WHERE upcoming) AS d USING (code, birth)
        JOIN units AS u USING (unit_id)
    ORDER BY d.new, u.unit_name, w.member_id
"""

# Without a units table, a unit's columns come from its members (they all carry the same).
_UNITS_FROM_MEMBERS_SQL: Final = """
    CREATE TEMPORARY TABLE units AS
    SELECT unit_id, min(unit_name) AS unit_name, min(unit_credit_code) AS unit_credit_code,
           min(industry) AS industry
    FROM profiles GROUP BY unit_id
"""


def impact_report_sql(
    members: pa.Table, today: date, *, units: pa.Table | None = None
) -> ImpactReport:
    """``impact.impact_report`` over ``members``, computed in DuckDB.

    ``members`` has ``MEMBER_SCHEMA``'s columns, or only ``FACT_SCHEMA``'s when ``units``
    (``UNIT_SCHEMA``) is given; it must then hold every unit of the members.
    """
    as_of = Month(today.year, today.month)
    with duckdb.connect() as connection:
        connection.register("members", members.select(FACT_SCHEMA.names).cast(FACT_SCHEMA))
        if units is None:
            connection.register("profiles", members.select(UNIT_SCHEMA.names).cast(UNIT_SCHEMA))
            connection.execute(_UNITS_FROM_MEMBERS_SQL)
        else:
            connection.register("units", units.select(UNIT_SCHEMA.names).cast(UNIT_SCHEMA))
        connection.register("categories", _categories())
        connection.register(
            "at_work_statuses", pa.table({"status": sorted(status.value for status in AT_WORK)})
        )
        connection.execute(_AT_WORK_SQL)
        decisions, effects = _decisions(connection.execute(_COHORTS_SQL).fetchall(), as_of)
        connection.register("decisions", decisions)
        connection.register("effects", effects)
        connection.execute(_UNIT_COHORTS_SQL)
        unit_rows = connection.execute(_UNITS_SQL).fetchall()
        # ~150,000 rows: three integer columns through Arrow are cheaper than as tuples.
        yearly = [column.to_pylist() for column in connection.sql(_YEARLY_SQL).to_arrow_table()]
        upcoming = connection.execute(_UPCOMING_SQL).fetchall()
    return _assemble(as_of, unit_rows, yearly, upcoming, members.num_rows)


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


def _yearly_effect(birth: int, original: int, new: int, first_year: int) -> tuple[int, ...]:
    """The yearly cells a member of this cohort adds to, as (cell, weight) pairs flattened;
    mirrors ``impact._effect``."""
    cells: list[int] = []
    for base, month_index in ((_REACHING, original), (_RETIRING, new)):
        offset = month_index // MONTHS_PER_YEAR - first_year
        if 0 <= offset < HORIZON_YEARS:
            cells.extend((base + offset, 1))
    # At work in December of year y means y < the retirement year; aged A or more then means
    # y >= the year of the month the member turns A.
    for base, age, retirement in (
        (_AGED_55, _AGE_55, new),
        (_AGED_60, _AGE_60, new),
        (_AGED_55_ORIGINAL, _AGE_55, original),
    ):
        start = max((birth + age) // MONTHS_PER_YEAR - first_year, 0)
        stop = min(retirement // MONTHS_PER_YEAR - first_year, HORIZON_YEARS)
        if start < stop:
            cells.extend((base + start, 1, base + stop, -1))
    return tuple(cells)


def _decisions(cohorts: Iterable[tuple[Any, ...]], as_of: Month) -> tuple[pa.Table, pa.Table]:
    """The rule's outcome for each (category, birth month index) present, with the signature
    of its yearly effect; and each signature's (cell, weight) pairs."""
    names = ("code", "category", "birth", "original", "new", "delay", "past", "upcoming")
    columns: dict[str, list[Any]] = {name: [] for name in (*names, "signature")}
    signatures: dict[tuple[int, ...], int] = {}
    for code, birth in cohorts:
        category = _CATEGORIES[code]
        decision = decide_retirement(category, Month.from_index(birth))
        original = birth + decision.original_age_months
        new = decision.retirement_month.index
        effect = _yearly_effect(birth, original, new, as_of.year)
        values = (
            code,
            category.value,
            birth,
            original,
            new,
            decision.delay_months,
            new < as_of.index,
            0 <= new - as_of.index < UPCOMING_MONTHS,
            signatures.setdefault(effect, len(signatures)),
        )
        for name, value in zip(columns, values, strict=True):
            columns[name].append(value)
    kinds = (pa.int8(), pa.string(), *(pa.int32(),) * 4, pa.bool_(), pa.bool_(), pa.int32())
    decisions = pa.table(columns, schema=pa.schema(list(zip(columns, kinds, strict=True))))
    pairs = [
        (signature, effect[i], effect[i + 1])
        for effect, signature in signatures.items()
        for i in range(0, len(effect), 2)
    ]
    effects = pa.table(
        {
            "signature": pa.array([signature for signature, _, _ in pairs], pa.int32()),
            "cell": pa.array([cell for _, cell, _ in pairs], pa.int32()),
            "weight": pa.array([weight for _, _, weight in pairs], pa.int32()),
        }
    )
    return decisions, effects


def _freeze(cells: list[int], first_year: int, key: str, name: str, industry: str) -> GroupImpact:
    members, affected, extra, past, upcoming = cells[:_BASE_FIGURES]
    aged_55, aged_60, aged_55_original = (
        list(accumulate(cells[base : base + HORIZON_YEARS]))
        for base in (_AGED_55, _AGED_60, _AGED_55_ORIGINAL)
    )
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
            YearFigures(
                first_year + offset,
                cells[_REACHING + offset],
                cells[_RETIRING + offset],
                aged_55[offset],
                aged_60[offset],
                aged_55_original[offset],
            )
            for offset in range(HORIZON_YEARS)
        ),
    )


def _unit_cells(unit_rows: list[tuple[Any, ...]], yearly: list[list[int]]) -> dict[int, list[int]]:
    """Each unit's cells: its five counts, then its yearly cells (DuckDB sends only those that
    are not zero)."""
    cells_of = {row[0]: [*row[4:], *[0] * (_CELLS - _BASE_FIGURES)] for row in unit_rows}
    for unit_id, cell, count in zip(*yearly, strict=True):
        cells_of[unit_id][cell] = count
    return cells_of


def _assemble(
    as_of: Month,
    unit_rows: list[tuple[Any, ...]],
    yearly: list[list[int]],
    upcoming: list[tuple[Any, ...]],
    members: int,
) -> ImpactReport:
    first = as_of.year
    cells_of = _unit_cells(unit_rows, yearly)
    by_unit = []
    # Industries and the whole add up their units (a unit counts under its own industry).
    industry_cells: dict[str, list[int]] = {}
    for unit_id, unit_name, code, industry, *_ in unit_rows:
        cells = cells_of[unit_id]
        by_unit.append(_freeze(cells, first, code, unit_name, industry))
        industry_cells[industry] = list(map(add, industry_cells.get(industry, [0] * _CELLS), cells))
    total = [0] * _CELLS
    for cells in industry_cells.values():
        total = list(map(add, total, cells))
    by_industry = [
        _freeze(cells, first, industry, industry, industry)
        for industry, cells in industry_cells.items()
    ]
    return ImpactReport(
        as_of=as_of,
        total=_freeze(total, first, "", "全部", ""),
        by_unit=_most_affected_first(by_unit),
        by_industry=_most_affected_first(by_industry),
        upcoming=_upcoming(upcoming),
        # Every member on the roll is at work (counted) or not (left out): no need for
        # another pass over the members to count the latter.
        not_at_work=members - total[_MEMBERS],
    )


def _upcoming(rows: list[tuple[Any, ...]]) -> tuple[UpcomingRetirement, ...]:
    month = functools.cache(Month.from_index)
    return tuple(
        UpcomingRetirement(
            member_id=member_id,
            unit_name=unit_name,
            unit_credit_code=code,
            industry=industry,
            category=_CATEGORY_OF_VALUE[category],
            birth=month(birth),
            original_month=month(original),
            retirement_month=month(new),
            delay_months=delay,
        )
        for member_id, unit_name, code, industry, category, birth, original, new, delay in rows
    )


def _most_affected_first(groups: list[GroupImpact]) -> tuple[GroupImpact, ...]:
    return tuple(sorted(groups, key=lambda group: (-group.extra_months, group.name, group.key)))
