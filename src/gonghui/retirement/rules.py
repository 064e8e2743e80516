"""Pure rules of the 2025 retirement reform and the enterprise pension estimate.

No database, no clock, no I/O: every function takes what it needs and returns a value.
Months are integer indices (``year * 12 + month - 1``) so that ages and dates never meet a float.

Sources:
- 全国人大常委会关于实施渐进式延迟法定退休年龄的决定 (2024-09-13, in force 2025-01-01) and
  国务院关于渐进式延迟法定退休年龄的办法 with 附件1–3:
  www.gov.cn/yaowen/liebiao/202409/content_6974294.htm
- 实施弹性退休制度暂行办法, 人社部发〔2024〕94号:
  www.gov.cn/zhengce/zhengceku/202501/content_6995747.htm
- 国发〔2005〕38号 (pension formula, 计发月数):
  www.gov.cn/zhengce/zhengceku/2008-03/28/content_7376.htm

Special routes (特殊工种, 因病或非因工致残) are "国家另有规定" and out of scope here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Final, Literal

from gonghui.retirement.divisors import DEFAULT_DIVISOR_TABLE, DivisorTable

if TYPE_CHECKING:
    from collections.abc import Mapping

ErrorCode = Literal[
    "bad_month",
    "unknown_category",
    "negative_amount",
    "negative_months",
    "bad_index",
    "bad_rate",
    "age_outside_table",
    "outside_window",
]


class RetirementRuleError(ValueError):
    """Bad input to a retirement rule: a Chinese message for people, a stable code for machines."""

    def __init__(self, message: str, *, code: ErrorCode) -> None:
        super().__init__(message)
        self.code: ErrorCode = code
        self.message = message


# --- Money ----------

_FEN_PER_YUAN: Final = 100


def round_half_up_to_fen(yuan: Decimal) -> int:
    """The one rounding of a money result: half-up (四舍五入) to the fen.

    Same contract as ``gonghui.core.money.round_half_up_to_fen``; kept local so the rules stay
    importable on their own.
    """
    return int((yuan * _FEN_PER_YUAN).quantize(Decimal(1), rounding=ROUND_HALF_UP))


# --- Months ----------

MONTHS_PER_YEAR: Final = 12
_MIN_YEAR: Final = 1
_MAX_YEAR: Final = 9999
_MONTH_TEXT: Final = re.compile(r"(\d{4})-(\d{2})", re.ASCII)


@dataclass(frozen=True, order=True)
class Month:
    """A calendar month; the reform counts in months and ignores the day of birth (办法 附件)."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= MONTHS_PER_YEAR:
            msg = f"月份必须在1到12之间：{self.month}"
            raise RetirementRuleError(msg, code="bad_month")
        if not _MIN_YEAR <= self.year <= _MAX_YEAR:
            msg = f"年份超出范围（1–9999）：{self.year}"
            raise RetirementRuleError(msg, code="bad_month")

    @classmethod
    def from_index(cls, index: int) -> Month:
        year, zero_based = divmod(index, MONTHS_PER_YEAR)
        return cls(year, zero_based + 1)

    @classmethod
    def parse(cls, text: str) -> Month:
        """Read ``"YYYY-MM"``, the form the CLI and the pages print."""
        match = _MONTH_TEXT.fullmatch(text.strip())
        if match is None:
            msg = f"年月格式应为 YYYY-MM：{text.strip() or '（空）'}"
            raise RetirementRuleError(msg, code="bad_month")
        return cls(int(match[1]), int(match[2]))

    @property
    def index(self) -> int:
        return self.year * MONTHS_PER_YEAR + self.month - 1

    def plus(self, months: int) -> Month:
        return Month.from_index(self.index + months)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


# --- Statutory age (办法 第一条, 附件1–3) ----------


class Category(StrEnum):
    """Who the worker is for the reform; a woman's category comes from her post, never a guess."""

    MALE = "male"  # 男职工
    FEMALE55 = "female55"  # 原法定退休年龄为55周岁的女职工 (管理、技术岗位)
    FEMALE50 = "female50"  # 原法定退休年龄为50周岁的女职工 (生产、操作岗位)


@dataclass(frozen=True)
class CategoryRule:
    original_age_months: int
    first_affected_birth: Month
    months_per_step: int
    max_delay_months: int


# 办法 第一条: men 60 → 63 and women 55 → 58 by one month every four months; women 50 → 55 by one
# month every two months; the first affected cohorts are those reaching the old age in 2025-01,
# i.e. born 1965-01, 1970-01 and 1975-01 (附件1–3).
CATEGORY_RULES: Final[Mapping[Category, CategoryRule]] = MappingProxyType(
    {
        Category.MALE: CategoryRule(60 * MONTHS_PER_YEAR, Month(1965, 1), 4, 36),
        Category.FEMALE55: CategoryRule(55 * MONTHS_PER_YEAR, Month(1970, 1), 4, 36),
        Category.FEMALE50: CategoryRule(50 * MONTHS_PER_YEAR, Month(1975, 1), 2, 60),
    }
)

# 94号 第二条、第三条: early retirement at most three years before the new statutory age (never
# below the original one), late retirement at most three years after it.
FLEXIBLE_MONTHS: Final = 36


def parse_category(text: str) -> Category:
    try:
        return Category(text.strip())
    except ValueError:
        msg = f"未知的人员类别：{text.strip() or '（空）'}（应为 male、female55 或 female50）"
        raise RetirementRuleError(msg, code="unknown_category") from None


def rule_for(category: Category) -> CategoryRule:
    try:
        return CATEGORY_RULES[category]
    except KeyError:
        msg = f"未知的人员类别：{category}"
        raise RetirementRuleError(msg, code="unknown_category") from None


def delay_months(category: Category, birth: Month) -> int:
    rule = rule_for(category)
    months_after_first = birth.index - rule.first_affected_birth.index
    if months_after_first < 0:
        return 0
    return min(months_after_first // rule.months_per_step + 1, rule.max_delay_months)


def statutory_age_months(category: Category, birth: Month) -> int:
    return rule_for(category).original_age_months + delay_months(category, birth)


# --- Minimum contribution (办法 第二条) ----------

# 15 years through 2029; from 2030 six months more each year; 20 years from 2039 on.
_MIN_CONTRIBUTION_BASE_MONTHS: Final = 15 * MONTHS_PER_YEAR
_MIN_CONTRIBUTION_LAST_FLAT_YEAR: Final = 2029
_MIN_CONTRIBUTION_STEP_MONTHS: Final = 6
_MIN_CONTRIBUTION_CAP_MONTHS: Final = 20 * MONTHS_PER_YEAR


def min_contribution_months(year: int) -> int:
    """Minimum 累计缴费年限, in months, for a worker retiring under the rules of ``year``."""
    rises = max(0, year - _MIN_CONTRIBUTION_LAST_FLAT_YEAR)
    return min(
        _MIN_CONTRIBUTION_BASE_MONTHS + rises * _MIN_CONTRIBUTION_STEP_MONTHS,
        _MIN_CONTRIBUTION_CAP_MONTHS,
    )


def contribution_shortfall_months(contributed_months: int, year: int) -> int:
    """Months still to pay (by contributing on, or paying at once) to reach ``year``'s minimum."""
    _require_non_negative_months("累计缴费月数", contributed_months)
    return max(0, min_contribution_months(year) - contributed_months)


class MinimumYearBasis(StrEnum):
    ACTUAL_RETIREMENT = "actual_retirement"
    STATUTORY_AGE = "statutory_age"


# ASSUMPTION, not confirmed from the text of 人社部发〔2024〕94号: an early retiree must meet the
# minimum of the year they actually retire; a late retiree that of the year they reach the
# statutory age. Change these two constants if a national or provincial text settles it otherwise.
EARLY_RETIREMENT_MINIMUM_YEAR: Final = MinimumYearBasis.ACTUAL_RETIREMENT
LATE_RETIREMENT_MINIMUM_YEAR: Final = MinimumYearBasis.STATUTORY_AGE


# --- The decision for one worker ----------


@dataclass(frozen=True)
class RetirementDecision:
    category: Category
    birth: Month
    original_age_months: int
    statutory_age_months: int
    delay_months: int
    retirement_month: Month
    earliest_month: Month
    latest_month: Month
    # For the year of the statutory retirement month.
    min_contribution_months: int


def decide_retirement(category: Category, birth: Month) -> RetirementDecision:
    """Statutory age, retirement month and flexible window for a worker born in ``birth``.

    The window is the rule applied mechanically; for cohorts that reached the original age before
    2025-01 it only describes the past.
    """
    rule = rule_for(category)
    delay = delay_months(category, birth)
    statutory = rule.original_age_months + delay
    retirement_month = birth.plus(statutory)
    earliest_age = max(rule.original_age_months, statutory - FLEXIBLE_MONTHS)
    return RetirementDecision(
        category=category,
        birth=birth,
        original_age_months=rule.original_age_months,
        statutory_age_months=statutory,
        delay_months=delay,
        retirement_month=retirement_month,
        earliest_month=birth.plus(earliest_age),
        latest_month=birth.plus(statutory + FLEXIBLE_MONTHS),
        min_contribution_months=min_contribution_months(retirement_month.year),
    )


def minimum_year_for(decision: RetirementDecision, retirement_month: Month) -> int:
    """The year whose minimum contribution applies when retiring in ``retirement_month``."""
    if not decision.earliest_month <= retirement_month <= decision.latest_month:
        msg = (
            f"{retirement_month}不在弹性退休时间范围内"
            f"（{decision.earliest_month}至{decision.latest_month}）"
        )
        raise RetirementRuleError(msg, code="outside_window")
    early = retirement_month < decision.retirement_month
    basis = EARLY_RETIREMENT_MINIMUM_YEAR if early else LATE_RETIREMENT_MINIMUM_YEAR
    if basis is MinimumYearBasis.ACTUAL_RETIREMENT:
        return retirement_month.year
    return decision.retirement_month.year


# --- 计发月数 ----------

# ASSUMPTION, no national text yet: for an age with extra months the divisor is interpolated
# linearly between the whole ages and rounded half-up to this step, as local practice has done
# since 2025 (e.g. 济南: 60岁1个月 → 138.4). Change it, or pass another DivisorTable, when a
# national table for ages in months is published.
DIVISOR_MONTH_ROUNDING_STEP: Final = Decimal("0.1")


def divisor_for_age(age_months: int, table: DivisorTable = DEFAULT_DIVISOR_TABLE) -> Decimal:
    """计发月数 at an age given in months, to one decimal."""
    years, months = divmod(age_months, MONTHS_PER_YEAR)
    by_age = table.months_by_whole_age
    if years not in by_age or (months and years + 1 not in by_age):
        msg = (
            f"退休年龄{years}岁{months}个月不在计发月数表（{table.source}）的范围内："
            f"{min(by_age)}岁至{max(by_age)}岁"
        )
        raise RetirementRuleError(msg, code="age_outside_table")
    this_age = Decimal(by_age[years])
    if months:
        next_age = Decimal(by_age[years + 1])
        this_age -= (this_age - next_age) * months / MONTHS_PER_YEAR
    return this_age.quantize(DIVISOR_MONTH_ROUNDING_STEP, rounding=ROUND_HALF_UP)


# --- Pension estimate (国发〔2005〕38号) ----------


def _require_non_negative_fen(label: str, fen: int | None) -> None:
    if fen is not None and fen < 0:
        msg = f"{label}不能为负数：{fen}分"
        raise RetirementRuleError(msg, code="negative_amount")


def _require_non_negative_months(label: str, months: int) -> None:
    if months < 0:
        msg = f"{label}不能为负数：{months}个月"
        raise RetirementRuleError(msg, code="negative_months")


def _require_valid_index(index: Decimal) -> None:
    if not index.is_finite() or index < 0:
        msg = f"本人平均缴费指数必须是非负数：{index}"
        raise RetirementRuleError(msg, code="bad_index")


@dataclass(frozen=True)
class PensionInputs:
    """Inputs of the estimate; amounts in fen.

    ``transitional_pension_fen`` (过渡性养老金) and ``local_top_up_fen`` (地方调节金等) follow
    provincial formulas that are not computed here: the caller supplies them or leaves them out,
    and the estimate reports them separately.
    """

    base_fen: int  # C: 上年度在岗职工月平均工资 of the province for the retirement year (计发基数)
    index: Decimal  # I: 本人平均缴费工资指数
    contribution_months: int  # N in months, 视同缴费年限 included; provinces differ on rounding N
    account_balance_fen: int  # 个人账户储存额 at retirement
    age_months: int  # age at retirement, which selects the 计发月数
    transitional_pension_fen: int | None = None
    local_top_up_fen: int | None = None
    # N in years as the 待遇核定表 prints it (31.5833, 42.58): the agency's formula uses that
    # printed figure, so when given it is N, and `contribution_months` is only its nearest month.
    contribution_years: Decimal | None = None

    def __post_init__(self) -> None:
        _require_non_negative_fen("计发基数", self.base_fen)
        _require_non_negative_fen("个人账户储存额", self.account_balance_fen)
        _require_non_negative_fen("过渡性养老金", self.transitional_pension_fen)
        _require_non_negative_fen("地方调节金", self.local_top_up_fen)
        _require_non_negative_months("缴费年限", self.contribution_months)
        _require_valid_index(self.index)


@dataclass(frozen=True)
class PensionEstimate:
    age_months: int
    divisor: Decimal
    divisor_table_version: str
    basic_pension_fen: int
    account_pension_fen: int
    transitional_pension_fen: int | None
    local_top_up_fen: int | None
    # The sum of the amounts above, each rounded once, so the printed figures add up.
    total_fen: int


def estimate_pension(
    inputs: PensionInputs, table: DivisorTable = DEFAULT_DIVISOR_TABLE
) -> PensionEstimate:
    """Monthly pension of an enterprise employee under 国发〔2005〕38号.

    基础养老金 = C × (1 + I) / 2 × N × 1%; 个人账户养老金 = 个人账户储存额 ÷ 计发月数.
    """
    divisor = divisor_for_age(inputs.age_months, table)
    n_in_months = (
        Decimal(inputs.contribution_months)
        if inputs.contribution_years is None
        else inputs.contribution_years * MONTHS_PER_YEAR
    )
    # C × (1 + I) / 2 × (months / 12) × 1%, in yuan from fen: one division, one rounding.
    basic_yuan = (
        Decimal(inputs.base_fen)
        * (1 + inputs.index)
        * n_in_months
        / (2 * MONTHS_PER_YEAR * 100 * _FEN_PER_YUAN)
    )
    account_yuan = Decimal(inputs.account_balance_fen) / (divisor * _FEN_PER_YUAN)
    basic_fen = round_half_up_to_fen(basic_yuan)
    account_fen = round_half_up_to_fen(account_yuan)
    extras = (inputs.transitional_pension_fen or 0) + (inputs.local_top_up_fen or 0)
    return PensionEstimate(
        age_months=inputs.age_months,
        divisor=divisor,
        divisor_table_version=table.version,
        basic_pension_fen=basic_fen,
        account_pension_fen=account_fen,
        transitional_pension_fen=inputs.transitional_pension_fen,
        local_top_up_fen=inputs.local_top_up_fen,
        total_fen=basic_fen + account_fen + extras,
    )


# --- Scenarios across the flexible window ----------

# ASSUMPTION for the projection only (the real account is credited once a year at the 记账利率
# announced by 人社部 and 财政部): each month worked, the balance earns annual_rate / 12 on what it
# held at the start of the month, then that month's contribution is credited.
ACCOUNT_INTEREST_PERIODS_PER_YEAR: Final = 12


@dataclass(frozen=True)
class ScenarioInputs:
    """A member's position at the start of ``as_of`` and what each further month worked adds.

    The same base C is used for every retirement month: future 计发基数 are unknown, so the caller
    states one. A member retiring in month R contributes for every month before R.
    """

    as_of: Month
    base_fen: int
    index: Decimal
    contribution_months: int  # paid before as_of
    account_balance_fen: int  # at the start of as_of
    monthly_account_contribution_fen: int  # credited to the personal account per month worked
    annual_interest_rate: Decimal  # stated by the caller, e.g. the last announced 记账利率
    transitional_pension_fen: int | None = None
    local_top_up_fen: int | None = None

    def __post_init__(self) -> None:
        _require_non_negative_fen("计发基数", self.base_fen)
        _require_non_negative_fen("个人账户储存额", self.account_balance_fen)
        _require_non_negative_fen("每月记入个人账户的缴费", self.monthly_account_contribution_fen)
        _require_non_negative_fen("过渡性养老金", self.transitional_pension_fen)
        _require_non_negative_fen("地方调节金", self.local_top_up_fen)
        _require_non_negative_months("已缴费月数", self.contribution_months)
        _require_valid_index(self.index)
        rate = self.annual_interest_rate
        if not rate.is_finite() or not 0 <= rate < 1:
            msg = f"记账利率必须不小于0且小于1：{rate}"
            raise RetirementRuleError(msg, code="bad_rate")


@dataclass(frozen=True)
class RetirementScenario:
    retirement_month: Month
    age_months: int
    months_from_statutory: int  # negative: early; positive: late
    contribution_months: int
    account_balance_fen: int
    minimum_year: int
    min_contribution_months: int
    shortfall_months: int
    pension: PensionEstimate

    @property
    def meets_minimum(self) -> bool:
        return self.shortfall_months == 0


def retirement_scenarios(
    decision: RetirementDecision,
    inputs: ScenarioInputs,
    table: DivisorTable = DEFAULT_DIVISOR_TABLE,
) -> tuple[RetirementScenario, ...]:
    """One scenario per retirement month of the flexible window still ahead of ``as_of``."""
    monthly_rate = inputs.annual_interest_rate / ACCOUNT_INTEREST_PERIODS_PER_YEAR
    contribution = Decimal(inputs.monthly_account_contribution_fen)
    balance_fen = Decimal(inputs.account_balance_fen)
    scenarios: list[RetirementScenario] = []
    for index in range(inputs.as_of.index, decision.latest_month.index + 1):
        if index >= decision.earliest_month.index:
            month = Month.from_index(index)
            scenarios.append(_scenario(decision, inputs, month, balance_fen, table))
        balance_fen = balance_fen * (1 + monthly_rate) + contribution
    return tuple(scenarios)


def _scenario(
    decision: RetirementDecision,
    inputs: ScenarioInputs,
    month: Month,
    balance_fen: Decimal,
    table: DivisorTable,
) -> RetirementScenario:
    contributed = inputs.contribution_months + month.index - inputs.as_of.index
    minimum_year = minimum_year_for(decision, month)
    # The projected balance is a money result shown to the member, so it is rounded once here.
    balance = round_half_up_to_fen(balance_fen / _FEN_PER_YUAN)
    age_months = month.index - decision.birth.index
    pension = estimate_pension(
        PensionInputs(
            base_fen=inputs.base_fen,
            index=inputs.index,
            contribution_months=contributed,
            account_balance_fen=balance,
            age_months=age_months,
            transitional_pension_fen=inputs.transitional_pension_fen,
            local_top_up_fen=inputs.local_top_up_fen,
        ),
        table,
    )
    return RetirementScenario(
        retirement_month=month,
        age_months=age_months,
        months_from_statutory=month.index - decision.retirement_month.index,
        contribution_months=contributed,
        account_balance_fen=balance,
        minimum_year=minimum_year,
        min_contribution_months=min_contribution_months(minimum_year),
        shortfall_months=contribution_shortfall_months(contributed, minimum_year),
        pension=pension,
    )
