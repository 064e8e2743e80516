"""Check-ins by QR scan, and head counts by camera or by hand, kept apart."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gonghui.core import audit
from gonghui.core.auth import Actor
from gonghui.core.clock import business_date
from gonghui.core.errors import InvalidInput, NotFound
from gonghui.core.inputs import parse_mobile
from gonghui.core.pii import mask_phone
from gonghui.stations import tokens
from gonghui.stations.models import HeadCount, Position, Visit
from gonghui.stations.rules import DUPLICATE_WINDOW, OPEN_STATUSES, CountSource, VisitorKind
from gonghui.stations.service import require_operator

MAX_DAILY_COUNT = 100_000


@dataclass(frozen=True)
class Visitor:
    """Who scans: a member (by id) or a visitor with a phone and an occupation."""

    member_id: int | None = None
    phone: str = ""
    occupation: str = ""


@dataclass(frozen=True)
class CheckIn:
    visit: Visit
    counted: bool  # False when a repeat scan within the window was folded into an earlier one
    position_name: str


def _person_key(key: bytes, visitor: Visitor) -> str:
    who = f"m:{visitor.member_id}" if visitor.member_id is not None else f"p:{visitor.phone}"
    return hmac.new(key, who.encode(), hashlib.sha256).hexdigest()


def _checked_visitor(visitor: Visitor) -> Visitor:
    if visitor.member_id is not None:
        return visitor
    try:
        phone = parse_mobile(visitor.phone)
    except ValueError as error:
        raise InvalidInput("bad_phone", str(error)) from None
    occupation = visitor.occupation.strip()
    if not occupation or len(occupation) > 32:  # noqa: PLR2004
        raise InvalidInput("bad_occupation", "请填写职业（不超过32个字）")
    return Visitor(None, phone, occupation)


def check_in(
    session: Session, token: str, visitor: Visitor, *, key: bytes, now: datetime
) -> CheckIn:
    """Record a scan of a position's code; a repeat by the same person at the same position
    within `DUPLICATE_WINDOW` returns the earlier visit and counts nothing new."""
    try:
        scan = tokens.verify(key, token, now)
    except tokens.TokenRefused as refusal:
        raise InvalidInput("bad_token", str(refusal)) from None
    position = session.get(Position, scan.position_id)
    if position is None or position.status not in OPEN_STATUSES:
        raise NotFound("阵地")
    visitor = _checked_visitor(visitor)
    person = _person_key(key, visitor)
    earlier = session.scalars(
        select(Visit)
        .where(
            Visit.position_id == position.id,
            Visit.person_key == person,
            Visit.visited_at > now - DUPLICATE_WINDOW,
        )
        .order_by(Visit.visited_at.desc())
    ).first()
    if earlier is not None:
        return CheckIn(earlier, counted=False, position_name=position.name)
    visit = Visit(
        position_id=position.id,
        kind=VisitorKind.MEMBER if visitor.member_id is not None else VisitorKind.VISITOR,
        member_id=visitor.member_id,
        person_key=person,
        phone_masked=mask_phone(visitor.phone) if visitor.phone else None,
        occupation=visitor.occupation or None,
        visited_at=now,
        token_issued_at=scan.issued_at,
    )
    session.add(visit)
    session.flush()
    return CheckIn(visit, counted=True, position_name=position.name)


def record_count(
    session: Session,
    position: Position,
    on_date: date,
    source: CountSource,
    people: int,
    *,
    actor: Actor,
    now: datetime,
) -> HeadCount:
    """A day's camera or hand count; entering the same day and source again corrects it."""
    require_operator(actor)
    if not 0 <= people <= MAX_DAILY_COUNT:
        raise InvalidInput("bad_count", f"人数应为0至{MAX_DAILY_COUNT}的整数")
    if on_date > business_date(now):
        raise InvalidInput("future_date", "不能登记未来日期的人数")
    row = session.scalars(
        select(HeadCount).where(
            HeadCount.position_id == position.id,
            HeadCount.on_date == on_date,
            HeadCount.source == source,
        )
    ).first()
    before = row.people if row else None
    label = f"{actor.username}({actor.display_name})"
    if row is None:
        row = HeadCount(
            position_id=position.id,
            on_date=on_date,
            source=source,
            people=people,
            recorded_at=now,
            actor_label=label,
        )
        session.add(row)
    else:
        row.people, row.recorded_at, row.actor_label = people, now, label
    session.flush()
    audit.record(
        session,
        actor=actor,
        at=now,
        action="station.count_recorded",
        target_type="station",
        target_id=position.id,
        before={"people": before} if before is not None else None,
        after={"date": str(on_date), "source": source.value, "people": people},
    )
    return row
