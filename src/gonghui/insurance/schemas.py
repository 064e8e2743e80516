"""What the insurance API accepts and answers. Money leaves as yuan strings with two decimals."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field

from gonghui.core.money import yuan_string
from gonghui.insurance.claims_rules import Adjudication
from gonghui.insurance.figures import Headline
from gonghui.insurance.models import Claim


class BalanceRowIn(BaseModel):
    card_no: str
    date: str = Field(description="YYYY-MM-DD 或 YYYYMMDD")
    balance: str = Field(description="日终余额（元），最多两位小数")


class BalanceBatchIn(BaseModel):
    bank_code: str | None = Field(default=None, description="银行令牌可省略，默认为令牌所属银行")
    rows: list[BalanceRowIn] = Field(min_length=1, max_length=50_000)


class BalanceBatchOut(BaseModel):
    rows: int
    new_rows: int
    already_known: bool
    summary: str


class EstimateIn(BaseModel):
    card_no: str
    admission: date
    eligible_amount: str = Field(description="可报销费用（元）")


class EstimateOut(BaseModel):
    payable: str
    remaining_before: str
    remaining_after: str

    @classmethod
    def of(cls, result: Adjudication) -> EstimateOut:
        return cls(
            payable=yuan_string(result.payable_fen),
            remaining_before=yuan_string(result.remaining_before_fen),
            remaining_after=yuan_string(result.remaining_after_fen),
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
