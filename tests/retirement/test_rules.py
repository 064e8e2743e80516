"""Table tests of the retirement rules.

Expected values come from the published rules and examples (docs: shared/domain/retirement.md):
- 国务院关于渐进式延迟法定退休年龄的办法 and 附件1–3:
  www.gov.cn/yaowen/liebiao/202409/content_6974294.htm
- 人社部发〔2024〕94号, www.gov.cn/zhengce/zhengceku/202501/content_6995747.htm
- 国发〔2005〕38号, www.gov.cn/zhengce/zhengceku/2008-03/28/content_7376.htm
"""

from __future__ import annotations

import ast
import sys
from dataclasses import FrozenInstanceError
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType

import pytest

from gonghui.retirement import rules
from gonghui.retirement.divisors import DivisorTable
from gonghui.retirement.rules import (
    Category,
    Month,
    PensionInputs,
    RetirementRuleError,
    ScenarioInputs,
    contribution_shortfall_months,
    decide_retirement,
    delay_months,
    divisor_for_age,
    estimate_pension,
    min_contribution_months,
    minimum_year_for,
    parse_category,
    retirement_scenarios,
    round_half_up_to_fen,
    rule_for,
    statutory_age_months,
)

MALE, FEMALE55, FEMALE50 = Category.MALE, Category.FEMALE55, Category.FEMALE50

# 办法 第一条 as published: original age in years, first affected birth month, months of birth per
# one month of delay, and the largest delay in months.
PUBLISHED_SCHEDULE = {
    MALE: (60, (1965, 1), 4, 36),
    FEMALE55: (55, (1970, 1), 4, 36),
    FEMALE50: (50, (1975, 1), 2, 60),
}


def shift(year: int, month: int, months: int) -> str:
    """Calendar arithmetic done by hand, so the tests do not lean on Month.plus."""
    total = year * 12 + (month - 1) + months
    return f"{total // 12:04d}-{total % 12 + 1:02d}"


def ym(text: str) -> Month:
    year, month = text.split("-")
    return Month(int(year), int(month))


def yuan(text: str) -> int:
    """Fen from a yuan figure written in the test, without going through the code under test."""
    whole, _, cents = text.partition(".")
    return int(whole) * 100 + int(cents.ljust(2, "0"))


# --- Errors and months


def test_a_rule_error_is_a_value_error_with_a_chinese_message_and_a_stable_code():
    with pytest.raises(RetirementRuleError) as caught:
        Month(2025, 13)
    assert isinstance(caught.value, ValueError)
    assert caught.value.code == "bad_month"
    assert str(caught.value) == "月份必须在1到12之间：13"
    assert caught.value.message == str(caught.value)


@pytest.mark.parametrize("month", [0, 13, -1])
def test_a_month_outside_1_to_12_is_refused(month):
    with pytest.raises(RetirementRuleError) as caught:
        Month(2025, month)
    assert caught.value.code == "bad_month"


@pytest.mark.parametrize("year", [0, 10000])
def test_a_year_outside_1_to_9999_is_refused(year):
    with pytest.raises(RetirementRuleError) as caught:
        Month(year, 1)
    assert caught.value.code == "bad_month"
    assert "年份" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1965-01", Month(1965, 1)), ("2039-12", Month(2039, 12)), (" 1984-11 ", Month(1984, 11))],
)
def test_a_month_is_read_from_yyyy_mm(text, expected):
    assert Month.parse(text) == expected


@pytest.mark.parametrize("text", ["1965-1", "1965/01", "196501", "", "１９６５-01", "1965-01-01"])
def test_a_month_in_any_other_form_is_refused(text):
    with pytest.raises(RetirementRuleError) as caught:
        Month.parse(text)
    assert caught.value.code == "bad_month"


def test_month_13_written_as_text_is_refused_as_a_bad_month():
    with pytest.raises(RetirementRuleError) as caught:
        Month.parse("2025-13")
    assert caught.value.code == "bad_month"


@pytest.mark.parametrize(
    ("month", "text"),
    [(Month(1965, 1), "1965-01"), (Month(2039, 11), "2039-11"), (Month(1, 1), "0001-01")],
)
def test_a_month_prints_as_yyyy_mm(month, text):
    assert str(month) == text


def test_a_month_index_counts_months_from_year_zero():
    assert Month(1965, 1).index == 1965 * 12
    assert Month(1965, 12).index == 1965 * 12 + 11
    assert Month.from_index(1965 * 12 + 11) == Month(1965, 12)
    assert Month.from_index(1966 * 12) == Month(1966, 1)


def test_adding_months_crosses_year_ends_both_ways():
    assert Month(2024, 12).plus(1) == Month(2025, 1)
    assert Month(2025, 1).plus(-1) == Month(2024, 12)
    assert Month(1965, 1).plus(721) == Month(2025, 2)


def test_months_order_by_calendar():
    assert Month(2024, 12) < Month(2025, 1) < Month(2025, 2)


def test_a_month_cannot_be_changed_after_it_is_made():
    month = Month(2025, 1)
    with pytest.raises(FrozenInstanceError):
        month.month = 2  # type: ignore[misc]


# --- Categories


@pytest.mark.parametrize(
    ("text", "category"), [("male", MALE), ("female55", FEMALE55), (" female50 ", FEMALE50)]
)
def test_a_category_is_read_from_its_code(text, category):
    assert parse_category(text) is category


@pytest.mark.parametrize("text", ["female", "Male", "女", ""])
def test_an_unknown_category_is_refused_with_the_valid_codes_named(text):
    with pytest.raises(RetirementRuleError) as caught:
        parse_category(text)
    assert caught.value.code == "unknown_category"
    assert "female55" in str(caught.value)


def test_the_rules_refuse_a_category_they_do_not_know():
    with pytest.raises(RetirementRuleError) as caught:
        rule_for("female60")  # type: ignore[arg-type]
    assert caught.value.code == "unknown_category"


# --- Statutory age: published examples and the edges of every band


@pytest.mark.parametrize(
    ("category", "birth", "age_years", "age_months", "retirement"),
    [
        # Examples of the domain note, from 附件1–3.
        (MALE, "1964-12", 60, 0, "2024-12"),
        (MALE, "1965-01", 60, 1, "2025-02"),
        (MALE, "1965-05", 60, 2, "2025-07"),
        (FEMALE55, "1970-06", 55, 2, "2025-08"),
        (FEMALE50, "1975-03", 50, 2, "2025-05"),
        (FEMALE50, "1984-11", 55, 0, "2039-11"),
        # First and last rows of the attachments.
        (MALE, "1965-04", 60, 1, "2025-05"),
        (MALE, "1976-09", 63, 0, "2039-09"),
        (FEMALE55, "1970-01", 55, 1, "2025-02"),
        (FEMALE55, "1981-09", 58, 0, "2039-09"),
        (FEMALE50, "1975-01", 50, 1, "2025-02"),
        (FEMALE50, "1975-02", 50, 1, "2025-03"),
    ],
)
def test_published_examples(category, birth, age_years, age_months, retirement):
    decision = decide_retirement(category, ym(birth))
    assert decision.statutory_age_months == age_years * 12 + age_months
    assert str(decision.retirement_month) == retirement


def test_a_man_born_in_1965_05_retires_at_60_and_2_months_in_2025_07():
    decision = decide_retirement(MALE, Month(1965, 5))
    assert (decision.original_age_months, decision.delay_months) == (720, 2)
    assert decision.statutory_age_months == 722
    assert decision.retirement_month == Month(2025, 7)


def test_a_man_born_in_1976_08_retires_one_month_short_of_63():
    decision = decide_retirement(MALE, Month(1976, 8))
    assert decision.delay_months == 35
    assert decision.retirement_month == Month(2039, 7)


def test_a_woman_on_a_55_post_born_in_1981_08_retires_at_57_and_11_months():
    decision = decide_retirement(FEMALE55, Month(1981, 8))
    assert decision.statutory_age_months == 57 * 12 + 11
    assert decision.retirement_month == Month(2039, 7)


def test_a_woman_on_a_50_post_born_in_1984_10_retires_at_54_and_11_months():
    decision = decide_retirement(FEMALE50, Month(1984, 10))
    assert decision.delay_months == 59
    assert decision.retirement_month == Month(2039, 9)


def _band_edges():
    for category, (age, (year, month), step, cap) in PUBLISHED_SCHEDULE.items():
        for band in range(cap):
            first = band * step
            edges = [("first", first)]
            # The capped band has no last month; check one twenty years into it instead.
            edges.append(("last", first + step - 1) if band < cap - 1 else ("later", first + 240))
            for edge, offset in edges:
                birth = shift(year, month, offset)
                delay = band + 1
                yield pytest.param(
                    category,
                    birth,
                    delay,
                    age * 12 + delay,
                    shift(year, month, offset + age * 12 + delay),
                    id=f"{category}-delay{delay:02d}-{edge}-{birth}",
                )


@pytest.mark.parametrize(
    ("category", "birth", "delay", "statutory", "retirement"), list(_band_edges())
)
def test_every_band_of_every_category_at_both_edges(category, birth, delay, statutory, retirement):
    assert delay_months(category, ym(birth)) == delay
    assert statutory_age_months(category, ym(birth)) == statutory
    assert str(decide_retirement(category, ym(birth)).retirement_month) == retirement


@pytest.mark.parametrize(
    ("category", "birth", "original_years"),
    [
        (MALE, "1964-12", 60),
        (MALE, "1950-06", 60),
        (FEMALE55, "1969-12", 55),
        (FEMALE55, "1960-01", 55),
        (FEMALE50, "1974-12", 50),
        (FEMALE50, "1965-07", 50),
    ],
)
def test_cohorts_born_before_the_first_affected_month_keep_the_original_age(
    category, birth, original_years
):
    decision = decide_retirement(category, ym(birth))
    assert decision.delay_months == 0
    assert decision.statutory_age_months == original_years * 12
    assert str(decision.retirement_month) == shift(*map(int, birth.split("-")), original_years * 12)


@pytest.mark.parametrize(
    ("category", "birth", "cap"),
    [
        (MALE, "1976-09", 36),
        (MALE, "2005-03", 36),
        (FEMALE55, "1981-09", 36),
        (FEMALE55, "2000-12", 36),
        (FEMALE50, "1984-11", 60),
        (FEMALE50, "2001-02", 60),
    ],
)
def test_the_delay_stays_at_its_cap(category, birth, cap):
    assert delay_months(category, ym(birth)) == cap


# --- Flexible window (94号)


@pytest.mark.parametrize(
    ("category", "birth", "earliest", "statutory", "latest"),
    [
        # Early retirement cannot go below the original age, so a man's window starts at 60.
        (MALE, "1965-01", "2025-01", "2025-02", "2028-02"),
        (MALE, "1970-01", "2030-01", "2031-05", "2034-05"),
        (MALE, "1976-09", "2036-09", "2039-09", "2042-09"),
        (MALE, "1964-12", "2024-12", "2024-12", "2027-12"),
        (FEMALE55, "1970-06", "2025-06", "2025-08", "2028-08"),
        (FEMALE55, "1981-09", "2036-09", "2039-09", "2042-09"),
        # 1980-12: delay 36, so 36 months early is exactly the original age of 50.
        (FEMALE50, "1980-12", "2030-12", "2033-12", "2036-12"),
        # 1981-01: delay 37 (53岁1个月), the first cohort whose window starts above 50 (50岁1个月).
        (FEMALE50, "1981-01", "2031-02", "2034-02", "2037-02"),
        (FEMALE50, "1984-11", "2036-11", "2039-11", "2042-11"),
        (FEMALE50, "1974-12", "2024-12", "2024-12", "2027-12"),
    ],
)
def test_the_flexible_window(category, birth, earliest, statutory, latest):
    decision = decide_retirement(category, ym(birth))
    assert str(decision.earliest_month) == earliest
    assert str(decision.retirement_month) == statutory
    assert str(decision.latest_month) == latest


def test_a_woman_on_a_50_post_born_in_1984_11_may_retire_from_52():
    decision = decide_retirement(FEMALE50, Month(1984, 11))
    assert decision.earliest_month.index - decision.birth.index == 52 * 12
    assert decision.latest_month.index - decision.birth.index == 58 * 12


# --- Minimum contribution (办法 第二条)


@pytest.mark.parametrize(
    ("year", "years", "months"),
    [
        (1995, 15, 0),
        (2025, 15, 0),
        (2029, 15, 0),
        (2030, 15, 6),
        (2031, 16, 0),
        (2032, 16, 6),
        (2033, 17, 0),
        (2034, 17, 6),
        (2035, 18, 0),
        (2036, 18, 6),
        (2037, 19, 0),
        (2038, 19, 6),
        (2039, 20, 0),
        (2040, 20, 0),
        (2060, 20, 0),
    ],
)
def test_the_minimum_contribution_schedule(year, years, months):
    assert min_contribution_months(year) == years * 12 + months


@pytest.mark.parametrize(
    ("category", "birth", "minimum"),
    [(MALE, "1965-01", 180), (MALE, "1970-01", 192), (MALE, "1976-09", 240)],
)
def test_the_decision_states_the_minimum_of_the_statutory_retirement_year(category, birth, minimum):
    assert decide_retirement(category, ym(birth)).min_contribution_months == minimum


@pytest.mark.parametrize(
    ("contributed", "year", "shortfall"),
    [(0, 2025, 180), (170, 2025, 10), (180, 2025, 0), (300, 2025, 0), (230, 2039, 10)],
)
def test_the_shortfall_is_the_months_missing_to_the_minimum(contributed, year, shortfall):
    assert contribution_shortfall_months(contributed, year) == shortfall


def test_negative_contribution_months_are_refused():
    with pytest.raises(RetirementRuleError) as caught:
        contribution_shortfall_months(-1, 2025)
    assert caught.value.code == "negative_months"


# A man born 1970-01: statutory 61岁4个月 in 2031-05, window 2030-01 … 2034-05.
@pytest.mark.parametrize(
    ("retirement", "year"),
    [
        ("2030-01", 2030),  # early: the year of actual retirement (assumed)
        ("2030-12", 2030),
        ("2031-04", 2031),
        ("2031-05", 2031),  # on time
        ("2033-01", 2031),  # late: the year the statutory age is reached (assumed), not 2033
        ("2034-05", 2031),
    ],
)
def test_which_years_minimum_applies_under_flexible_retirement(retirement, year):
    decision = decide_retirement(MALE, Month(1970, 1))
    assert minimum_year_for(decision, ym(retirement)) == year


@pytest.mark.parametrize("retirement", ["2029-12", "2034-06"])
def test_a_month_outside_the_flexible_window_is_refused(retirement):
    decision = decide_retirement(MALE, Month(1970, 1))
    with pytest.raises(RetirementRuleError) as caught:
        minimum_year_for(decision, ym(retirement))
    assert caught.value.code == "outside_window"
    assert "2030-01" in str(caught.value)


def test_the_minimum_year_assumption_is_named_and_reads_as_documented():
    assert rules.EARLY_RETIREMENT_MINIMUM_YEAR is rules.MinimumYearBasis.ACTUAL_RETIREMENT
    assert rules.LATE_RETIREMENT_MINIMUM_YEAR is rules.MinimumYearBasis.STATUTORY_AGE


# --- 计发月数 (国发〔2005〕38号)

PUBLISHED_DIVISORS = {
    40: 233, 41: 230, 42: 226, 43: 223, 44: 220, 45: 216, 46: 212, 47: 207, 48: 204, 49: 199,
    50: 195, 51: 190, 52: 185, 53: 180, 54: 175, 55: 170, 56: 164, 57: 158, 58: 152, 59: 145,
    60: 139, 61: 132, 62: 125, 63: 117, 64: 109, 65: 101, 66: 93, 67: 84, 68: 75, 69: 65, 70: 56,
}  # fmt: skip


@pytest.mark.parametrize(("age", "divisor"), sorted(PUBLISHED_DIVISORS.items()))
def test_the_divisor_at_a_whole_age_is_the_published_figure(age, divisor):
    assert divisor_for_age(age * 12) == Decimal(divisor)


@pytest.mark.parametrize(
    ("years", "months", "divisor"),
    [
        (60, 1, "138.4"),
        (60, 3, "137.3"),  # 137.25: a half rounds up
        (55, 1, "169.5"),
        (50, 1, "194.6"),
        (63, 1, "116.3"),
        (69, 11, "56.8"),  # 56.75: a half rounds up at the top of the table
        (40, 6, "231.5"),
        (60, 0, "139.0"),
    ],
)
def test_the_divisor_for_an_age_with_months_is_interpolated_to_one_decimal(years, months, divisor):
    result = divisor_for_age(years * 12 + months)
    assert str(result) == divisor


@pytest.mark.parametrize("age_months", [39 * 12 + 11, 70 * 12 + 1, 75 * 12, 0, -1])
def test_an_age_outside_the_table_is_refused(age_months):
    with pytest.raises(RetirementRuleError) as caught:
        divisor_for_age(age_months)
    assert caught.value.code == "age_outside_table"
    assert "40岁至70岁" in str(caught.value)


def test_a_province_can_supply_its_own_divisor_table():
    table = DivisorTable(
        version="test-47-208",
        source="a reprint that prints 208 at 47",
        months_by_whole_age=MappingProxyType({47: 208, 48: 204}),
    )
    assert divisor_for_age(47 * 12, table) == Decimal(208)
    assert str(divisor_for_age(47 * 12 + 6, table)) == "206.0"
    with pytest.raises(RetirementRuleError) as caught:
        divisor_for_age(48 * 12 + 1, table)
    assert caught.value.code == "age_outside_table"


# --- Pension estimate


def pension_inputs(**changes):
    # The synthetic example of the domain note: C = 10000, I = 1.0, N = 35, account 200000, age 60.
    values = {
        "base_fen": yuan("10000"),
        "index": Decimal("1.0"),
        "contribution_months": 35 * 12,
        "account_balance_fen": yuan("200000"),
        "age_months": 60 * 12,
    } | changes
    return PensionInputs(**values)


def test_the_synthetic_example_at_60():
    estimate = estimate_pension(pension_inputs())
    assert estimate.basic_pension_fen == yuan("3500.00")
    assert estimate.account_pension_fen == yuan("1438.85")
    assert estimate.total_fen == yuan("4938.85")
    assert str(estimate.divisor) == "139.0"
    assert estimate.divisor_table_version == "guofa-2005-38"


def test_the_synthetic_example_at_60_and_3_months():
    estimate = estimate_pension(pension_inputs(age_months=60 * 12 + 3))
    assert estimate.account_pension_fen == yuan("1456.66")
    assert str(estimate.divisor) == "137.3"


def test_the_basic_pension_uses_the_average_of_base_and_indexed_wage():
    # 8000 × (1 + 0.6) / 2 × 20.5 × 1% = 1312.00
    estimate = estimate_pension(
        pension_inputs(base_fen=yuan("8000"), index=Decimal("0.6"), contribution_months=246)
    )
    assert estimate.basic_pension_fen == yuan("1312.00")


def test_the_basic_pension_rounds_a_half_fen_up():
    # 5001 × (1 + 0) / 2 × 1 × 1% = 25.005 → 25.01 (banker's rounding would give 25.00)
    estimate = estimate_pension(
        pension_inputs(base_fen=yuan("5001"), index=Decimal(0), contribution_months=12)
    )
    assert estimate.basic_pension_fen == yuan("25.01")


def test_the_account_pension_rounds_a_half_fen_up():
    # 170000.85 ÷ 170 = 1000.005 → 1000.01
    estimate = estimate_pension(
        pension_inputs(account_balance_fen=yuan("170000.85"), age_months=55 * 12)
    )
    assert estimate.account_pension_fen == yuan("1000.01")


def test_the_basic_pension_is_rounded_once_not_per_factor():
    # 7321.45 × 1.6 / 2 × 15 × 1% = 878.574 → 878.57
    estimate = estimate_pension(
        pension_inputs(base_fen=yuan("7321.45"), index=Decimal("0.6"), contribution_months=180)
    )
    assert estimate.basic_pension_fen == yuan("878.57")


def test_transitional_pension_and_local_top_ups_are_added_only_when_given():
    plain = estimate_pension(pension_inputs())
    assert plain.transitional_pension_fen is None
    assert plain.local_top_up_fen is None
    topped = estimate_pension(
        pension_inputs(transitional_pension_fen=yuan("500"), local_top_up_fen=yuan("120.50"))
    )
    assert topped.transitional_pension_fen == yuan("500")
    assert topped.local_top_up_fen == yuan("120.50")
    assert topped.total_fen == yuan("4938.85") + yuan("500") + yuan("120.50")


@pytest.mark.parametrize(
    "field",
    ["base_fen", "account_balance_fen", "transitional_pension_fen", "local_top_up_fen"],
)
def test_a_negative_amount_is_refused(field):
    with pytest.raises(RetirementRuleError) as caught:
        pension_inputs(**{field: -1})
    assert caught.value.code == "negative_amount"
    assert "不能为负数" in str(caught.value)


def test_negative_contribution_years_are_refused():
    with pytest.raises(RetirementRuleError) as caught:
        pension_inputs(contribution_months=-12)
    assert caught.value.code == "negative_months"


@pytest.mark.parametrize("index", [Decimal("-0.1"), Decimal("NaN"), Decimal("Infinity")])
def test_a_negative_or_non_finite_index_is_refused(index):
    with pytest.raises(RetirementRuleError) as caught:
        pension_inputs(index=index)
    assert caught.value.code == "bad_index"


def test_a_pension_at_an_age_outside_the_table_is_refused():
    with pytest.raises(RetirementRuleError) as caught:
        estimate_pension(pension_inputs(age_months=71 * 12))
    assert caught.value.code == "age_outside_table"


@pytest.mark.parametrize(
    ("yuan_text", "fen"),
    [("0.005", 1), ("0.0049", 0), ("1438.848", 143885), ("2.675", 268), ("-0.005", -1)],
)
def test_money_is_rounded_half_up_to_the_fen(yuan_text, fen):
    assert round_half_up_to_fen(Decimal(yuan_text)) == fen


# --- Scenarios across the flexible window

# A man born 1965-01: statutory 60岁1个月 in 2025-02, window 2025-01 … 2028-02 (38 months).
MAN_1965 = decide_retirement(MALE, Month(1965, 1))


def scenario_inputs(**changes):
    values = {
        "as_of": Month(2025, 1),
        "base_fen": yuan("10000"),
        "index": Decimal("1.0"),
        "contribution_months": 35 * 12,
        "account_balance_fen": yuan("200000"),
        "monthly_account_contribution_fen": 0,
        "annual_interest_rate": Decimal(0),
    } | changes
    return ScenarioInputs(**values)


def test_there_is_one_scenario_per_month_of_the_window():
    scenarios = retirement_scenarios(MAN_1965, scenario_inputs())
    assert len(scenarios) == 38
    assert [str(s.retirement_month) for s in scenarios[:3]] == ["2025-01", "2025-02", "2025-03"]
    assert str(scenarios[-1].retirement_month) == "2028-02"
    assert [s.months_from_statutory for s in scenarios[:3]] == [-1, 0, 1]


def test_the_earliest_scenario_matches_the_synthetic_example_at_60():
    first = retirement_scenarios(MAN_1965, scenario_inputs())[0]
    assert first.age_months == 720
    assert first.pension.basic_pension_fen == yuan("3500.00")
    assert first.pension.account_pension_fen == yuan("1438.85")


def test_working_on_adds_contribution_months_and_lowers_the_divisor():
    scenarios = retirement_scenarios(MAN_1965, scenario_inputs())
    at_60_3 = scenarios[3]
    assert at_60_3.age_months == 60 * 12 + 3
    assert at_60_3.contribution_months == 423
    # 10000 × 2 / 2 × 423/12 × 1% = 3525.00; 200000 ÷ 137.3 = 1456.66
    assert at_60_3.pension.basic_pension_fen == yuan("3525.00")
    assert at_60_3.pension.account_pension_fen == yuan("1456.66")
    last = scenarios[-1]
    # 63岁1个月: 117 − 8/12 = 116.3; 10000 × 457/12 × 1% = 3808.33; 200000 ÷ 116.3 = 1719.69
    assert str(last.pension.divisor) == "116.3"
    assert last.pension.basic_pension_fen == yuan("3808.33")
    assert last.pension.account_pension_fen == yuan("1719.69")


def test_the_account_grows_by_interest_then_the_months_contribution():
    # 1.2 % a year is 0.1 % a month: 200000 × 1.001 + 1000 = 201200; × 1.001 + 1000 = 202401.20
    scenarios = retirement_scenarios(
        MAN_1965,
        scenario_inputs(
            monthly_account_contribution_fen=yuan("1000"), annual_interest_rate=Decimal("0.012")
        ),
    )
    assert [s.account_balance_fen for s in scenarios[:3]] == [
        yuan("200000"),
        yuan("201200"),
        yuan("202401.20"),
    ]


def test_months_before_the_window_still_grow_the_account():
    scenarios = retirement_scenarios(
        MAN_1965,
        scenario_inputs(as_of=Month(2024, 11), monthly_account_contribution_fen=yuan("1000")),
    )
    assert str(scenarios[0].retirement_month) == "2025-01"
    assert scenarios[0].contribution_months == 422
    assert scenarios[0].account_balance_fen == yuan("202000")


def test_months_of_the_window_already_past_are_left_out():
    scenarios = retirement_scenarios(MAN_1965, scenario_inputs(as_of=Month(2026, 1)))
    assert len(scenarios) == 26
    assert str(scenarios[0].retirement_month) == "2026-01"
    assert scenarios[0].contribution_months == 420


def test_there_is_no_scenario_once_the_window_has_passed():
    assert retirement_scenarios(MAN_1965, scenario_inputs(as_of=Month(2028, 3))) == ()


def test_each_scenario_tests_the_minimum_of_its_own_year():
    # A man born 1970-01 with 170 months at 2030-01: statutory 2031-05 (minimum 192 months).
    decision = decide_retirement(MALE, Month(1970, 1))
    scenarios = {
        str(s.retirement_month): s
        for s in retirement_scenarios(
            decision, scenario_inputs(as_of=Month(2030, 1), contribution_months=170)
        )
    }
    early = scenarios["2030-06"]
    assert (early.minimum_year, early.min_contribution_months) == (2030, 186)
    assert (early.contribution_months, early.shortfall_months) == (175, 11)
    assert not early.meets_minimum
    on_time = scenarios["2031-05"]
    assert (on_time.min_contribution_months, on_time.shortfall_months) == (192, 6)
    late = scenarios["2033-01"]
    assert (late.minimum_year, late.min_contribution_months) == (2031, 192)
    assert late.contribution_months == 206
    assert late.meets_minimum


def test_scenarios_carry_the_labelled_local_amounts():
    scenarios = retirement_scenarios(
        MAN_1965, scenario_inputs(transitional_pension_fen=yuan("300"), local_top_up_fen=0)
    )
    assert {s.pension.transitional_pension_fen for s in scenarios} == {yuan("300")}
    assert scenarios[0].pension.total_fen == yuan("3500.00") + yuan("1438.85") + yuan("300")


@pytest.mark.parametrize("rate", [Decimal("-0.01"), Decimal(1), Decimal("NaN")])
def test_an_interest_rate_outside_0_to_1_is_refused(rate):
    with pytest.raises(RetirementRuleError) as caught:
        scenario_inputs(annual_interest_rate=rate)
    assert caught.value.code == "bad_rate"


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("monthly_account_contribution_fen", -1, "negative_amount"),
        ("account_balance_fen", -1, "negative_amount"),
        ("base_fen", -1, "negative_amount"),
        ("transitional_pension_fen", -1, "negative_amount"),
        ("local_top_up_fen", -1, "negative_amount"),
        ("contribution_months", -1, "negative_months"),
        ("index", Decimal(-1), "bad_index"),
    ],
)
def test_bad_scenario_inputs_are_refused(field, value, code):
    with pytest.raises(RetirementRuleError) as caught:
        scenario_inputs(**{field: value})
    assert caught.value.code == code


# --- Purity


def test_the_rules_import_nothing_but_the_standard_library_and_their_own_data():
    source = Path(rules.__file__).read_text(encoding="utf-8")
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
    outside = {
        name
        for name in imported
        if name.split(".")[0] not in sys.stdlib_module_names
        and name != "gonghui.retirement.divisors"
    }
    assert outside == set()
