from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gonghui.core.inputs import InputError, parse_month
from gonghui.insurance.rules import (
    BalancePoint,
    CardFacts,
    DayCount,
    Ineligibility,
    Period,
    PeriodKind,
    Terms,
    apply_group_minimum,
    average_daily_balance,
    decide_card,
    explain_balance,
    fen_days,
    following_period,
    period_containing,
)


def opened(day: date) -> CardFacts:
    return CardFacts(day, card_active=True, in_service=True, member_active=True, unit_enrolled=True)


JANUARY = Period(date(2025, 1, 1), date(2025, 1, 31))
GOOD = CardFacts(
    date(2020, 1, 1), card_active=True, in_service=True, member_active=True, unit_enrolled=True
)


def test_the_member_reads_why_in_words() -> None:
    assert (
        explain_balance(JANUARY, 185_032, 200_000)
        == "您2025年1月日均余额为¥1,850.32，未达到¥2,000.00"
    )
    assert explain_balance(JANUARY, 200_000, 200_000).endswith("已达到¥2,000.00")


def test_missing_days_carry_the_last_balance_forward() -> None:
    # 1,000 yuan from before the month, 3,000 from the 11th, 0 from the 21st: (10×1000 +
    # 10×3000 + 11×0) / 31 days = 1,290.32 yuan.
    points = [
        BalancePoint(date(2024, 12, 20), 100_000),
        BalancePoint(date(2025, 1, 11), 300_000),
        BalancePoint(date(2025, 1, 21), 0),
        BalancePoint(date(2025, 2, 3), 999_999),
    ]
    total = fen_days(points, JANUARY)
    assert total == 10 * 100_000 + 10 * 300_000
    assert average_daily_balance(total, 31) == 129_032


def test_days_before_the_first_record_count_zero_under_the_calendar_rule() -> None:
    points = [BalancePoint(date(2025, 1, 17), 620_000)]  # 15 days of 6,200 yuan
    decision = decide_card(
        opened(date(2025, 1, 17)),
        fen_days(points, JANUARY),
        JANUARY,
        Terms(),
    )
    assert (decision.average_fen, decision.days, decision.eligible) == (300_000, 31, True)


def test_the_card_days_rule_divides_by_the_days_the_card_existed() -> None:
    points = [BalancePoint(date(2025, 1, 17), 150_000)]
    facts = opened(date(2025, 1, 17))
    calendar = decide_card(facts, fen_days(points, JANUARY), JANUARY, Terms())
    card_days = decide_card(
        facts, fen_days(points, JANUARY), JANUARY, Terms(day_count=DayCount.CARD_DAYS)
    )
    assert (calendar.average_fen, calendar.eligible) == (72_581, False)  # 15×1500/31 = 725.806…
    assert (card_days.days, card_days.average_fen, card_days.eligible) == (15, 150_000, False)


def test_average_rounds_half_up_once() -> None:
    assert average_daily_balance(31 * 200_000 - 16, 31) == 199_999  # 199,999.48… → 199,999
    assert average_daily_balance(2 * 100_001 + 1, 2) == 100_002  # 100,001.5 → 100,002
    assert average_daily_balance(0, 0) == 0


def test_exactly_the_threshold_qualifies() -> None:
    assert decide_card(GOOD, 31 * 200_000, JANUARY, Terms()).eligible
    assert not decide_card(GOOD, 31 * 200_000 - 31, JANUARY, Terms()).eligible


def test_every_failed_condition_is_named() -> None:
    facts = CardFacts(
        date(2020, 1, 1),
        card_active=False,
        in_service=False,
        member_active=False,
        unit_enrolled=False,
    )
    decision = decide_card(facts, 0, JANUARY, Terms())
    assert set(decision.reasons) == {
        Ineligibility.BALANCE,
        Ineligibility.CARD_INACTIVE,
        Ineligibility.NOT_IN_SERVICE,
        Ineligibility.MEMBERSHIP,
        Ineligibility.UNIT_NOT_ENROLLED,
    }


def test_a_group_minimum_flags_units_with_too_few_passing_members() -> None:
    passing = {1: {10, 11, 12, 13, 14, 15}, 2: {20, 21}}
    assert apply_group_minimum(passing, 6) == {2}
    assert apply_group_minimum(passing, None) == set()


@pytest.mark.parametrize(
    ("day", "kind", "period"),
    [
        (date(2025, 2, 14), PeriodKind.MONTH, Period(date(2025, 2, 1), date(2025, 2, 28))),
        (date(2024, 2, 14), PeriodKind.MONTH, Period(date(2024, 2, 1), date(2024, 2, 29))),
        (date(2025, 5, 31), PeriodKind.QUARTER, Period(date(2025, 4, 1), date(2025, 6, 30))),
        (date(2025, 12, 1), PeriodKind.QUARTER, Period(date(2025, 10, 1), date(2025, 12, 31))),
        (date(2025, 7, 4), PeriodKind.YEAR, Period(date(2025, 1, 1), date(2025, 12, 31))),
    ],
)
def test_periods_are_calendar_months_quarters_and_years(
    day: date, kind: PeriodKind, period: Period
) -> None:
    assert period_containing(day, kind) == period


def test_coverage_follows_the_assessed_period() -> None:
    december = Period(date(2024, 12, 1), date(2024, 12, 31))
    assert following_period(december, PeriodKind.MONTH) == Period(
        date(2025, 1, 1), date(2025, 1, 31)
    )
    assert following_period(december, PeriodKind.MONTH, lag=2).start == date(2025, 2, 1)


@pytest.mark.parametrize("text", ["2025-13", "2025-1", "25-01", "2025/01", ""])
def test_a_bad_period_is_refused_in_chinese(text: str) -> None:
    with pytest.raises(InputError, match="YYYY-MM"):
        parse_month(text)


@given(
    st.lists(
        st.tuples(st.dates(date(2024, 11, 1), date(2025, 2, 28)), st.integers(0, 10**9)),
        max_size=40,
        unique_by=lambda point: point[0],
    )
)
def test_the_sum_equals_the_day_by_day_definition(raw: list[tuple[date, int]]) -> None:
    points = [BalancePoint(day, fen) for day, fen in raw]
    by_day = dict(raw)
    expected, carried = 0, 0
    for day in sorted(d for d in by_day if d < JANUARY.start):
        carried = by_day[day]
    for offset in range(31):
        day = date(2025, 1, 1 + offset)
        carried = by_day.get(day, carried)
        expected += carried
    assert fen_days(points, JANUARY) == expected
