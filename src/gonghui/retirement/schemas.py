"""What the retirement API and the CLI's ``--json`` answer: the same objects, the same keys."""

from __future__ import annotations

from dataclasses import asdict
from decimal import Decimal

from pydantic import BaseModel

from gonghui.core.money import yuan_string
from gonghui.retirement.impact import GroupImpact, ImpactReport, UpcomingRetirement, YearFigures
from gonghui.retirement.queries import ScopedImpact
from gonghui.retirement.rules import PensionEstimate, RetirementDecision


class AgeOut(BaseModel):
    category: str
    birth: str  # YYYY-MM
    original_age_months: int
    statutory_age_months: int
    delay_months: int
    retirement_month: str  # YYYY-MM
    earliest_month: str  # flexible early retirement (弹性提前), at the earliest
    latest_month: str  # flexible late retirement (弹性延迟), at the latest
    min_contribution_months: int  # for the year of the statutory retirement month

    @classmethod
    def of(cls, decision: RetirementDecision) -> AgeOut:
        return cls(
            category=decision.category.value,
            birth=str(decision.birth),
            original_age_months=decision.original_age_months,
            statutory_age_months=decision.statutory_age_months,
            delay_months=decision.delay_months,
            retirement_month=str(decision.retirement_month),
            earliest_month=str(decision.earliest_month),
            latest_month=str(decision.latest_month),
            min_contribution_months=decision.min_contribution_months,
        )


class PensionOut(BaseModel):
    divisor: str  # 计发月数, one decimal: "139.0"
    basic_pension: str  # yuan, two decimals
    account_pension: str
    total: str

    @classmethod
    def of(cls, estimate: PensionEstimate) -> PensionOut:
        return cls(
            divisor=str(estimate.divisor),
            basic_pension=yuan_string(estimate.basic_pension_fen),
            account_pension=yuan_string(estimate.account_pension_fen),
            total=yuan_string(estimate.total_fen),
        )


class YearOut(BaseModel):
    year: int
    reaching_original_age: int
    retiring_new: int
    aged_55_plus: int
    aged_60_plus: int
    aged_55_plus_original: int

    @classmethod
    def of(cls, figures: YearFigures) -> YearOut:
        return cls(**asdict(figures))


class GroupOut(BaseModel):
    key: str
    name: str
    industry: str
    members: int
    affected: int
    extra_months: int
    extra_months_per_member: Decimal
    extra_months_per_affected: Decimal
    past_retirement: int
    retiring_next_12_months: int
    years: list[YearOut]

    @classmethod
    def of(cls, group: GroupImpact) -> GroupOut:
        return cls(
            key=group.key,
            name=group.name,
            industry=group.industry,
            members=group.members,
            affected=group.affected,
            extra_months=group.extra_months,
            extra_months_per_member=group.extra_months_per_member,
            extra_months_per_affected=group.extra_months_per_affected,
            past_retirement=group.past_retirement,
            retiring_next_12_months=group.retiring_next_12_months,
            years=[YearOut.of(figures) for figures in group.years],
        )


class UpcomingOut(BaseModel):
    member_id: int
    unit_name: str
    unit_credit_code: str
    industry: str
    category: str
    birth: str
    original_month: str
    retirement_month: str
    delay_months: int

    @classmethod
    def of(cls, item: UpcomingRetirement) -> UpcomingOut:
        return cls(
            member_id=item.member_id,
            unit_name=item.unit_name,
            unit_credit_code=item.unit_credit_code,
            industry=item.industry,
            category=item.category.value,
            birth=str(item.birth),
            original_month=str(item.original_month),
            retirement_month=str(item.retirement_month),
            delay_months=item.delay_months,
        )


class ImpactOut(BaseModel):
    as_of: str  # YYYY-MM: the month the report starts from
    scope: str
    not_at_work: int
    total: GroupOut
    by_unit: list[GroupOut]
    by_industry: list[GroupOut]
    upcoming: list[UpcomingOut]

    @classmethod
    def of(cls, scoped: ScopedImpact) -> ImpactOut:
        report: ImpactReport = scoped.report
        return cls(
            as_of=str(report.as_of),
            scope=scoped.scope,
            not_at_work=report.not_at_work,
            total=GroupOut.of(report.total),
            by_unit=[GroupOut.of(group) for group in report.by_unit],
            by_industry=[GroupOut.of(group) for group in report.by_industry],
            upcoming=[UpcomingOut.of(item) for item in report.upcoming],
        )
