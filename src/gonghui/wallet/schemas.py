"""Pydantic shapes of the wallet API."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from gonghui.core.inputs import MAX_ID
from gonghui.wallet.rules import Kinship, Purpose, RelationshipStatus, Scheme, Verification


class TransferIn(BaseModel):
    recipient_id: int = Field(ge=1, le=MAX_ID)
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
    recipient_id: int = Field(ge=1, le=2**63 - 1)
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


class RelativeIn(BaseModel):
    name: str = Field(max_length=64, description="亲属姓名")
    id_number: str = Field(max_length=18, description="亲属身份证号")
    kinship: Kinship
    commitment: bool = Field(description="已阅读并同意《共济承诺书》")


class ConfirmIn(BaseModel):
    commitment: bool = Field(description="已阅读并同意《共济承诺书》")
    face_sample: str = Field("", max_length=200, description="人脸采集样本（16周岁以上须核验）")


class DissolveIn(BaseModel):
    reason: str = Field("", max_length=200)


class RelativeOut(BaseModel):
    relationship_id: int
    insured_id: int
    name: str
    direction: Literal["give", "receive"] = Field(
        description="give：我是共济人；receive：我接受共济"
    )
    kinship: Kinship = Field(description="对方是我的什么亲属（从我这一方看）")
    status: RelationshipStatus


class DissolvedOut(BaseModel):
    relationship_id: int
    returned: str = Field(description="退回共济人的未用额度（元）")


class HistoryOut(BaseModel):
    at: str
    label: str
    memo: str
    amount: str


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
