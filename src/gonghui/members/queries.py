"""Scoped reads. Every load of a unit, member or card goes through here, filtered to what the
actor may see; a record outside the actor's scope is reported as not found."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
from sqlalchemy import ColumnElement, Select, String, cast, func, or_, select, true
from sqlalchemy.orm import Session, joinedload

from gonghui.core.auth import Actor, Permission
from gonghui.core.db import write_csv
from gonghui.core.errors import InvalidInput, NotFound
from gonghui.core.inputs import Sex, parse_id_number
from gonghui.core.pagination import Page, paged
from gonghui.core.pii import IdentityVault

# Bank and Member are re-exported (`as`): they are the records other modules receive from these
# queries, and the import contracts (pyproject.toml) keep those modules out of members' tables.
from gonghui.members.models import Bank as Bank  # noqa: PLC0414
from gonghui.members.models import (
    Card,
    MemberApplication,
    MembershipChange,
    Notification,
    Unit,
    User,
)
from gonghui.members.models import Member as Member  # noqa: PLC0414
from gonghui.members.rules import (
    ApplicationStatus,
    CardStatus,
    EmploymentStatus,
    InvalidValue,
    MembershipStatus,
    PostType,
)


def _member_scope(actor: Actor) -> ColumnElement[bool]:
    if actor.is_federation_wide:
        return true()
    if actor.unit_id is not None and actor.can(Permission.MEMBERS_VIEW):
        return Member.unit_id == actor.unit_id
    if actor.member_id is not None:
        return Member.id == actor.member_id
    return Member.id.is_(None)


def _unit_scope(actor: Actor) -> ColumnElement[bool]:
    if actor.is_federation_wide:
        return true()
    if actor.unit_id is not None:
        return Unit.id == actor.unit_id
    return Unit.id.is_(None)


def card_scope(actor: Actor) -> ColumnElement[bool]:
    if actor.bank_id is not None:
        return Card.bank_id == actor.bank_id
    return Card.member_id.in_(select(Member.id).where(_member_scope(actor)))


@dataclass(frozen=True)
class RollFilter:
    """What the roll's list is narrowed to: a search text and any of the coded columns."""

    search: str = ""
    membership: MembershipStatus | None = None
    employment: EmploymentStatus | None = None
    post_type: PostType | None = None
    district: str = ""

    def conditions(self, vault: IdentityVault) -> list[ColumnElement[bool]]:
        found = [
            column == value
            for column, value in (
                (Member.membership_status, self.membership),
                (Member.employment_status, self.employment),
                (Member.post_type, self.post_type),
            )
            if value is not None
        ]
        if self.district:
            found.append(Member.unit_id.in_(select(Unit.id).where(Unit.district == self.district)))
        if self.search.strip():
            found.append(_member_matches(self.search.strip(), vault))
        return found


def search_members(
    session: Session,
    actor: Actor,
    vault: IdentityVault,
    wanted: RollFilter,
    page: int = 1,
) -> Page[Member]:
    actor.require(Permission.MEMBERS_VIEW)
    statement = select(Member).where(_member_scope(actor), *wanted.conditions(vault))
    return paged(session, statement.order_by(Member.id), page, joinedload(Member.unit))


def _member_matches(query: str, vault: IdentityVault) -> ColumnElement[bool]:
    # A full ID number is found through its keyed hash; anything else by name or phone.
    try:
        id_number = parse_id_number(query, today=date.max)
    except InvalidValue:
        return or_(Member.name.contains(query, autoescape=True), Member.phone == query)
    return Member.id_hash == vault.search_hash(id_number.value)


def member_for(session: Session, actor: Actor, member_id: int) -> Member:
    member = session.scalars(
        select(Member)
        .where(Member.id == member_id, _member_scope(actor))
        .options(joinedload(Member.unit))
    ).one_or_none()
    if member is None:
        raise NotFound("会员")
    return member


def own_member(session: Session, actor: Actor) -> Member:
    if actor.member_id is None:
        raise NotFound("会员档案")
    return member_for(session, actor, actor.member_id)


def membership_history(session: Session, member: Member) -> Sequence[MembershipChange]:
    return session.scalars(
        select(MembershipChange)
        .where(MembershipChange.member_id == member.id)
        .order_by(MembershipChange.id)
    ).all()


def cards_of(session: Session, actor: Actor, member: Member) -> Sequence[Card]:
    return session.scalars(
        select(Card)
        .where(Card.member_id == member.id, card_scope(actor))
        .options(joinedload(Card.bank))
        .order_by(Card.opened_on)
    ).all()


def search_cards(session: Session, actor: Actor, query: str = "", page: int = 1) -> Page[Card]:
    actor.require(Permission.CARDS_VIEW)
    statement = select(Card).where(card_scope(actor))
    if query.strip():
        statement = statement.where(Card.card_no.startswith(query.strip(), autoescape=True))
    return paged(
        session,
        statement.order_by(Card.id),
        page,
        joinedload(Card.bank),
        joinedload(Card.member).joinedload(Member.unit),
    )


def search_units(session: Session, actor: Actor, query: str = "", page: int = 1) -> Page[Unit]:
    actor.require(Permission.UNITS_VIEW)
    statement = select(Unit).where(_unit_scope(actor))
    if query.strip():
        text = query.strip()
        statement = statement.where(
            or_(Unit.name.contains(text, autoescape=True), Unit.credit_code == text.upper())
        )
    return paged(session, statement.order_by(Unit.id), page)


def unit_for(session: Session, actor: Actor, unit_id: int) -> Unit:
    actor.require(Permission.UNITS_VIEW)
    unit = session.scalars(select(Unit).where(Unit.id == unit_id, _unit_scope(actor))).one_or_none()
    if unit is None:
        raise NotFound("单位")
    return unit


def unit_member_count(session: Session, unit: Unit) -> int:
    return session.scalar(select(func.count()).where(Member.unit_id == unit.id)) or 0


def units_by_credit_code(session: Session, codes: set[str]) -> dict[str, Unit]:
    if not codes:
        return {}
    rows = session.scalars(select(Unit).where(Unit.credit_code.in_(codes))).all()
    return {unit.credit_code: unit for unit in rows}


def members_by_hash(session: Session, hashes: set[str]) -> dict[str, Member]:
    found: dict[str, Member] = {}
    ordered = sorted(hashes)
    # Chunked so that a 10,000-row file stays under every backend's bound-parameter limit.
    for start in range(0, len(ordered), 500):
        chunk = ordered[start : start + 500]
        for member in session.scalars(select(Member).where(Member.id_hash.in_(chunk))):
            found[member.id_hash] = member
    return found


def cards_by_number(session: Session, numbers: set[str]) -> dict[str, Card]:
    found: dict[str, Card] = {}
    ordered = sorted(numbers)
    for start in range(0, len(ordered), 500):
        chunk = ordered[start : start + 500]
        for card in session.scalars(select(Card).where(Card.card_no.in_(chunk))):
            found[card.card_no] = card
    return found


def all_banks(session: Session) -> Sequence[Bank]:
    return session.scalars(select(Bank).order_by(Bank.id)).all()


def bank_names(session: Session) -> dict[str, str]:
    """Each bank's name by its code: people read names; files and tallies keep codes."""
    return dict(session.execute(select(Bank.code, Bank.name)).all())


def bank_for(session: Session, actor: Actor, bank_id: int) -> Bank:
    bank = session.get(Bank, bank_id)
    if bank is None or (actor.bank_id is not None and actor.bank_id != bank.id):
        raise NotFound("银行")
    return bank


def districts_in_scope(session: Session, actor: Actor) -> list[str]:
    """The districts of the units this person sees, for the units template's drop-down list."""
    actor.require(Permission.UNITS_VIEW)
    return list(
        session.scalars(
            select(Unit.district).where(_unit_scope(actor)).distinct().order_by(Unit.district)
        )
    )


def export_units(actor: Actor) -> Select[Unit]:
    actor.require(Permission.UNITS_VIEW)
    return select(Unit).where(_unit_scope(actor)).order_by(Unit.id)


def export_members(actor: Actor) -> Select[Member]:
    actor.require(Permission.FULL_ID_VIEW)
    return (
        select(Member)
        .where(_member_scope(actor))
        .options(joinedload(Member.unit))
        .order_by(Member.id)
    )


@dataclass(frozen=True)
class Overview:
    units: int
    members: int
    active_members: int
    cards_by_bank: list[tuple[str, int]]


def roll_overview(session: Session, actor: Actor) -> Overview:
    """Head counts of what the actor may see, for the home page."""
    visible_members = select(Member.id).where(_member_scope(actor))
    units = (
        session.scalar(select(func.count()).select_from(Unit).where(_unit_scope(actor)))
        if actor.can(Permission.UNITS_VIEW)
        else 0
    )
    # FROM named: for federation-wide roles the scope is `true()`, which names no table, and a
    # count over no table is 1 (the staff home showed `1 会员` beside `10,001 在会会员`).
    members = (
        session.scalar(select(func.count()).select_from(Member).where(_member_scope(actor))) or 0
    )
    active = (
        session.scalar(
            select(func.count()).where(
                _member_scope(actor), Member.membership_status == MembershipStatus.ACTIVE
            )
        )
        or 0
    )
    cards = session.execute(
        select(Bank.name, func.count(Card.id))
        .join(Card, Card.bank_id == Bank.id)
        .where(card_scope(actor) if actor.bank_id else Card.member_id.in_(visible_members))
        .group_by(Bank.name)
        .order_by(Bank.name)
    ).all()
    return Overview(units or 0, members, active, [(name, count) for name, count in cards])


@dataclass(frozen=True)
class MemberProfile:
    """What another module may know of a member for statistics: no name, no ID number."""

    member_id: int
    unit_id: int
    unit_name: str
    unit_credit_code: str
    industry: str
    birth_date: date
    sex: Sex
    post_type: PostType
    employment_status: EmploymentStatus


def member_profiles(
    session: Session, actor: Actor, unit_id: int | None = None
) -> list[MemberProfile]:
    """Active members the actor may see (optionally one unit), for reports such as the
    retirement impact analysis."""
    actor.require(Permission.MEMBERS_VIEW)
    statement = (
        select(
            Member.id,
            Member.unit_id,
            Unit.name,
            Unit.credit_code,
            Unit.industry,
            Member.birth_date,
            Member.sex,
            Member.post_type,
            Member.employment_status,
        )
        .join(Unit, Unit.id == Member.unit_id)
        .where(_member_scope(actor), Member.membership_status == MembershipStatus.ACTIVE)
        .order_by(Member.id)
    )
    if unit_id is not None:
        statement = statement.where(Member.unit_id == unit_id)
    return [MemberProfile(*row) for row in session.execute(statement)]


def unit_by_credit_code(session: Session, actor: Actor, code: str) -> Unit:
    """A unit by its credit code, within the actor's scope."""
    actor.require(Permission.UNITS_VIEW)
    unit = session.scalars(
        select(Unit).where(Unit.credit_code == code.strip().upper(), _unit_scope(actor))
    ).one_or_none()
    if unit is None:
        raise NotFound("单位")
    return unit


def card_banks(session: Session) -> dict[str, int]:
    """Every card number with its bank, for checking a bank's balance file."""
    rows = session.execute(select(Card.card_no, Card.bank_id))
    return {row.card_no: row.bank_id for row in rows}


def bank_ids_with_cards(session: Session) -> set[int]:
    """The banks that have issued at least one card on the roll."""
    return set(session.scalars(select(Card.bank_id).distinct()))


@dataclass(frozen=True)
class CardHolding:
    """A card with the facts about its holder that the insurance assessment needs."""

    card_id: int
    card_no: str
    bank_id: int
    member_id: int
    unit_id: int
    opened_on: date
    card_status: CardStatus
    employment_status: EmploymentStatus
    membership_status: MembershipStatus


def card_holdings(
    session: Session, bank_ids: list[int], card_no: str | None = None
) -> list[CardHolding]:
    """Every card of the given banks (or the one card) with its holder's standing; the batch
    jobs read it in one pass."""
    statement = (
        select(
            Card.id,
            Card.card_no,
            Card.bank_id,
            Card.member_id,
            Member.unit_id,
            Card.opened_on,
            Card.status,
            Member.employment_status,
            Member.membership_status,
        )
        .join(Member, Member.id == Card.member_id)
        .where(Card.bank_id.in_(bank_ids))
        .order_by(Card.id)
    )
    if card_no is not None:
        statement = statement.where(Card.card_no == card_no)
    return [CardHolding(*row) for row in session.execute(statement)]


def notifications_for(session: Session, actor: Actor, limit: int = 50) -> Sequence[Notification]:
    if actor.member_id is None:
        return []
    return session.scalars(
        select(Notification)
        .where(Notification.member_id == actor.member_id)
        .order_by(Notification.id.desc())
        .limit(limit)
    ).all()


def unread_notifications(session: Session, actor: Actor) -> int:
    if actor.member_id is None:
        return 0
    return (
        session.scalar(
            select(func.count()).where(
                Notification.member_id == actor.member_id, Notification.read_at.is_(None)
            )
        )
        or 0
    )


def industry_exists(session: Session, industry: str) -> bool:
    """Whether some unit is in the industry (industries are free text on the unit)."""
    return session.scalar(select(Unit.id).where(Unit.industry == industry).limit(1)) is not None


def unit_names(session: Session, unit_ids: list[int]) -> dict[int, str]:
    if not unit_ids:
        return {}
    return {
        row.id: row.name
        for row in session.execute(select(Unit.id, Unit.name).where(Unit.id.in_(unit_ids)))
    }


def members_named(text: str) -> Select[int]:
    """The ids of members whose name contains `text`, for another module's search."""
    return select(Member.id).where(Member.name.contains(text, autoescape=True))


def member_names(session: Session, member_ids: list[int]) -> dict[int, str]:
    if not member_ids:
        return {}
    rows = session.execute(select(Member.id, Member.name).where(Member.id.in_(member_ids)))
    return {row.id: row.name for row in rows}


HOLDING_COLUMNS = (
    "card_id",
    "card_no",
    "bank_id",
    "member_id",
    "unit_id",
    "opened_on",
    "card_status",
    "employment_status",
    "membership_status",
)


def write_card_holdings(session: Session, bank_ids: list[int], path: Path) -> None:
    """The same facts as `card_holdings`, as plain text and numbers in HOLDING_COLUMNS order,
    written to a CSV file for batch jobs that hand ten million of them to DuckDB."""
    statement = (
        select(
            Card.id,
            Card.card_no,
            Card.bank_id,
            Card.member_id,
            Member.unit_id,
            cast(Card.opened_on, String),
            cast(Card.status, String),
            cast(Member.employment_status, String),
            cast(Member.membership_status, String),
        )
        .join(Member, Member.id == Card.member_id)
        .where(Card.bank_id.in_(bank_ids))
    )
    write_csv(session, statement, path)


def member_of_user(session: Session, username: str) -> Member | None:
    """The member behind a member's login (the demo uses it to script its persona)."""
    return session.scalars(
        select(Member).join(User, User.member_id == Member.id).where(User.username == username)
    ).one_or_none()


def card_for(session: Session, actor: Actor, card_id: int) -> Card:
    """A card the actor may manage: a bank its own, the federation any."""
    actor.require(Permission.CARDS_MANAGE)
    card = session.scalars(
        select(Card).where(Card.id == card_id, card_scope(actor)).options(joinedload(Card.bank))
    ).one_or_none()
    if card is None:
        raise NotFound("会员卡")
    return card


FACT_COLUMNS = ("member_id", "unit_id", "birth_date", "sex", "post_type", "employment_status")
UNIT_COLUMNS = ("unit_id", "unit_name", "unit_credit_code", "industry")


@dataclass(frozen=True)
class ProfileColumns:
    """The members of `member_profiles` as Arrow tables: each member's own facts
    (FACT_COLUMNS), and their units once each (UNIT_COLUMNS): a million members share a few
    thousand units, so the unit's text is not repeated a million times."""

    members: pa.Table
    units: pa.Table


def member_profile_columns(
    session: Session, actor: Actor, unit_id: int | None = None, industry: str = ""
) -> ProfileColumns:
    """The same members and facts as `member_profiles` (optionally one unit, or one industry),
    built column by column from plain rows so that a million members never become a million
    objects; enums as their text values, the birth date as date32."""
    actor.require(Permission.MEMBERS_VIEW)
    scope = [_member_scope(actor), Member.membership_status == MembershipStatus.ACTIVE]
    if unit_id is not None:
        scope.append(Member.unit_id == unit_id)
    if industry:
        scope.append(Unit.industry == industry)
    facts = (
        select(
            Member.id,
            Member.unit_id,
            cast(Member.birth_date, String),
            cast(Member.sex, String),
            cast(Member.post_type, String),
            cast(Member.employment_status, String),
        )
        .join(Unit, Unit.id == Member.unit_id)
        .where(*scope)
        .order_by(Member.id)
    )
    in_scope = select(Member.unit_id).join(Unit, Unit.id == Member.unit_id).where(*scope)
    units = select(Unit.id, Unit.name, Unit.credit_code, Unit.industry).where(Unit.id.in_(in_scope))
    members = _arrow(session.execute(facts).all(), FACT_COLUMNS, (pa.int64(), pa.int64()))
    # Both backends render a date as ISO text (YYYY-MM-DD), which Arrow casts without a format.
    members = members.set_column(2, "birth_date", members["birth_date"].cast(pa.date32()))
    return ProfileColumns(
        members, _arrow(session.execute(units.order_by(Unit.id)).all(), UNIT_COLUMNS, (pa.int64(),))
    )


def _arrow(
    rows: Sequence[Any], names: tuple[str, ...], leading: tuple[pa.DataType, ...]
) -> pa.Table:
    """Rows as an Arrow table: the `leading` columns of these types, the rest text."""
    columns = list(zip(*rows, strict=True)) or [()] * len(names)
    types = (*leading, *(pa.string(),) * (len(names) - len(leading)))
    arrays = [pa.array(column, kind) for column, kind in zip(columns, types, strict=True)]
    return pa.Table.from_arrays(arrays, names=list(names))


@dataclass(frozen=True)
class UnitSelection:
    """Which units an operation takes: all, or those of a district, an industry, or named by
    their credit codes (the filters narrow one another)."""

    everything: bool = False
    district: str = ""
    industry: str = ""
    credit_codes: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.everything or self.district or self.industry or self.credit_codes)


def selected_unit_ids(session: Session, selection: UnitSelection) -> list[int]:
    if selection.empty:
        return []
    statement = select(Unit.id).order_by(Unit.id)
    if selection.district:
        statement = statement.where(Unit.district == selection.district.strip())
    if selection.industry:
        statement = statement.where(Unit.industry == selection.industry.strip())
    if selection.credit_codes:
        codes = {code.strip().upper() for code in selection.credit_codes if code.strip()}
        known = set(session.scalars(select(Unit.credit_code).where(Unit.credit_code.in_(codes))))
        if unknown := sorted(codes - known):
            raise InvalidInput(
                "unknown_unit", f"统一社会信用代码对应的单位不存在：{'、'.join(unknown)}"
            )
        statement = statement.where(Unit.credit_code.in_(codes))
    return list(session.scalars(statement))


def unit_choices(session: Session) -> tuple[list[str], list[str]]:
    """The districts and industries on the roll, for the enrolment form's lists."""
    districts = session.scalars(select(Unit.district).distinct().order_by(Unit.district))
    industries = session.scalars(select(Unit.industry).distinct().order_by(Unit.industry))
    return list(districts), list(industries)


def unit_count(session: Session) -> int:
    return session.scalar(select(func.count(Unit.id))) or 0


def retired_bank_ids(session: Session, on: date) -> set[int]:
    """Banks whose partnership had ended by a day."""
    return set(
        session.scalars(select(Bank.id).where(Bank.retired_on.is_not(None), Bank.retired_on <= on))
    )


@dataclass(frozen=True)
class CardHolder:
    name: str
    unit_name: str
    active: bool


def card_holder(session: Session, member_id: int) -> CardHolder | None:
    """Who a verified member card belongs to. Loaded by bare id on purpose: the caller has
    checked the card's signature, which is the only authority a scanner holds."""
    row = session.execute(
        select(Member.name, Unit.name, Member.membership_status)
        .join(Unit, Unit.id == Member.unit_id)
        .where(Member.id == member_id)
    ).first()
    if row is None:
        return None
    return CardHolder(row[0], row[1], row[2] is MembershipStatus.ACTIVE)


def applications_for(
    session: Session, actor: Actor, status: ApplicationStatus | None = ApplicationStatus.PENDING
) -> Sequence[MemberApplication]:
    actor.require(Permission.MEMBERS_MANAGE)
    statement = select(MemberApplication).order_by(MemberApplication.submitted_at)
    if not actor.is_federation_wide:
        statement = statement.where(MemberApplication.unit_id == actor.unit_id)
    if status is not None:
        statement = statement.where(MemberApplication.status == status)
    return session.scalars(statement.limit(200)).all()


def application_for(session: Session, actor: Actor, application_id: int) -> MemberApplication:
    actor.require(Permission.MEMBERS_MANAGE)
    found = session.get(MemberApplication, application_id)
    if found is None or (not actor.is_federation_wide and found.unit_id != actor.unit_id):
        raise NotFound("入会申请")
    return found
