"""Reading what people type (pages, API query parameters, CLI options) into rule inputs.

Every refusal is an ``InvalidInput`` with a stable code and a Chinese message, so the pages, the
API's single error mapper and the CLI report it the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Final, TypeVar

from gonghui.core.errors import InvalidInput
from gonghui.core.money import parse_yuan
from gonghui.retirement.rules import (
    MONTHS_PER_YEAR,
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


def number(text: str, label: str) -> Decimal:
    try:
        value = Decimal(text.strip().replace(",", ""))
    except InvalidOperation:
        raise InvalidInput("bad_number", f"{label}应为数字：{text!r}") from None
    if not value.is_finite():
        raise InvalidInput("bad_number", f"{label}应为数字：{text!r}")
    return value


def yuan(text: str, label: str) -> int:
    """A non-negative amount in yuan (at most two decimals), as fen."""
    try:
        fen = parse_yuan(text)
    except ValueError as error:
        raise InvalidInput("bad_amount", f"{label}：{error}") from None
    if fen < 0:
        raise InvalidInput("negative_amount", f"{label}不能为负数：{text.strip()}元")
    return fen


def optional_yuan(text: str, label: str) -> int | None:
    return yuan(text, label) if text.strip() else None


def contribution_months(text: str, label: str = "缴费年限") -> int:
    """Years (e.g. ``35`` or ``15.5``) as whole months: contributions are counted by month."""
    years = number(text, label)
    if years < 0:
        raise InvalidInput("negative_months", f"{label}不能为负数：{text.strip()}")
    months = years * MONTHS_PER_YEAR
    if months != months.to_integral_value():
        raise InvalidInput(
            "bad_years", f"{label}应为整月数，如 15、15.5 或 15.25 年：{text.strip()}"
        )
    return int(months)


def age_months(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise InvalidInput("bad_age", f"退休年龄应为整数个月，如 60岁 写作 720：{text!r}") from None


def pension(
    base: str, index: str, contribution_years: str, account_balance: str, age: str
) -> PensionEstimate:
    """The estimate at one retirement age, as the CLI and the API ask for it."""
    return checked(
        lambda: estimate_pension(
            PensionInputs(
                base_fen=yuan(base, "计发基数"),
                index=number(index, "平均缴费指数"),
                contribution_months=contribution_months(contribution_years),
                account_balance_fen=yuan(account_balance, "个人账户储存额"),
                age_months=age_months(age),
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
                contribution_months=contribution_months(self.years, "已缴费年限"),
                account_balance_fen=yuan(self.balance, "个人账户储存额"),
                monthly_account_contribution_fen=yuan(self.monthly, "每月记入个人账户的缴费"),
                annual_interest_rate=number(self.rate, "记账利率") / _PERCENT,
                transitional_pension_fen=optional_yuan(self.transitional, "过渡性养老金"),
                local_top_up_fen=optional_yuan(self.top_up, "地方调节金"),
            )
        )
