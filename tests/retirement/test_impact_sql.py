"""The set-based report (DuckDB over Arrow) equals the reference `impact_report`, figure for
figure, on random members and dates."""

from __future__ import annotations

from datetime import date

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from gonghui.members.queries import MemberProfile
from gonghui.members.rules import EmploymentStatus, PostType, Sex
from gonghui.retirement.impact import impact_report
from gonghui.retirement.impact_sql import (
    FACT_SCHEMA,
    MEMBER_SCHEMA,
    UNIT_SCHEMA,
    impact_report_sql,
)
from tests.retirement.test_impact import CAST, TODAY

UNITS = [
    (1, "甲机械厂", "CODE-A", "制造业"),
    (2, "乙建设公司", "CODE-B", "建筑业"),
    (3, "丙电子厂", "CODE-C", "制造业"),
    (4, "丁矿业", "CODE-D", "采矿业"),
    (5, "戊运输", "CODE-E", "交通运输业"),
]


def as_table(profiles: list[MemberProfile]) -> pa.Table:
    return pa.table(
        {name: [getattr(p, name) for p in profiles] for name in MEMBER_SCHEMA.names},
        schema=MEMBER_SCHEMA,
    )


# Births cluster around the bands' edges (the first affected cohorts, the caps) and the
# original ages' years around the horizon, plus anywhere in between.
edges = st.sampled_from(
    [date(y, m, 1) for y in (1964, 1965, 1969, 1970, 1974, 1975, 1980, 1981) for m in (1, 12)]
)
births = st.one_of(edges, st.dates(date(1950, 1, 1), date(2008, 12, 31)))
todays = st.one_of(
    st.sampled_from([date(2024, 12, 31), date(2025, 1, 1), date(2025, 12, 31), date(2026, 1, 1)]),
    st.dates(date(2015, 1, 1), date(2045, 12, 31)),
)


@st.composite
def memberships(draw: st.DrawFn) -> list[MemberProfile]:
    people = draw(
        st.lists(
            st.tuples(
                st.sampled_from(UNITS),
                births,
                st.sampled_from(list(Sex)),
                st.sampled_from(list(PostType)),
                st.sampled_from(list(EmploymentStatus)),
            ),
            max_size=60,
        )
    )
    # Member ids are unique, as on the roll.
    return [
        MemberProfile(member_id, unit_id, name, code, industry, born, sex, post, status)
        for member_id, ((unit_id, name, code, industry), born, sex, post, status) in enumerate(
            people, start=1
        )
    ]


def split(profiles: list[MemberProfile]) -> tuple[pa.Table, pa.Table]:
    """The members' own facts, and their units once each, as the roll hands them over."""
    members = pa.table(
        {name: [getattr(p, name) for p in profiles] for name in FACT_SCHEMA.names},
        schema=FACT_SCHEMA,
    )
    units = sorted({(p.unit_id, p.unit_name, p.unit_credit_code, p.industry) for p in profiles})
    columns = {name: [unit[i] for unit in units] for i, name in enumerate(UNIT_SCHEMA.names)}
    return members, pa.table(columns, schema=UNIT_SCHEMA)


@settings(max_examples=150, deadline=None)
@given(memberships(), todays)
def test_the_set_based_report_equals_the_reference(people, today) -> None:
    expected = impact_report(people, today)
    assert impact_report_sql(as_table(people), today) == expected
    members, units = split(people)
    assert impact_report_sql(members, today, units=units) == expected


def test_it_equals_the_reference_on_the_hand_worked_cast() -> None:
    report = impact_report_sql(as_table(CAST), TODAY)
    assert report == impact_report(CAST, TODAY)
    assert report.total.extra_months == 78


def test_an_empty_table_gives_an_empty_report() -> None:
    report = impact_report_sql(as_table([]), TODAY)
    assert report == impact_report([], TODAY)
