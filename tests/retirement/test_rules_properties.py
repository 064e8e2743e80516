"""Properties of the retirement rules that must hold for every birth month and input."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from gonghui.retirement.rules import (
    Category,
    Month,
    PensionInputs,
    ScenarioInputs,
    decide_retirement,
    delay_months,
    divisor_for_age,
    estimate_pension,
    min_contribution_months,
    retirement_scenarios,
)

# 办法 第一条: first affected birth month index, months per step, max delay, original age (months).
SCHEDULE = {
    Category.MALE: (1965 * 12, 4, 36, 720),
    Category.FEMALE55: (1970 * 12, 4, 36, 660),
    Category.FEMALE50: (1975 * 12, 2, 60, 600),
}

categories = st.sampled_from(list(Category))
births = st.integers(min_value=1930 * 12, max_value=2010 * 12).map(Month.from_index)
table_ages = st.integers(min_value=40 * 12, max_value=70 * 12)


@given(categories, births)
def test_the_delay_never_decreases_with_the_birth_month(category, birth):
    assert delay_months(category, birth.plus(1)) >= delay_months(category, birth)


@given(st.data())
def test_the_delay_rises_by_exactly_one_at_each_band_start_and_nowhere_else(data):
    category = data.draw(categories)
    first, step, cap, _ = SCHEDULE[category]
    band = data.draw(st.integers(min_value=0, max_value=cap - 1))
    start = Month.from_index(first + band * step)
    assert delay_months(category, start) == band + 1
    assert delay_months(category, start) - delay_months(category, start.plus(-1)) == 1
    inside = data.draw(st.integers(min_value=1, max_value=step - 1))
    assert delay_months(category, start.plus(inside)) == band + 1


@given(categories, births)
def test_the_delay_is_zero_before_the_first_month_and_the_cap_after_the_last(category, birth):
    first, step, cap, _ = SCHEDULE[category]
    delay = delay_months(category, birth)
    if birth.index < first:
        assert delay == 0
    elif birth.index >= first + (cap - 1) * step:
        assert delay == cap
    else:
        assert 1 <= delay < cap


@given(categories, births)
def test_the_retirement_month_is_a_real_month_at_the_statutory_age(category, birth):
    decision = decide_retirement(category, birth)
    assert 1 <= decision.retirement_month.month <= 12
    assert decision.retirement_month.index - birth.index == decision.statutory_age_months
    assert decision.statutory_age_months == decision.original_age_months + decision.delay_months


@given(categories, births)
def test_the_window_contains_the_statutory_month_within_three_years(category, birth):
    decision = decide_retirement(category, birth)
    assert decision.earliest_month <= decision.retirement_month <= decision.latest_month
    assert decision.latest_month.index - decision.retirement_month.index == 36
    assert decision.retirement_month.index - decision.earliest_month.index <= 36
    assert decision.earliest_month.index - birth.index >= SCHEDULE[category][3]


@given(st.integers(min_value=12, max_value=9999 * 12 + 11))
def test_a_month_index_round_trips(index):
    month = Month.from_index(index)
    assert 1 <= month.month <= 12
    assert month.index == index
    assert Month.parse(str(month)) == month


@given(st.integers(min_value=1900, max_value=2100))
def test_the_minimum_never_falls_and_stays_between_15_and_20_years(year):
    assert 180 <= min_contribution_months(year) <= min_contribution_months(year + 1) <= 240


@given(st.integers(min_value=40 * 12, max_value=70 * 12 - 1))
def test_the_divisor_falls_with_age_and_stays_between_the_whole_ages(age_months):
    divisor = divisor_for_age(age_months)
    assert divisor >= divisor_for_age(age_months + 1)
    whole = age_months - age_months % 12
    assert divisor_for_age(whole + 12) <= divisor <= divisor_for_age(whole)
    assert divisor == divisor.quantize(Decimal("0.1"))


money = st.integers(min_value=0, max_value=10**9)
indexes = st.decimals(min_value=0, max_value=5, places=4)
pension_inputs = st.builds(
    PensionInputs,
    base_fen=money,
    index=indexes,
    contribution_months=st.integers(min_value=0, max_value=600),
    account_balance_fen=money,
    age_months=table_ages,
    transitional_pension_fen=st.none() | money,
    local_top_up_fen=st.none() | money,
)


@given(pension_inputs)
def test_the_total_is_the_sum_of_its_parts(inputs):
    estimate = estimate_pension(inputs)
    extras = (inputs.transitional_pension_fen or 0) + (inputs.local_top_up_fen or 0)
    assert estimate.total_fen == (
        estimate.basic_pension_fen + estimate.account_pension_fen + extras
    )
    assert 0 <= estimate.account_pension_fen <= inputs.account_balance_fen


@given(pension_inputs)
def test_more_contribution_months_never_lower_the_basic_pension(inputs):
    fewer = estimate_pension(inputs)
    more = estimate_pension(replace(inputs, contribution_months=inputs.contribution_months + 1))
    assert more.basic_pension_fen >= fewer.basic_pension_fen


@given(categories, st.integers(min_value=1955 * 12, max_value=1990 * 12), st.data())
def test_scenarios_cover_the_remaining_window_with_a_growing_account(category, birth, data):
    decision = decide_retirement(category, Month.from_index(birth))
    as_of = decision.earliest_month.plus(data.draw(st.integers(min_value=-60, max_value=60)))
    inputs = ScenarioInputs(
        as_of=as_of,
        base_fen=1_000_000,
        index=Decimal(1),
        contribution_months=240,
        account_balance_fen=data.draw(money),
        monthly_account_contribution_fen=data.draw(st.integers(min_value=0, max_value=10**6)),
        annual_interest_rate=data.draw(
            st.decimals(min_value=0, max_value=Decimal("0.1"), places=4)
        ),
    )
    scenarios = retirement_scenarios(decision, inputs)
    first = max(decision.earliest_month.index, as_of.index)
    assert [s.retirement_month.index for s in scenarios] == list(
        range(first, decision.latest_month.index + 1)
    )
    balances = [s.account_balance_fen for s in scenarios]
    assert balances == sorted(balances)
    assert all(
        s.contribution_months == 240 + s.retirement_month.index - as_of.index for s in scenarios
    )
