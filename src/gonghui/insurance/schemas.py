"""What the insurance API accepts and answers. Money leaves as yuan strings with two decimals."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

from gonghui.core.money import yuan_string
from gonghui.insurance.claims_rules import Adjudication
from gonghui.insurance.figures import Headline
from gonghui.insurance.models import Claim


class BalanceRowIn(BaseModel):
    card_no: str
    date: str = Field(description="YYYY-MM-DD、YYYY/M/D 或 YYYYMMDD；须为已结束的日期（北京时间）")
    balance: str = Field(description="日终余额（元），最多两位小数，千分位逗号可选（2,500.00）")


class BalanceBatchIn(BaseModel):
    bank_code: str | None = Field(default=None, description="银行令牌可省略，默认为令牌所属银行")
    rows: list[BalanceRowIn] = Field(min_length=1, max_length=50_000)


class BalanceBatchOut(BaseModel):
    rows: int
    new_rows: int
    already_known: bool
    summary: str


class AssessmentIn(BaseModel):
    period: str = Field(description="考核期间 YYYY-MM（按季或按年的计划取其所在季度或年度）")
    plan_code: str | None = Field(default=None, description="计划代码（只有一个计划时可省略）")
    allow_missing_banks: bool = Field(
        default=False, description="有银行的余额文件未报送至期末时仍然考核（记入审计日志）"
    )


class AssessmentOut(BaseModel):
    period: str
    cards_assessed: int
    eligible: int
    ineligible: int
    banks_missing: list[str] = Field(description="余额文件未报送至期末的银行代码")


class EstimateIn(BaseModel):
    card_no: str
    admission: date
    eligible_amount: str = Field(description="可报销费用（元）")


class EstimateOut(BaseModel):
    payable: str
    remaining_before: str
    remaining_after: str
    covered: bool = Field(description="入院日期是否在保障期内；不在则本次没有可赔付金额")
    not_covered_reason: str | None = None

    @classmethod
    def of(cls, result: Adjudication, not_covered: str | None = None) -> EstimateOut:
        payable = 0 if not_covered else result.payable_fen
        return cls(
            payable=yuan_string(payable),
            remaining_before=yuan_string(result.remaining_before_fen),
            remaining_after=yuan_string(result.remaining_before_fen - payable),
            covered=not_covered is None,
            not_covered_reason=not_covered,
        )


class StandingOut(BaseModel):
    card_no: str
    period: str
    average_daily_balance: str
    days: int
    eligible: bool
    explanation: str


class ClaimOut(BaseModel):
    id: int
    member_id: int
    status: str
    status_label: str
    hospital: str
    admitted_on: date
    discharged_on: date
    invoice_no: str
    estimated: str
    approved: str | None
    payment_ref: str | None

    @classmethod
    def of(cls, claim: Claim) -> ClaimOut:
        return cls(
            id=claim.id,
            member_id=claim.member_id,
            status=claim.status.value,
            status_label=claim.status.label,
            hospital=claim.hospital,
            admitted_on=claim.admitted_on,
            discharged_on=claim.discharged_on,
            invoice_no=claim.invoice_no,
            estimated=yuan_string(claim.estimated_fen),
            approved=yuan_string(claim.approved_fen) if claim.approved_fen is not None else None,
            payment_ref=claim.payment_ref,
        )


class FiguresOut(BaseModel):
    participating_units: int
    person_times: int
    claims_concluded: int
    paid: str

    @classmethod
    def of(cls, head: Headline) -> FiguresOut:
        return cls(
            participating_units=head.participating_units,
            person_times=head.person_times,
            claims_concluded=head.claims_concluded,
            paid=yuan_string(head.paid_fen),
        )


class TermsIn(BaseModel):
    """A plan's terms; a field left out keeps the value it starts from (the version in force
    when amending, the scheme's defaults when creating)."""

    threshold: str | None = Field(None, max_length=20, description="达标日均余额（元）")
    cap: str | None = Field(None, max_length=20, description="每人每年赔付上限（元）")
    deductible: str | None = Field(None, max_length=20, description="免赔额（元）")
    ratio: str | None = Field(None, max_length=8, description="赔付比例（%），如 90")
    period: str | None = Field(None, max_length=16, description="month、quarter 或 year")
    day_count: str | None = Field(None, max_length=16, description="calendar 或 card_days")
    min_group_size: int | None = Field(None, ge=0, le=100_000)
    eligible_fields: list[str] = Field(default=[], max_length=3)

    def fields(self) -> dict[str, str]:
        values = self.model_dump(exclude={"eligible_fields"}, exclude_none=True)
        return {key: str(value) for key, value in values.items()}


class PlanIn(TermsIn):
    code: str = Field(max_length=32)
    name: str = Field(max_length=128)
    insurer: str = Field(max_length=128)
    bank_codes: list[str] = Field(min_length=1, max_length=20)
    effective_from: date


class PlanOut(BaseModel):
    id: int
    code: str
    name: str
    insurer: str
    version: int
    version_effective_from: date
    enrolled_units: int


class EnrolmentIn(BaseModel):
    action: Literal["enrol", "leave"] = "enrol"
    on: date
    all_units: bool = False
    district: str = Field("", max_length=64)
    industry: str = Field("", max_length=64)
    credit_codes: list[str] = Field(default=[], max_length=10_000)


class EnrolmentOut(BaseModel):
    changed: int = Field(description="参加或退出计划的单位数")
    enrolled_on_date: int = Field(description="该日参保的单位数")


class AmendmentIn(TermsIn):
    effective_from: date
    dry_run: bool = Field(default=False, description="只列出与现行版本的差异，不发布")


class TermChangeOut(BaseModel):
    label: str
    before: str
    after: str
    changed: bool


class AmendmentOut(BaseModel):
    version: int | None = Field(description="新版本号；dry_run 时为空")
    changes: list[TermChangeOut]
