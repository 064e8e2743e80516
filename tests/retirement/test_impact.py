"""The impact report on hand-built members, as of 2025-02-10 (the horizon is 2025–2039).

Every expected figure below was worked out by hand from 办法 第一条 (the domain note's rule:
delay = min(n // step + 1, cap), n = months from the first affected birth month); the working is
in the comment beside each member.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gonghui.members.queries import MemberProfile
from gonghui.members.rules import EmploymentStatus, PostType, Sex
from gonghui.retirement.impact import HORIZON_YEARS, ImpactReport, YearFigures, impact_report
from gonghui.retirement.membership import category_of
from gonghui.retirement.rules import Category, Month, decide_retirement

TODAY = date(2025, 2, 10)
M, F = Sex.MALE, Sex.FEMALE
PROD, MGMT = PostType.PRODUCTION, PostType.MANAGEMENT_TECHNICAL
AT_WORK, EARLY, RETIRED = (
    EmploymentStatus.EMPLOYED,
    EmploymentStatus.EARLY_LEAVE,
    EmploymentStatus.RETIRED,
)
UNITS = {
    1: ("甲机械厂", "CODE-A", "制造业"),
    2: ("乙建设公司", "CODE-B", "建筑业"),
    3: ("丙电子厂", "CODE-C", "制造业"),
}


def profile(
    member_id: int,
    unit: int,
    born: str,
    sex: Sex,
    post: PostType = PROD,
    status: EmploymentStatus = AT_WORK,
) -> MemberProfile:
    name, code, industry = UNITS[unit]
    year, month, day = (int(part) for part in born.split("-"))
    return MemberProfile(
        member_id, unit, name, code, industry, date(year, month, day), sex, post, status
    )


CAST = [
    # male, 1965-03: n=2 → delay 1; original 2025-03, new 2025-04 (within 12 months).
    profile(1, 1, "1965-03-20", M),
    # male, 1970-06: n=65 → delay 17 (61岁5个月); original 2030-06, new 2031-11; 55 in 2025-06:
    # 55+ at the end of 2025…2030 (old rules: …2029); 60 in 2030-06: 60+ at the end of 2030.
    profile(3, 1, "1970-06-01", M),
    # retired: left out.
    profile(6, 1, "1962-08-08", M, status=RETIRED),
    # male, 1963-05: before the reform, statutory 2023-05, still on the roll as employed.
    profile(7, 1, "1963-05-05", M),
    # male, 1965-11: n=10 → delay 3; original 2025-11, new 2026-02 — exactly 12 months ahead,
    # so NOT in the next-12-months list; 60 in 2025-11 and at work in December: 60+ in 2025.
    profile(9, 1, "1965-11-30", M),
    # male, 1965-10: n=9 → delay 3; original 2025-10, new 2026-01 — the last month of the
    # list; 55+ and 60+ at the end of 2025.
    profile(10, 1, "1965-10-01", M),
    # female 管理技术岗, 1972-03: n=26 → delay 7; original 2027-03, new 2027-10.
    profile(2, 2, "1972-03-04", F, MGMT),
    # female 生产操作岗, 1976-07: n=18 → delay 10; original 2026-07, new 2027-05.
    profile(5, 2, "1976-07-15", F, PROD),
    # 内退 male, 1965-01: delay 1; original 2025-01, new 2025-02 — this month, in the list.
    profile(8, 2, "1965-01-31", M, status=EARLY),
    # male, 1980-01: n=180 → capped at 36; original 2040-01 (past the horizon), new 2043-01;
    # 55 in 2035-01: 55+ at the end of 2035…2039 under both rules.
    profile(4, 3, "1980-01-15", M),
]


@pytest.fixture(scope="module")
def report() -> ImpactReport:
    return impact_report(CAST, TODAY)


def years(figures: tuple[YearFigures, ...], field: str) -> dict[int, int]:
    """The non-zero values of one column, by year."""
    return {f.year: getattr(f, field) for f in figures if getattr(f, field)}


def test_the_report_starts_this_month_and_covers_fifteen_calendar_years(report) -> None:
    assert report.as_of == Month(2025, 2)
    assert [f.year for f in report.total.years] == list(range(2025, 2040))
    assert HORIZON_YEARS == 15


def test_retired_and_rehired_members_are_left_out_and_counted_apart(report) -> None:
    assert report.not_at_work == 1
    assert report.total.members == 9


def test_the_totals(report) -> None:
    total = report.total
    assert (total.members, total.affected, total.extra_months) == (9, 8, 78)
    assert total.extra_months_per_member == Decimal("8.7")  # 78 / 9 = 8.67
    assert total.extra_months_per_affected == Decimal("9.8")  # 78 / 8 = 9.75, half up
    assert total.past_retirement == 1
    assert total.retiring_next_12_months == 3


def test_members_reaching_the_original_age_against_the_new_dates_by_year(report) -> None:
    figures = report.total.years
    assert years(figures, "reaching_original_age") == {2025: 4, 2026: 1, 2027: 1, 2030: 1}
    assert years(figures, "retiring_new") == {2025: 2, 2026: 2, 2027: 2, 2031: 1}


def test_older_members_at_work_at_each_year_end(report) -> None:
    figures = report.total.years
    assert years(figures, "aged_55_plus") == {
        2025: 3,
        **dict.fromkeys(range(2026, 2031), 1),
        **dict.fromkeys(range(2035, 2040), 1),
    }
    assert years(figures, "aged_60_plus") == {2025: 2, 2030: 1}
    assert years(figures, "aged_55_plus_original") == {
        **dict.fromkeys(range(2025, 2030), 1),
        **dict.fromkeys(range(2035, 2040), 1),
    }


def test_units_most_affected_first_with_their_own_figures(report) -> None:
    assert [(g.key, g.name, g.industry) for g in report.by_unit] == [
        ("CODE-C", "丙电子厂", "制造业"),
        ("CODE-A", "甲机械厂", "制造业"),
        ("CODE-B", "乙建设公司", "建筑业"),
    ]
    c, a, b = report.by_unit
    assert (c.members, c.affected, c.extra_months, c.retiring_next_12_months) == (1, 1, 36, 0)
    assert (a.members, a.affected, a.extra_months, a.past_retirement) == (5, 4, 24, 1)
    assert (a.extra_months_per_member, a.extra_months_per_affected) == (
        Decimal("4.8"),
        Decimal("6.0"),
    )
    assert a.retiring_next_12_months == 2
    assert years(a.years, "reaching_original_age") == {2025: 3, 2030: 1}
    assert years(a.years, "retiring_new") == {2025: 1, 2026: 2, 2031: 1}
    assert (b.members, b.affected, b.extra_months, b.retiring_next_12_months) == (3, 3, 18, 1)
    assert years(b.years, "retiring_new") == {2025: 1, 2027: 2}
    assert years(b.years, "aged_55_plus") == {}


def test_industries_add_up_their_units(report) -> None:
    assert [(g.key, g.members, g.extra_months) for g in report.by_industry] == [
        ("制造业", 6, 60),
        ("建筑业", 3, 18),
    ]
    manufacturing = report.by_industry[0]
    assert manufacturing.extra_months_per_member == Decimal("10.0")
    assert manufacturing.extra_months_per_affected == Decimal("12.0")
    assert years(manufacturing.years, "aged_55_plus")[2035] == 1


def test_members_retiring_in_the_next_twelve_months_in_order(report) -> None:
    assert [
        (item.member_id, str(item.original_month), str(item.retirement_month), item.delay_months)
        for item in report.upcoming
    ] == [(8, "2025-01", "2025-02", 1), (1, "2025-03", "2025-04", 1), (10, "2025-10", "2026-01", 3)]
    first = report.upcoming[0]
    assert (first.unit_name, first.industry, first.category) == (
        "乙建设公司",
        "建筑业",
        Category.MALE,
    )
    assert first.birth == Month(1965, 1)


def test_members_of_one_cohort_count_each() -> None:
    cohort = [profile(i, 2, "1972-03-01", F, MGMT) for i in range(1, 4)]
    report = impact_report(cohort, TODAY)
    assert report.total.members == 3
    assert report.total.extra_months == 21
    assert years(report.total.years, "retiring_new") == {2027: 3}
    assert report.upcoming == ()


def test_an_empty_membership_gives_an_empty_report() -> None:
    report = impact_report([], TODAY)
    assert report.total.members == 0
    assert report.total.extra_months_per_member == Decimal("0.0")
    assert report.by_unit == report.by_industry == report.upcoming == ()
    assert all(f.retiring_new == 0 for f in report.total.years)


@pytest.mark.parametrize(
    ("sex", "post", "category"),
    [
        (M, PROD, Category.MALE),
        (M, MGMT, Category.MALE),
        (F, MGMT, Category.FEMALE55),
        (F, PROD, Category.FEMALE50),
    ],
)
def test_the_category_comes_from_sex_and_post(sex, post, category) -> None:
    assert category_of(sex, post) is category


# --- Property: the set-based report agrees with the definitions applied member by member.

members_strategy = st.lists(
    st.builds(
        profile,
        member_id=st.integers(1, 10**6),
        unit=st.sampled_from(list(UNITS)),
        born=st.dates(date(1955, 1, 1), date(2005, 12, 31)).map(date.isoformat),
        sex=st.sampled_from(list(Sex)),
        post=st.sampled_from(list(PostType)),
        status=st.sampled_from(list(EmploymentStatus)),
    ),
    max_size=40,
)


def _by_definition(people: list[MemberProfile], year: int) -> tuple[int, int, int, int]:
    """(reaching original age, retiring new, 55+ at work, 60+ at work) in ``year``, straight
    from the rule for each member, in the December of that year."""
    reaching = retiring = aged55 = aged60 = 0
    december = Month(year, 12).index
    for person in people:
        if person.employment_status not in {AT_WORK, EARLY}:
            continue
        birth = Month(person.birth_date.year, person.birth_date.month)
        decision = decide_retirement(category_of(person.sex, person.post_type), birth)
        reaching += birth.plus(decision.original_age_months).year == year
        retiring += decision.retirement_month.year == year
        at_work = december < decision.retirement_month.index
        age = december - birth.index
        aged55 += at_work and age >= 55 * 12
        aged60 += at_work and age >= 60 * 12
    return reaching, retiring, aged55, aged60


@settings(max_examples=60, deadline=None)
@given(members_strategy)
def test_the_report_agrees_with_the_rule_applied_member_by_member(people) -> None:
    report = impact_report(people, TODAY)
    for figures in report.total.years:
        assert _by_definition(people, figures.year) == (
            figures.reaching_original_age,
            figures.retiring_new,
            figures.aged_55_plus,
            figures.aged_60_plus,
        )
    assert sum(g.members for g in report.by_unit) == report.total.members
    assert sum(g.members for g in report.by_industry) == report.total.members
    assert sum(g.extra_months for g in report.by_unit) == report.total.extra_months
    assert report.total.members + report.not_at_work == len(people)
    assert len(report.upcoming) == report.total.retiring_next_12_months
