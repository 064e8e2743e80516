"""Pure rules of the scheme: periods, average daily balance, eligibility. No I/O."""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum

from gonghui.core.money import Fen, format_fen, round_half_up_to_fen


class PeriodKind(StrEnum):
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


class DayCount(StrEnum):
    # Chinese banking practice: every calendar day of the period counts, days before the card
    # existed with a zero balance (domain note, "Average daily balance").
    CALENDAR = "calendar"
    # Apache Fineract's rule: only the days the card existed count.
    CARD_DAYS = "card_days"


@dataclass(frozen=True, order=True)
class Period:
    start: date
    end: date  # inclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def label(self) -> str:
        if self.start.day == 1 and self.end == _month_end(self.start):
            return f"{self.start.year}年{self.start.month}月"
        return f"{self.start.isoformat()}至{self.end.isoformat()}"

    @property
    def code(self) -> str:
        return f"{self.start:%Y-%m}"


def _month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def period_containing(day: date, kind: PeriodKind) -> Period:
    if kind is PeriodKind.MONTH:
        start = day.replace(day=1)
        return Period(start, _month_end(start))
    if kind is PeriodKind.QUARTER:
        start = date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
        return Period(start, _month_end(date(start.year, start.month + 2, 1)))
    return Period(date(day.year, 1, 1), date(day.year, 12, 31))


def following_period(period: Period, kind: PeriodKind, lag: int = 1) -> Period:
    """The coverage period `lag` periods after an assessed one."""
    result = period
    for _ in range(lag):
        result = period_containing(result.end + timedelta(days=1), kind)
    return result


@dataclass(frozen=True)
class BalancePoint:
    on: date
    balance_fen: Fen


def fen_days(points: Iterable[BalancePoint], period: Period) -> int:
    """Sum of end-of-day balances over the period's days. A day with no record carries the
    previous day's balance forward; days before the first record count zero.

    This is the reference definition; the assessment job computes the same in DuckDB.
    """
    ordered = sorted(points, key=lambda point: point.on)
    total = 0
    for index, point in enumerate(ordered):
        if point.on > period.end:
            break
        until = ordered[index + 1].on if index + 1 < len(ordered) else period.end + timedelta(1)
        start, stop = max(point.on, period.start), min(until, period.end + timedelta(1))
        if stop > start:
            total += point.balance_fen * (stop - start).days
    return total


def days_counted(period: Period, rule: DayCount, opened_on: date) -> int:
    if rule is DayCount.CALENDAR or opened_on <= period.start:
        return period.days
    if opened_on > period.end:
        return 0
    return (period.end - opened_on).days + 1


def average_daily_balance(total_fen_days: int, days: int) -> Fen:
    """Rounded half-up to the fen, once."""
    if days <= 0:
        return 0
    return round_half_up_to_fen(Decimal(total_fen_days) / days / 100)


class Ineligibility(StrEnum):
    BALANCE = "balance"
    NOT_IN_SERVICE = "not_in_service"
    MEMBERSHIP = "membership"
    UNIT_NOT_ENROLLED = "unit_not_enrolled"
    CARD_INACTIVE = "card_inactive"
    GROUP_TOO_SMALL = "group_too_small"

    @property
    def label(self) -> str:
        return INELIGIBILITY_LABELS[self]


INELIGIBILITY_LABELS = {
    Ineligibility.BALANCE: "日均余额未达标",
    Ineligibility.NOT_IN_SERVICE: "非在职会员（退休、返聘或内退）",
    Ineligibility.MEMBERSHIP: "会籍不在正常状态",
    Ineligibility.UNIT_NOT_ENROLLED: "所在单位未参加本计划",
    Ineligibility.CARD_INACTIVE: "会员卡已冻结或销户",
    Ineligibility.GROUP_TOO_SMALL: "所在单位达标人数不足团体最低人数",
}


def explain_balance(period: Period, average_fen: Fen, threshold_fen: Fen) -> str:
    """What a member reads: "您2025年1月日均余额为¥1,850.32，未达到¥2,000.00"."""
    verdict = "已达到" if average_fen >= threshold_fen else "未达到"
    return (
        f"您{period.label}日均余额为{format_fen(average_fen)}，{verdict}{format_fen(threshold_fen)}"
    )


# Fields of the 医保结算单 a plan may count as eligible; the default is the personal share
# within the basic-insurance policy scope (domain note, "Payable for a claim").
SETTLEMENT_FIELDS = {
    "policy_self_pay": "政策范围内个人自付",
    "class_b_self_pay": "乙类先行自付",
    "fully_self_paid": "全自费",
}


@dataclass(frozen=True)
class Terms:
    """A plan version's terms, as the rules read them."""

    threshold_fen: Fen = 200_000
    period_kind: PeriodKind = PeriodKind.MONTH
    coverage_lag: int = 1
    day_count: DayCount = DayCount.CALENDAR
    annual_cap_fen: Fen = 5_000_000
    deductible_fen: Fen = 0
    ratio_bp: int = 10_000
    eligible_fields: tuple[str, ...] = ("policy_self_pay",)
    min_group_size: int | None = None


@dataclass(frozen=True)
class CardFacts:
    """What the roll says about a card and its holder on the assessment day."""

    opened_on: date
    card_active: bool
    in_service: bool
    member_active: bool
    unit_enrolled: bool


@dataclass(frozen=True)
class CardDecision:
    average_fen: Fen
    days: int
    reasons: tuple[Ineligibility, ...]

    @property
    def eligible(self) -> bool:
        return not self.reasons


def decide_card(
    facts: CardFacts, total_fen_days: int, period: Period, terms: Terms
) -> CardDecision:
    """One card's assessment: its average daily balance and every reason it does not qualify.

    The minimum group size is a property of the unit, so it is applied over all cards after
    this (see `apply_group_minimum`)."""
    days = days_counted(period, terms.day_count, facts.opened_on)
    average = average_daily_balance(total_fen_days, days)
    reasons = [
        reason
        for reason, failed in (
            (Ineligibility.BALANCE, average < terms.threshold_fen),
            (Ineligibility.CARD_INACTIVE, not facts.card_active),
            (Ineligibility.NOT_IN_SERVICE, not facts.in_service),
            (Ineligibility.MEMBERSHIP, not facts.member_active),
            (Ineligibility.UNIT_NOT_ENROLLED, not facts.unit_enrolled),
        )
        if failed
    ]
    return CardDecision(average, days, tuple(reasons))


def apply_group_minimum(
    passing_members_by_unit: dict[int, set[int]], minimum: int | None
) -> set[int]:
    """Units whose passing members are too few for a group policy (团体, e.g. at least 6)."""
    if not minimum:
        return set()
    return {unit for unit, members in passing_members_by_unit.items() if len(members) < minimum}


@dataclass(frozen=True)
class RunningAverage:
    """Where a card stands inside a period that has not ended: the average of the days already
    reported, and the balance to hold on each remaining day to end the period on the line."""

    period: Period
    kind: PeriodKind
    through: date | None  # the last day counted (yesterday); None on the period's first day
    average_fen: Fen  # over the days counted so far; 0 when none
    needed_daily_fen: Fen  # to hold every remaining day, today included; 0: already assured
    remaining_days: int

    @property
    def assured(self) -> bool:
        return self.needed_daily_fen == 0


def running_average(
    total_fen_days: int, today: date, opened_on: date, terms: Terms
) -> RunningAverage:
    """The running average of the period containing `today`, from the fen-days of its days
    before `today` (a day is reported only once it has ended).

    Holding the amount a day on every remaining day reaches the threshold over the whole
    period, by the period's own day-count rule and rounding."""
    period = period_containing(today, terms.period_kind)
    whole = days_counted(period, terms.day_count, opened_on)
    through = today - timedelta(days=1) if today > period.start else None
    elapsed = (
        days_counted(Period(period.start, through), terms.day_count, opened_on) if through else 0
    )
    remaining = whole - elapsed
    # The least whole fen d with round_half_up((total + d × remaining) / whole) ≥ threshold,
    # i.e. 2 × (total + d × remaining) + whole ≥ 2 × whole × threshold (the decision's own
    # rounding, so the amount is exact: a fen less and the period falls short).
    shortfall = 2 * whole * terms.threshold_fen - whole - 2 * total_fen_days
    needed = max(0, -(-shortfall // (2 * remaining))) if remaining > 0 else 0
    average = average_daily_balance(total_fen_days, elapsed)
    return RunningAverage(period, terms.period_kind, through, average, needed, remaining)


def running_average_words(standing: RunningAverage, threshold_fen: Fen) -> str:
    """What a member reads: "本月截至昨日日均 ¥1,640.00，月底前每天保持 ¥2,380.00 即可达标"."""
    name = {PeriodKind.MONTH: "本月", PeriodKind.QUARTER: "本季度", PeriodKind.YEAR: "本年度"}
    end = {PeriodKind.MONTH: "月底", PeriodKind.QUARTER: "季度末", PeriodKind.YEAR: "年底"}
    kind = standing.kind
    if standing.through is None:
        head = f"{name[kind]}刚开始"
    else:
        head = f"{name[kind]}截至昨日日均 {format_fen(standing.average_fen)}"
    if standing.assured:
        return f"{head}，{name[kind]}已确定达标（{format_fen(threshold_fen)}）"
    return f"{head}，{end[kind]}前每天保持 {format_fen(standing.needed_daily_fen)} 即可达标"
