"""What workers say of a position: likes, 1–5 ratings on the five aspects (one per visit),
comments and suggestions, and complaints with their call-back and closure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gonghui.core import audit
from gonghui.core.auth import Actor
from gonghui.core.errors import Conflict, InvalidInput
from gonghui.core.inputs import parse_mobile, whole_number_or_none
from gonghui.stations.models import Complaint, Feedback, Position, Rating, Visit
from gonghui.stations.rules import ComplaintStatus, FeedbackKind, complaint_step
from gonghui.stations.scoring import VISITOR_QUESTIONS, Aspect
from gonghui.stations.service import require_operator

MAX_TEXT = 500


@dataclass(frozen=True)
class Stars:
    rules: int
    service: int
    environment: int
    facilities: int
    effectiveness: int

    @classmethod
    def read(cls, values: dict[str, str]) -> Stars:
        problems, stars = [], {}
        for aspect in Aspect:
            raw = values.get(aspect.value, "").strip()
            if raw not in {"1", "2", "3", "4", "5"}:
                problems.append(f"请为“{VISITOR_QUESTIONS[aspect]}”选择满意程度")
            stars[aspect.value] = whole_number_or_none(raw) or 0
        if problems:
            raise InvalidInput("bad_rating", "；".join(problems))
        return cls(**stars)


def rate_visit(
    session: Session, visit: Visit, stars: Stars, *, now: datetime, source: str = "online"
) -> Rating:
    """One rating per visit: an online rating and a paper survey of the same visit count once."""
    taken = session.scalars(select(Rating.id).where(Rating.visit_id == visit.id)).first()
    if taken is not None:
        raise Conflict("already_rated", "这次到访已经评价过了，感谢您的反馈")
    rating = Rating(
        position_id=visit.position_id,
        visit_id=visit.id,
        rules=stars.rules,
        service=stars.service,
        environment=stars.environment,
        facilities=stars.facilities,
        effectiveness=stars.effectiveness,
        source=source,
        rated_at=now,
    )
    session.add(rating)
    session.flush()
    return rating


def leave_feedback(
    session: Session, visit: Visit, kind: FeedbackKind, body: str, *, now: datetime
) -> Feedback:
    text = body.strip()
    if kind is FeedbackKind.LIKE:
        liked = session.scalars(
            select(Feedback.id).where(Feedback.visit_id == visit.id, Feedback.kind == kind)
        ).first()
        if liked is not None:
            raise Conflict("already_liked", "这次到访已经点过赞了")
        text = ""
    elif not text or len(text) > MAX_TEXT:
        raise InvalidInput("bad_text", f"请填写{kind.label}内容（不超过{MAX_TEXT}字）")
    row = Feedback(position_id=visit.position_id, visit_id=visit.id, kind=kind, body=text, at=now)
    session.add(row)
    session.flush()
    return row


def file_complaint(
    session: Session,
    position: Position,
    body: str,
    *,
    now: datetime,
    visit: Visit | None = None,
    contact_name: str = "",
    contact_phone: str = "",
) -> Complaint:
    """A complaint; with a name and a phone it is real-name and must be called back."""
    text = body.strip()
    if not text or len(text) > 1000:  # noqa: PLR2004
        raise InvalidInput("bad_text", "请填写投诉内容（不超过1000字）")
    real_name = bool(contact_name.strip() or contact_phone.strip())
    phone = None
    if real_name:
        if not contact_name.strip():
            raise InvalidInput("name_required", "实名投诉请填写姓名")
        try:
            phone = parse_mobile(contact_phone)
        except ValueError as error:
            raise InvalidInput("bad_phone", f"实名投诉请留手机号以便回访：{error}") from None
    complaint = Complaint(
        position_id=position.id,
        visit_id=visit.id if visit else None,
        real_name=real_name,
        contact_name=contact_name.strip()[:64] or None,
        contact_phone=phone,
        body=text,
        status=ComplaintStatus.OPEN,
        received_at=now,
        called_back_at=None,
        callback_note=None,
        closed_at=None,
        resolution=None,
    )
    session.add(complaint)
    session.flush()
    return complaint


def handle_complaint(
    session: Session,
    complaint: Complaint,
    new: ComplaintStatus,
    note: str,
    *,
    actor: Actor,
    now: datetime,
) -> None:
    """Call back, then close: a real-name complaint cannot be closed unanswered."""
    require_operator(actor)
    if not note.strip():
        raise InvalidInput("note_required", "请填写回访记录或办结说明")
    try:
        step = complaint_step(complaint.status, new, real_name=complaint.real_name)
    except ValueError as error:
        raise InvalidInput("bad_transition", str(error)) from None
    before = complaint.status
    complaint.status = step
    if step is ComplaintStatus.CALLED_BACK:
        complaint.called_back_at, complaint.callback_note = now, note.strip()[:500]
    else:
        complaint.closed_at, complaint.resolution = now, note.strip()[:500]
    audit.record(
        session,
        actor=actor,
        at=now,
        action="station.complaint_" + step.value,
        target_type="station_complaint",
        target_id=complaint.id,
        before={"status": before.value},
        after={"status": step.value},
    )
