"""Giving, withdrawing and checking consents. Each change writes an audit row."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gonghui.consents.models import Consent
from gonghui.consents.rules import WORDINGS, Purpose, Subject, counts_for_period
from gonghui.core import audit
from gonghui.core.auth import Actor
from gonghui.core.errors import InvalidInput


def _active(session: Session, subject: Subject, subject_id: int, purpose: Purpose) -> list[Consent]:
    return list(
        session.scalars(
            select(Consent)
            .where(
                Consent.subject == subject,
                Consent.subject_id == subject_id,
                Consent.purpose == purpose,
                Consent.withdrawn_at.is_(None),
            )
            .order_by(Consent.id)
        )
    )


def has_consent(session: Session, subject: Subject, subject_id: int, purpose: Purpose) -> bool:
    """Given, not withdrawn, and to the wording now in force (a new version asks again)."""
    version = WORDINGS[purpose].version
    return any(c.version == version for c in _active(session, subject, subject_id, purpose))


def give(
    session: Session,
    subject: Subject,
    subject_id: int,
    purpose: Purpose,
    *,
    actor: Actor,
    now: datetime,
    client: str = "",
) -> Consent:
    wording = WORDINGS[purpose]
    if wording.subject is not subject:
        raise InvalidInput("bad_consent", "该同意事项不适用")
    for held in _active(session, subject, subject_id, purpose):
        if held.version == wording.version:
            return held
    consent = Consent(
        subject=subject,
        subject_id=subject_id,
        purpose=purpose,
        version=wording.version,
        given_at=now,
        given_by=audit.label_of(actor),
        given_from=client[:64],
        withdrawn_at=None,
        withdrawn_by=None,
    )
    session.add(consent)
    session.flush()
    audit.record(
        session,
        actor=actor,
        at=now,
        action="consent.given",
        target_type=subject.value,
        target_id=subject_id,
        after={"purpose": purpose.value, "version": wording.version, "client": client},
    )
    return consent


def withdraw(
    session: Session,
    subject: Subject,
    subject_id: int,
    purpose: Purpose,
    *,
    actor: Actor,
    now: datetime,
    client: str = "",
) -> int:
    held = _active(session, subject, subject_id, purpose)
    for consent in held:
        consent.withdrawn_at = now
        consent.withdrawn_by = audit.label_of(actor)
    if held:
        audit.record(
            session,
            actor=actor,
            at=now,
            action="consent.withdrawn",
            target_type=subject.value,
            target_id=subject_id,
            after={"purpose": purpose.value, "client": client},
        )
    return len(held)


def history(session: Session, subject: Subject, subject_id: int) -> Sequence[Consent]:
    return session.scalars(
        select(Consent)
        .where(Consent.subject == subject, Consent.subject_id == subject_id)
        .order_by(Consent.given_at.desc(), Consent.id.desc())
    ).all()


def withdrawn_for_period(session: Session, purpose: Purpose, period_start: date) -> set[int]:
    """Members whose consent to `purpose` no longer covers a period starting on
    `period_start`: their latest record was withdrawn before the period began. Someone with
    no record at all is not in the set (the sharing rests on the scheme's enrolment until
    the member withdraws)."""
    latest: dict[int, Consent] = {}
    for consent in session.scalars(
        select(Consent).where(Consent.purpose == purpose).order_by(Consent.given_at, Consent.id)
    ):
        latest[consent.subject_id] = consent
    return {
        subject_id
        for subject_id, consent in latest.items()
        if not counts_for_period(consent.withdrawn_at, period_start)
    }
