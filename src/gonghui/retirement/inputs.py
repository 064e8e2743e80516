"""Reading what people type (pages, API query parameters, CLI options) into rule inputs.

Every refusal is an ``InvalidInput`` with a stable code and a Chinese message, so the pages, the
API's single error mapper and the CLI report it the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Final, TypeVar

from gonghui.core.errors import InvalidInput
from gonghui.core.inputs import (
    InputError,
    Years,
    input_error,
    parse_amount,
    parse_bounded_int,
    parse_decimal,
    parse_years,
)
from gonghui.retirement.rules import (
    Category,
    Month,
    PensionEstimate,
    PensionInputs,
    RetirementDecision,
    RetirementRuleError,
    ScenarioInputs,
    decide_retirement,
    estimate_pension,
    parse_category,
)

T = TypeVar("T")
_PERCENT: Final = 100
# Bounds of every number typed here: far beyond any real 指数 or 记账利率, but bounded.
_LOWEST: Final = Decimal(-1000)
_HIGHEST: Final = Decimal(1000)
_LOWEST_INDEX: Final = Decimal(0)
_MAX_AGE_MONTHS: Final = 1200


def checked(rule: Callable[[], T]) -> T:
    """Run a rule, turning its refusal into the platform's ``InvalidInput``."""
    try:
        return rule()
    except RetirementRuleError as error:
        raise InvalidInput(error.code, error.message) from error


def category(text: str) -> Category:
    if not text.strip():
        raise InvalidInput("missing_category", "请选择人员类别")
    return checked(lambda: parse_category(text))


def month(text: str, label: str = "出生年月") -> Month:
    if not text.strip():
        raise InvalidInput("missing_month", f"请填写{label}（YYYY-MM）")
    return checked(lambda: Month.parse(text))


def decision(category_text: str, birth_text: str) -> RetirementDecision:
    chosen, birth = category(category_text), month(birth_text)
    return checked(lambda: decide_retirement(chosen, birth))


def number(text: str, label: str, low: Decimal = _LOWEST, high: Decimal = _HIGHEST) -> Decimal:
    try:
        return parse_decimal(text, label, low=low, high=high, places=6)
    except InputError as error:
        raise input_error("bad_number", error) from None


def yuan(text: str, label: str) -> int:
    """A non-negative amount in yuan (at most two decimals), as fen."""
    try:
        fen = parse_amount(text, label, allow_negative=True)
    except InputError as error:
        raise input_error("bad_amount", error) from None
    if fen < 0:
        raise InvalidInput("negative_amount", f"{label}不能为负数：{text.strip()}元")
    return fen


def optional_yuan(text: str, label: str) -> int | None:
    return yuan(text, label) if text.strip() else None


def contribution(text: str, label: str = "缴费年限") -> Years:
    """Years as the forms print them: ``35``, ``31.5833``, ``42.58`` or ``31年7个月``."""
    if text.strip().startswith("-"):
        raise InvalidInput("negative_months", f"{label}不能为负数：{text.strip()}")
    try:
        return parse_years(text, label)
    except InputError as error:
        raise input_error("bad_years", error) from None


def age_months(text: str) -> int:
    try:
        return parse_bounded_int(text, "退休年龄（月）", low=0, high=_MAX_AGE_MONTHS)
    except InputError:
        shown = text.strip() or "（空）"
        raise InvalidInput(
            "bad_age", f"退休年龄应为整数个月（0–{_MAX_AGE_MONTHS}），如 60岁 写作 720：{shown}"
        ) from None


def pension(
    base: str, index: str, contribution_years: str, account_balance: str, age: str
) -> PensionEstimate:
    """The estimate at one retirement age, as the CLI and the API ask for it."""
    years = contribution(contribution_years)
    return checked(
        lambda: estimate_pension(
            PensionInputs(
                base_fen=yuan(base, "计发基数"),
                index=number(index, "平均缴费指数", low=_LOWEST_INDEX),
                contribution_months=years.months,
                account_balance_fen=yuan(account_balance, "个人账户储存额"),
                age_months=age_months(age),
                contribution_years=None if years.printed_in_months else years.years,
            )
        )
    )


@dataclass(frozen=True)
class PensionForm:
    """The estimator's fields as typed; blank ``base`` means the estimate was not asked for."""

    base: str = ""
    index: str = "1.0"
    years: str = ""
    balance: str = ""
    monthly: str = ""
    rate: str = ""
    transitional: str = ""
    top_up: str = ""

    @property
    def asked(self) -> bool:
        return bool(self.base.strip())

    def scenario_inputs(self, as_of: Month) -> ScenarioInputs:
        required = {
            "平均缴费指数": self.index,
            "已缴费年限": self.years,
            "个人账户储存额": self.balance,
            "每月记入个人账户的缴费": self.monthly,
            "记账利率": self.rate,
        }
        missing = [label for label, value in required.items() if not value.strip()]
        if missing:
            raise InvalidInput("missing_field", "请填写：" + "、".join(missing))
        return checked(
            lambda: ScenarioInputs(
                as_of=as_of,
                base_fen=yuan(self.base, "计发基数"),
                index=number(self.index, "平均缴费指数"),
                contribution_months=contribution(self.years, "已缴费年限").months,
                account_balance_fen=yuan(self.balance, "个人账户储存额"),
                monthly_account_contribution_fen=yuan(self.monthly, "每月记入个人账户的缴费"),
                annual_interest_rate=number(self.rate, "记账利率") / _PERCENT,
                transitional_pension_fen=optional_yuan(self.transitional, "过渡性养老金"),
                local_top_up_fen=optional_yuan(self.top_up, "地方调节金"),
            )
        )
