"""The reform's impact on the membership (延迟退休影响分析), computed from member profiles.

Pure: no database, no clock. The caller passes the profiles it may see and the business date.

What the figures mean (every count is of members at work, see ``membership.AT_WORK``):
- ``reaching_original_age``: members whose ORIGINAL retirement month (birth + 60/55/50 years)
  falls in the year; ``retiring_new``: those whose statutory month under the reform does.
- ``aged_55_plus`` / ``aged_60_plus``: members still at work in December of the year, aged at
  least 55 / 60 then, if everyone retires at the new statutory age; ``aged_55_plus_original``
  counts 55+ under the old ages (its 60+ twin would always be zero: under the old rules a man
  retires in the month he turns 60). These are the older workers for whom unions look for
  posts such as 质量检验、监督指导、设备维护.
- ``extra_months``: the reform's delay summed over the members; ``affected``: members with one.
- ``past_retirement``: members at work whose statutory month has already come (often a record
  that was not updated), ``retiring_next_12_months``: statutory month in this month or the
  next eleven.

ASSUMPTION: the membership stays as it is (no joiners, leavers or early and late retirement);
the report shows what the reform alone changes.

The work is set-based: members are first counted by (unit, employment status, sex, post, birth
month) in C, the rule runs once per distinct (sex, post, birth month) — a few thousand calls for
a million members — and each group's figures are sums of its cohorts' precomputed effects.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from itertools import accumulate, compress
from operator import add, attrgetter
from typing import Final, Protocol

from gonghui.core.inputs import Sex
from gonghui.members.rules import EmploymentStatus, PostType
from gonghui.retirement.membership import AT_WORK, category_of
from gonghui.retirement.rules import MONTHS_PER_YEAR, Category, Month, decide_retirement

HORIZON_YEARS: Final = 15
UPCOMING_MONTHS: Final = 12
_AGE_55: Final = 55 * MONTHS_PER_YEAR
_AGE_60: Final = 60 * MONTHS_PER_YEAR
_AVERAGE_STEP: Final = Decimal("0.1")


class ImpactProfile(Protocol):
    """What the report needs of a member; ``members.queries.MemberProfile`` has it."""

    @property
    def member_id(self) -> int: ...
    @property
    def unit_id(self) -> int: ...
    @property
    def unit_name(self) -> str: ...
    @property
    def unit_credit_code(self) -> str: ...
    @property
    def industry(self) -> str: ...
    @property
    def birth_date(self) -> date: ...
    @property
    def sex(self) -> Sex: ...
    @property
    def post_type(self) -> PostType: ...
    @property
    def employment_status(self) -> EmploymentStatus: ...


@dataclass(frozen=True)
class YearFigures:
    year: int
    reaching_original_age: int
    retiring_new: int
    aged_55_plus: int
    aged_60_plus: int
    aged_55_plus_original: int


@dataclass(frozen=True)
class GroupImpact:
    """The figures of one unit, one industry, or everything the report covers."""

    key: str  # the unit's credit code, the industry's name, or "" for the whole
    name: str
    industry: str  # a unit's industry; the industry itself for an industry; "" for the whole
    members: int
    affected: int
    extra_months: int
    past_retirement: int
    retiring_next_12_months: int
    years: tuple[YearFigures, ...]

    @property
    def extra_months_per_member(self) -> Decimal:
        return _average(self.extra_months, self.members)

    @property
    def extra_months_per_affected(self) -> Decimal:
        return _average(self.extra_months, self.affected)


@dataclass(frozen=True)
class UpcomingRetirement:
    member_id: int
    unit_name: str
    unit_credit_code: str
    industry: str
    category: Category
    birth: Month
    original_month: Month
    retirement_month: Month
    delay_months: int


@dataclass(frozen=True)
class ImpactReport:
    as_of: Month
    total: GroupImpact
    by_unit: tuple[GroupImpact, ...]
    by_industry: tuple[GroupImpact, ...]
    upcoming: tuple[UpcomingRetirement, ...]
    not_at_work: int  # retired or rehired members the report leaves out

    @property
    def first_year(self) -> int:
        return self.as_of.year


def _average(total: int, count: int) -> Decimal:
    if count == 0:
        return Decimal(0).quantize(_AVERAGE_STEP)
    return (Decimal(total) / count).quantize(_AVERAGE_STEP, rounding=ROUND_HALF_UP)


# --- One cohort: everyone with the same sex, post and birth month shares the outcome ----------

# A cohort is (sex, post type, birth year, birth month); its members' figures are all the same.
_Cohort = tuple[Sex, PostType, int, int]
_COHORT_KEY: Final = attrgetter("sex", "post_type", "birth_date.year", "birth_date.month")
_GROUP_KEY: Final = attrgetter(
    "unit_id", "employment_status", "sex", "post_type", "birth_date.year", "birth_date.month"
)

# Every figure of a group lives in one flat list of cells, so that adding a cohort is a few
# index updates and adding two groups is one element-wise sum.
_MEMBERS, _AFFECTED, _EXTRA, _PAST, _UPCOMING = range(5)
_REACHING = 5
_RETIRING = _REACHING + HORIZON_YEARS
# Difference arrays (+n in the first year a cohort counts, -n in the first year it stops),
# one cell longer than the horizon for the stops past its end.
_AGED_55 = _RETIRING + HORIZON_YEARS
_AGED_60 = _AGED_55 + HORIZON_YEARS + 1
_AGED_55_ORIGINAL = _AGED_60 + HORIZON_YEARS + 1
_CELLS = _AGED_55_ORIGINAL + HORIZON_YEARS + 1

# (cell, weight) pairs: adding n members of the cohort adds weight × n to each cell.
_Effect = tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class _Outcome:
    category: Category
    birth: int
    original: int  # month index of the original retirement month
    new: int  # month index of the statutory retirement month under the reform
    delay: int


def _outcome(cohort: _Cohort) -> _Outcome:
    sex, post_type, year, month = cohort
    category = category_of(sex, post_type)
    birth = Month(year, month)
    decision = decide_retirement(category, birth)
    original = birth.index + decision.original_age_months
    return _Outcome(
        category, birth.index, original, decision.retirement_month.index, decision.delay_months
    )


def _effect(outcome: _Outcome, as_of: Month) -> _Effect:
    first_year = as_of.year
    cells = [(_MEMBERS, 1), (_AFFECTED, 1 if outcome.delay else 0), (_EXTRA, outcome.delay)]
    if outcome.new < as_of.index:
        cells.append((_PAST, 1))
    if 0 <= outcome.new - as_of.index < UPCOMING_MONTHS:
        cells.append((_UPCOMING, 1))
    for base, month_index in ((_REACHING, outcome.original), (_RETIRING, outcome.new)):
        offset = month_index // MONTHS_PER_YEAR - first_year
        if 0 <= offset < HORIZON_YEARS:
            cells.append((base + offset, 1))
    # At work in December of year y means y < the retirement year; aged A or more then means
    # y >= the year of the month the member turns A.
    for base, age, retirement in (
        (_AGED_55, _AGE_55, outcome.new),
        (_AGED_60, _AGE_60, outcome.new),
        (_AGED_55_ORIGINAL, _AGE_55, outcome.original),
    ):
        start = max((outcome.birth + age) // MONTHS_PER_YEAR - first_year, 0)
        stop = min(retirement // MONTHS_PER_YEAR - first_year, HORIZON_YEARS)
        if start < stop:
            cells.extend(((base + start, 1), (base + stop, -1)))
    return tuple(cells)


def _freeze(cells: list[int], first_year: int, key: str, name: str, industry: str) -> GroupImpact:
    running = {
        base: list(accumulate(cells[base : base + HORIZON_YEARS]))
        for base in (_AGED_55, _AGED_60, _AGED_55_ORIGINAL)
    }
    years = tuple(
        YearFigures(
            year=first_year + offset,
            reaching_original_age=cells[_REACHING + offset],
            retiring_new=cells[_RETIRING + offset],
            aged_55_plus=running[_AGED_55][offset],
            aged_60_plus=running[_AGED_60][offset],
            aged_55_plus_original=running[_AGED_55_ORIGINAL][offset],
        )
        for offset in range(HORIZON_YEARS)
    )
    return GroupImpact(
        key=key,
        name=name,
        industry=industry,
        members=cells[_MEMBERS],
        affected=cells[_AFFECTED],
        extra_months=cells[_EXTRA],
        past_retirement=cells[_PAST],
        retiring_next_12_months=cells[_UPCOMING],
        years=years,
    )


# --- The report ----------


def impact_report(profiles: Sequence[ImpactProfile], today: date) -> ImpactReport:
    """The impact of the reform on ``profiles`` over the 15 years from ``today``'s year."""
    as_of = Month(today.year, today.month)
    # Counted in C (attrgetter, Counter): about a second for a million members on this machine.
    groups = Counter(map(_GROUP_KEY, profiles))
    units: dict[int, ImpactProfile] = dict(
        zip(map(attrgetter("unit_id"), profiles), profiles, strict=True)
    )
    outcomes: dict[_Cohort, _Outcome] = {}
    effects: dict[_Cohort, _Effect] = {}
    unit_cells: dict[int, list[int]] = {}
    not_at_work = 0
    for (unit_id, status, *cohort_key), count in groups.items():
        if status not in AT_WORK:
            not_at_work += count
            continue
        cohort: _Cohort = (cohort_key[0], cohort_key[1], cohort_key[2], cohort_key[3])
        effect = effects.get(cohort)
        if effect is None:
            outcomes[cohort] = _outcome(cohort)
            effect = effects[cohort] = _effect(outcomes[cohort], as_of)
        cells = unit_cells.get(unit_id)
        if cells is None:
            cells = unit_cells[unit_id] = [0] * _CELLS
        for cell, weight in effect:
            cells[cell] += weight * count
    upcoming = _upcoming(profiles, outcomes, as_of)
    return _assemble(as_of, unit_cells, units, upcoming, not_at_work)


def _upcoming(
    profiles: Sequence[ImpactProfile], outcomes: dict[_Cohort, _Outcome], as_of: Month
) -> tuple[UpcomingRetirement, ...]:
    """Members whose statutory month is this month or one of the next eleven, by month."""
    soon = {
        cohort
        for cohort, outcome in outcomes.items()
        if 0 <= outcome.new - as_of.index < UPCOMING_MONTHS
    }
    chosen = compress(profiles, map(soon.__contains__, map(_COHORT_KEY, profiles)))
    items = []
    for profile in chosen:
        if profile.employment_status not in AT_WORK:
            continue
        outcome = outcomes[_COHORT_KEY(profile)]
        items.append(
            UpcomingRetirement(
                member_id=profile.member_id,
                unit_name=profile.unit_name,
                unit_credit_code=profile.unit_credit_code,
                industry=profile.industry,
                category=outcome.category,
                birth=Month.from_index(outcome.birth),
                original_month=Month.from_index(outcome.original),
                retirement_month=Month.from_index(outcome.new),
                delay_months=outcome.delay,
            )
        )
    items.sort(key=lambda item: (item.retirement_month, item.unit_name, item.member_id))
    return tuple(items)


def _assemble(
    as_of: Month,
    unit_cells: dict[int, list[int]],
    units: dict[int, ImpactProfile],
    upcoming: tuple[UpcomingRetirement, ...],
    not_at_work: int,
) -> ImpactReport:
    industry_cells: dict[str, list[int]] = {}
    for unit_id, cells in unit_cells.items():
        industry = units[unit_id].industry
        industry_cells[industry] = list(map(add, industry_cells.get(industry, [0] * _CELLS), cells))
    total = [0] * _CELLS
    for cells in industry_cells.values():
        total = list(map(add, total, cells))
    first = as_of.year
    by_unit = [
        _freeze(
            cells,
            first,
            units[unit_id].unit_credit_code,
            units[unit_id].unit_name,
            units[unit_id].industry,
        )
        for unit_id, cells in unit_cells.items()
    ]
    by_industry = [
        _freeze(cells, first, name, name, name) for name, cells in industry_cells.items()
    ]
    return ImpactReport(
        as_of=as_of,
        total=_freeze(total, first, "", "全部", ""),
        by_unit=_most_affected_first(by_unit),
        by_industry=_most_affected_first(by_industry),
        upcoming=upcoming,
        not_at_work=not_at_work,
    )


def _most_affected_first(groups: list[GroupImpact]) -> tuple[GroupImpact, ...]:
    return tuple(sorted(groups, key=lambda group: (-group.extra_months, group.name, group.key)))
