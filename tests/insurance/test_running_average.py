"""The running average a member reads on the home page, and the amount a day that keeps the
month above the line."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from gonghui.insurance.rules import (
    BalancePoint,
    CardFacts,
    DayCount,
    Period,
    PeriodKind,
    Terms,
    decide_card,
    fen_days,
    period_containing,
    running_average,
    running_average_words,
)

TERMS = Terms()
LONG_AGO = date(2020, 1, 1)


def test_the_issue_example_reads_as_the_member_sees_it() -> None:
    # March 2025 has 31 days. Ten days at ¥1,640 so far; ¥2,000 × 31 − ¥16,400 = ¥45,600
    # over the 21 days left (the 11th to the 31st) is ¥2,171.43 once the average's own
    # half-up rounding is allowed for.
    standing = running_average(164_000 * 10, date(2025, 3, 11), LONG_AGO, TERMS)
    assert standing.through == date(2025, 3, 10)
    assert standing.average_fen == 164_000
    assert standing.remaining_days == 21
    assert standing.needed_daily_fen == 217_143
    assert standing.needed_daily_fen == -(-(2 * 31 * 200_000 - 31 - 2 * 1_640_000) // (2 * 21))
    assert running_average_words(standing, TERMS.threshold_fen) == (
        "本月截至昨日日均 ¥1,640.00，月底前每天保持 ¥2,171.43 即可达标"
    )


def test_a_month_already_above_the_line_whatever_follows_says_so() -> None:
    standing = running_average(1_000_000 * 20, date(2025, 3, 21), LONG_AGO, TERMS)
    assert standing.assured
    assert "本月已确定达标" in running_average_words(standing, TERMS.threshold_fen)


def test_on_the_first_day_nothing_is_counted_and_the_line_itself_is_needed() -> None:
    standing = running_average(0, date(2025, 3, 1), LONG_AGO, TERMS)
    assert standing.through is None
    assert standing.average_fen == 0
    assert standing.needed_daily_fen == TERMS.threshold_fen
    assert running_average_words(standing, TERMS.threshold_fen).startswith("本月刚开始")


def test_a_card_opened_this_month_counts_only_its_days_under_the_card_days_rule() -> None:
    terms = Terms(day_count=DayCount.CARD_DAYS)
    # Opened on the 21st of a 31-day month: 11 days count; 5 of them are past at ¥1,000.
    standing = running_average(100_000 * 5, date(2025, 3, 26), date(2025, 3, 21), terms)
    assert standing.average_fen == 100_000
    assert standing.remaining_days == 6
    month = Period(date(2025, 3, 1), date(2025, 3, 31))
    past = [BalancePoint(date(2025, 3, 21), 100_000)]
    rest = [BalancePoint(date(2025, 3, 26), standing.needed_daily_fen)]
    facts = CardFacts(
        date(2025, 3, 21), card_active=True, in_service=True, member_active=True, unit_enrolled=True
    )
    assert decide_card(facts, fen_days(past + rest, month), month, terms).eligible
    short = [BalancePoint(date(2025, 3, 26), standing.needed_daily_fen - 1)]
    assert not decide_card(facts, fen_days(past + short, month), month, terms).eligible


def test_a_quarter_plan_speaks_of_the_quarter() -> None:
    terms = Terms(period_kind=PeriodKind.QUARTER)
    standing = running_average(0, date(2025, 5, 2), LONG_AGO, terms)
    assert standing.period == Period(date(2025, 4, 1), date(2025, 6, 30))
    assert "季度末前每天保持" in running_average_words(standing, terms.threshold_fen)


@given(
    day=st.integers(min_value=2, max_value=28),
    so_far=st.lists(st.integers(min_value=0, max_value=2_000_000), min_size=27, max_size=27),
)
def test_holding_the_amount_a_day_to_the_end_passes_the_month_and_a_fen_less_does_not(
    day: int, so_far: list[int]
) -> None:
    today = date(2025, 2, day)
    past = [BalancePoint(date(2025, 2, 1) + timedelta(i), so_far[i]) for i in range(day - 1)]
    period = period_containing(today, PeriodKind.MONTH)
    standing = running_average(
        fen_days(past, Period(period.start, today - timedelta(1))), today, LONG_AGO, TERMS
    )
    facts = CardFacts(
        LONG_AGO, card_active=True, in_service=True, member_active=True, unit_enrolled=True
    )

    def month_with(daily: int) -> bool:
        rest = [BalancePoint(today + timedelta(i), daily) for i in range(standing.remaining_days)]
        return decide_card(facts, fen_days(past + rest, period), period, TERMS).eligible

    assert month_with(standing.needed_daily_fen)
    if standing.needed_daily_fen > 0:
        assert not month_with(standing.needed_daily_fen - 1)
