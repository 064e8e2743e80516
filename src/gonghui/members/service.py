"""Use cases that change the roll: units, members, cards, membership status.

Each takes a keyword-only `actor` and `now`, writes its audit row, and flushes; the entry
point (request, CLI command) commits.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gonghui.core import audit, outbox
from gonghui.core.auth import Actor, Permission, Role
from gonghui.core.clock import business_date
from gonghui.core.errors import Forbidden, InvalidInput
from gonghui.core.inputs import IdNumber
from gonghui.core.pii import IdentityVault, mask_id_number
from gonghui.members.models import (
    Card,
    Member,
    MembershipChange,
    Notification,
    Unit,
    User,
    WorkNotice,
)
from gonghui.members.rules import (
    CardStatus,
    EmploymentStatus,
    InvalidValue,
    MembershipStatus,
    PostType,
    check_card_transition,
    check_membership_transition,
    parse_card_no,
)


class Outcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class UnitRecord:
    name: str
    credit_code: str
    industry: str
    district: str
    parent_union: str


@dataclass(frozen=True)
class MemberRecord:
    name: str
    id_number: IdNumber
    phone: str
    unit_id: int
    post_type: PostType
    employment_status: EmploymentStatus


@dataclass(frozen=True)
class CardRecord:
    card_no: str
    member_id: int
    bank_id: int
    opened_on: date


def _snapshot(record: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    return {name: _plain(getattr(record, name)) for name in fields}


def _plain(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    return value


_UNIT_FIELDS = ("name", "credit_code", "industry", "district", "parent_union")


def save_unit(session: Session, record: UnitRecord, *, actor: Actor, now: datetime) -> Outcome:
    actor.require(Permission.UNITS_MANAGE)
    unit = session.scalars(select(Unit).where(Unit.credit_code == record.credit_code)).one_or_none()
    after = asdict(record)
    if unit is None:
        unit = Unit(**after, created_at=now)
        session.add(unit)
        session.flush()
        audit.record(
            session,
            actor=actor,
            at=now,
            action="unit.created",
            target_type="unit",
            target_id=unit.id,
            after=after,
        )
        return Outcome.CREATED
    before, changed = audit.changes(_snapshot(unit, _UNIT_FIELDS), after)
    if not changed:
        return Outcome.UNCHANGED
    for name, value in changed.items():
        setattr(unit, name, value)
    audit.record(
        session,
        actor=actor,
        at=now,
        action="unit.updated",
        target_type="unit",
        target_id=unit.id,
        before=before,
        after=changed,
    )
    return Outcome.UPDATED


_MEMBER_FIELDS = ("name", "phone", "unit_id", "post_type", "employment_status")


def save_member(
    session: Session, record: MemberRecord, *, actor: Actor, now: datetime, vault: IdentityVault
) -> Outcome:
    """Add a member to the roll, or bring an existing one (same ID number) up to date."""
    actor.require(Permission.MEMBERS_MANAGE)
    if not actor.is_federation_wide and record.unit_id != actor.unit_id:
        raise Forbidden("只能维护本单位的会员")
    id_hash = vault.search_hash(record.id_number.value)
    member = session.scalars(select(Member).where(Member.id_hash == id_hash)).one_or_none()
    after = {
        "name": record.name,
        "phone": record.phone,
        "unit_id": record.unit_id,
        "post_type": record.post_type.value,
        "employment_status": record.employment_status.value,
    }
    if member is None:
        member = Member(
            **after,
            id_hash=id_hash,
            id_cipher=vault.encrypt(record.id_number.value),
            id_masked=mask_id_number(record.id_number.value),
            birth_date=record.id_number.birth_date,
            sex=record.id_number.sex,
            membership_status=MembershipStatus.ACTIVE,
            created_at=now,
            updated_at=now,
        )
        session.add(member)
        session.flush()
        session.add(
            MembershipChange(
                member_id=member.id,
                from_status=None,
                to_status=MembershipStatus.ACTIVE,
                reason="入会登记",
                at=now,
                actor_label=actor.username,
            )
        )
        audit.record(
            session,
            actor=actor,
            at=now,
            action="member.created",
            target_type="member",
            target_id=member.id,
            after={**after, "id_masked": member.id_masked},
        )
        return Outcome.CREATED
    if not actor.is_federation_wide and member.unit_id != actor.unit_id:
        raise Forbidden("该会员属于其他单位，请联系总工会办理转会")
    before, changed = audit.changes(_snapshot(member, _MEMBER_FIELDS), after)
    if not changed:
        return Outcome.UNCHANGED
    for name, value in changed.items():
        setattr(member, name, value)
    member.updated_at = now
    audit.record(
        session,
        actor=actor,
        at=now,
        action="member.updated",
        target_type="member",
        target_id=member.id,
        before=before,
        after=changed,
    )
    return Outcome.UPDATED


def change_membership_status(
    session: Session,
    member: Member,
    new_status: MembershipStatus,
    reason: str,
    *,
    actor: Actor,
    now: datetime,
) -> None:
    actor.require(Permission.MEMBERS_MANAGE)
    if not reason.strip():
        raise InvalidInput("reason_required", "请填写会籍变更原因")
    try:
        check_membership_transition(member.membership_status, new_status)
    except InvalidValue as error:
        raise InvalidInput("bad_transition", str(error)) from None
    old = member.membership_status
    member.membership_status = new_status
    member.updated_at = now
    session.add(
        MembershipChange(
            member_id=member.id,
            from_status=old,
            to_status=new_status,
            reason=reason.strip(),
            at=now,
            actor_label=actor.username,
        )
    )
    audit.record(
        session,
        actor=actor,
        at=now,
        action="member.status_changed",
        target_type="member",
        target_id=member.id,
        before={"membership_status": old.value},
        after={"membership_status": new_status.value, "reason": reason.strip()},
    )


_CARD_FIELDS = ("member_id", "bank_id", "opened_on")


def save_card(session: Session, record: CardRecord, *, actor: Actor, now: datetime) -> Outcome:
    actor.require(Permission.CARDS_MANAGE)
    if actor.bank_id is not None and record.bank_id != actor.bank_id:
        raise Forbidden("只能登记本行发行的会员卡")
    parse_card_no(record.card_no)
    card = session.scalars(select(Card).where(Card.card_no == record.card_no)).one_or_none()
    after = _snapshot(record, _CARD_FIELDS)
    if card is None:
        card = Card(
            card_no=record.card_no,
            member_id=record.member_id,
            bank_id=record.bank_id,
            opened_on=record.opened_on,
            status=CardStatus.ACTIVE,
        )
        session.add(card)
        session.flush()
        audit.record(
            session,
            actor=actor,
            at=now,
            action="card.created",
            target_type="card",
            target_id=card.id,
            after={**after, "card_no": record.card_no},
        )
        return Outcome.CREATED
    before, changed = audit.changes(_snapshot(card, _CARD_FIELDS), after)
    if not changed:
        return Outcome.UNCHANGED
    card.opened_on = record.opened_on
    audit.record(
        session,
        actor=actor,
        at=now,
        action="card.updated",
        target_type="card",
        target_id=card.id,
        before=before,
        after=changed,
    )
    return Outcome.UPDATED


def change_card_status(
    session: Session, card: Card, new_status: CardStatus, *, actor: Actor, now: datetime
) -> None:
    """Freeze, unfreeze or close a card (a closed card's date is today in Beijing)."""
    actor.require(Permission.CARDS_MANAGE)
    try:
        check_card_transition(card.status, new_status)
    except InvalidValue as error:
        raise InvalidInput("bad_transition", str(error)) from None
    old = card.status
    card.status = new_status
    if new_status is CardStatus.CLOSED:
        card.closed_on = business_date(now)
    audit.record(
        session,
        actor=actor,
        at=now,
        action="card.status_changed",
        target_type="card",
        target_id=card.id,
        before={"status": old.value},
        after={"status": new_status.value, "closed_on": _plain(card.closed_on)},
    )


def notify_member(
    session: Session,
    member_id: int,
    title: str,
    body: str,
    *,
    now: datetime,
    link: str | None = None,
    sms_key: str | None = None,
) -> None:
    """Tell a member something in the app; they see it on their next visit. With `sms_key`
    (what the message is about, unique), a text to their phone is queued too, once per key."""
    session.add(
        Notification(member_id=member_id, at=now, title=title, body=body, link=link, read_at=None)
    )
    if sms_key is not None:
        phone = session.scalar(select(Member.phone).where(Member.id == member_id))
        if phone:
            outbox.queue_sms(
                session, key=sms_key, phone=phone, body=f"【职工服务平台】{title}：{body}", now=now
            )


def mark_notifications_read(
    session: Session, actor: Actor, *, now: datetime, notice_id: int | None = None
) -> None:
    """Mark the actor's own unread notices read: one of them, or every one."""
    if actor.member_id is None:
        return
    statement = select(Notification).where(
        Notification.member_id == actor.member_id, Notification.read_at.is_(None)
    )
    if notice_id is not None:
        statement = statement.where(Notification.id == notice_id)
    for notice in session.scalars(statement):
        notice.read_at = now


def notify_staff(
    session: Session,
    role: Role,
    unit_id: int | None,
    *,
    title: str,
    body: str,
    link: str | None,
    now: datetime,
) -> None:
    """A notice for the staff in one role (of one unit, for unit officers) on their home page."""
    session.add(WorkNotice(role=role, unit_id=unit_id, at=now, title=title, body=body, link=link))


def notify_user(
    session: Session, user_id: int, *, title: str, body: str, link: str | None, now: datetime
) -> None:
    """A notice for one staff account alone, on its home page (nothing if it is gone)."""
    user = session.get(User, user_id)
    if user is None or not user.is_active:
        return
    session.add(
        WorkNotice(
            role=user.role,
            unit_id=user.unit_id,
            user_id=user.id,
            at=now,
            title=title,
            body=body,
            link=link,
        )
    )
