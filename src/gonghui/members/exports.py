"""Exports in the import templates' own layout, so an exported file can be imported again."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from gonghui.core.auth import Actor, Permission
from gonghui.core.pii import IdentityVault
from gonghui.core.tabular import write_xlsx
from gonghui.members import queries
from gonghui.members.imports import TEXT_COLUMNS, ImportKind
from gonghui.members.models import Card, Member
from gonghui.members.schemas import shown_id_number


def template_xlsx(kind: ImportKind) -> bytes:
    return write_xlsx(f"{kind.label}导入模板", kind.headers, [], text_columns=TEXT_COLUMNS)


def export_xlsx(session: Session, actor: Actor, vault: IdentityVault, kind: ImportKind) -> bytes:
    rows = {
        ImportKind.UNITS: _unit_rows,
        ImportKind.MEMBERS: _member_rows,
        ImportKind.CARDS: _card_rows,
    }[kind](session, actor, vault)
    return write_xlsx(f"{kind.label}", kind.headers, rows, text_columns=TEXT_COLUMNS)


def _unit_rows(session: Session, actor: Actor, _vault: IdentityVault) -> Iterator[list[object]]:
    for unit in session.scalars(queries.export_units(actor)):
        yield [unit.name, unit.credit_code, unit.industry, unit.district, unit.parent_union]


def _member_rows(session: Session, actor: Actor, vault: IdentityVault) -> Iterator[list[object]]:
    for member in session.scalars(queries.export_members(actor)):
        yield [
            member.name,
            vault.decrypt(member.id_cipher),
            member.phone,
            member.unit.credit_code,
            member.post_type.label,
            member.employment_status.label,
        ]


def _card_rows(session: Session, actor: Actor, vault: IdentityVault) -> Iterator[list[object]]:
    actor.require(Permission.CARDS_VIEW)
    statement = (
        select(Card)
        .where(queries.card_scope(actor))
        .options(joinedload(Card.bank), joinedload(Card.member))
        .order_by(Card.id)
    )
    for card in session.scalars(statement):
        member: Member = card.member
        yield [
            card.card_no,
            shown_id_number(member, actor, vault),
            card.bank.name,
            card.opened_on.isoformat(),
        ]
