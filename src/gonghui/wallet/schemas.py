"""Pydantic shapes of the wallet API."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from gonghui.wallet.rules import Purpose, Scheme, Verification


class TransferIn(BaseModel):
    recipient_id: int
    amount: str = Field(description="金额（元），最多两位小数，如 500 或 500.00")
    method: Verification
    secret: str = Field(description="医保码密码，或人脸采集样本", max_length=200)


class PaymentIn(BaseModel):
    amount: str
    purpose: Purpose
    payee: str = Field(max_length=128)


class TransferOut(BaseModel):
    transfer_id: int
    status: str
    amount: str
    giver_id: int
    recipient_id: int
    submitted_at: str
    release_at: str


class PaymentOut(BaseModel):
    payment_id: int
    amount: str
    portions: dict[str, str]


class BalancesOut(BaseModel):
    insured_id: int
    personal: str
    held: str
    quota: str
    usage_region: str | None


class RegionOut(BaseModel):
    code: str
    name: str
    province_code: str
    level: str
    wallet_opened_on: str | None


class InsuredIn(BaseModel):
    name: str
    id_number: str
    scheme: Scheme
    region: str = Field(description="参保统筹区代码（6位）")


class InsuredOut(BaseModel):
    id: int
    name: str
    id_masked: str
    scheme: Scheme
    region: str
    member_linked: bool
    wallet_open: bool
    ended_on: str | None


class SettlementLineOut(BaseModel):
    spent_region: str
    giver_region: str
    amount: str


class SettlementOut(BaseModel):
    month: str
    regions: list[SettlementLineOut]
    provinces: list[SettlementLineOut]


def yuan_fields(result: dict[str, Any]) -> dict[str, Any]:
    from gonghui.core.money import yuan_string  # noqa: PLC0415 - keeps the schema module light

    out = {key: value for key, value in result.items() if key != "amount_fen"}
    out["amount"] = yuan_string(result["amount_fen"])
    if "portions" in result:
        out["portions"] = {giver: yuan_string(fen) for giver, fen in result["portions"].items()}
    return out
