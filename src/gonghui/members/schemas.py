"""What the JSON API answers. ID numbers leave the server masked unless the role needs them."""

from __future__ import annotations

from datetime import date
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field

from gonghui.core.auth import Actor, Permission
from gonghui.core.pagination import Page
from gonghui.core.pii import IdentityVault
from gonghui.members.banks import BankView
from gonghui.members.models import Card, Member, Unit
from gonghui.members.rules import MembershipStatus

T = TypeVar("T")


class MeOut(BaseModel):
    username: str
    display_name: str
    role: str | None
    role_label: str | None
    unit_id: int | None
    member_id: int | None
    bank_id: int | None
    via_token: bool

    @classmethod
    def from_actor(cls, actor: Actor) -> MeOut:
        return cls(
            username=actor.username,
            display_name=actor.display_name,
            role=actor.role.value if actor.role else None,
            role_label=actor.role.label if actor.role else None,
            unit_id=actor.unit_id,
            member_id=actor.member_id,
            bank_id=actor.bank_id,
            via_token=actor.token_id is not None,
        )


class UnitOut(BaseModel):
    id: int
    name: str
    credit_code: str
    industry: str
    district: str
    parent_union: str

    @classmethod
    def of(cls, unit: Unit) -> UnitOut:
        return cls(
            id=unit.id,
            name=unit.name,
            credit_code=unit.credit_code,
            industry=unit.industry,
            district=unit.district,
            parent_union=unit.parent_union,
        )


def shown_id_number(member: Member, actor: Actor, vault: IdentityVault) -> str:
    """The full number for roles that keep the roll, the masked one for everyone else."""
    if actor.can(Permission.FULL_ID_VIEW):
        return vault.decrypt(member.id_cipher)
    return member.id_masked


class MemberOut(BaseModel):
    id: int
    name: str
    id_number: str
    birth_date: date
    sex: str
    phone: str
    unit_id: int
    unit_name: str
    post_type: str
    employment_status: str
    membership_status: str

    @classmethod
    def of(cls, member: Member, actor: Actor, vault: IdentityVault) -> MemberOut:
        return cls(
            id=member.id,
            name=member.name,
            id_number=shown_id_number(member, actor, vault),
            birth_date=member.birth_date,
            sex=member.sex.value,
            phone=member.phone,
            unit_id=member.unit_id,
            unit_name=member.unit.name,
            post_type=member.post_type.value,
            employment_status=member.employment_status.value,
            membership_status=member.membership_status.value,
        )


class CardOut(BaseModel):
    id: int
    card_no: str
    bank_code: str
    bank_name: str
    member_id: int
    opened_on: date
    closed_on: date | None
    status: str

    @classmethod
    def of(cls, card: Card) -> CardOut:
        return cls(
            id=card.id,
            card_no=card.card_no,
            bank_code=card.bank.code,
            bank_name=card.bank.name,
            member_id=card.member_id,
            opened_on=card.opened_on,
            closed_on=card.closed_on,
            status=card.status.value,
        )


class PageOut(BaseModel, Generic[T]):
    items: list[T]
    total: int
    page: int
    pages: int

    @classmethod
    def of(cls, page: Page[Any], items: list[T]) -> PageOut[T]:
        return cls(items=items, total=page.total, page=page.page, pages=page.pages)


class StatusChangeIn(BaseModel):
    status: MembershipStatus
    reason: str


class ImportResultOut(BaseModel):
    kind: str
    rows: int
    created: int
    updated: int
    unchanged: int
    summary: str


class BankIn(BaseModel):
    code: str = Field(max_length=16, description="银行代码，如 YTB")
    name: str = Field(max_length=64)
    prefixes: list[str] = Field(default=[], max_length=50, description="会员卡号前缀（BIN）")


class BankUpdateIn(BaseModel):
    name: str = Field(max_length=64)
    prefixes: list[str] = Field(max_length=50, description="整体替换原有前缀")


class BankOut(BaseModel):
    id: int
    code: str
    name: str
    prefixes: list[str]
    retired_on: date | None

    @classmethod
    def of(cls, view: BankView) -> BankOut:
        return cls(
            id=view.id,
            code=view.code,
            name=view.name,
            prefixes=list(view.prefixes),
            retired_on=view.retired_on,
        )
