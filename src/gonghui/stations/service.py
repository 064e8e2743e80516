"""Positions: saved from a form or a spreadsheet, scoped to who runs them, their status moved
only through the state machine with a history row."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gonghui.core import audit, snapshots
from gonghui.core.auth import Actor, Permission
from gonghui.core.errors import Forbidden, InvalidInput
from gonghui.stations.geo import cell_of
from gonghui.stations.models import Position, StatusChange
from gonghui.stations.records import PositionRecord
from gonghui.stations.rules import MANUAL_TRANSITIONS, PositionStatus

# The `core.snapshots` board of the stations dashboard (`stations.dashboard`).
DASHBOARD_BOARD = "stations"


def _fields(record: PositionRecord) -> dict[str, object]:
    values = asdict(record)
    values["cell_row"], values["cell_col"] = cell_of(record.latitude, record.longitude)
    return values


def _plain(values: dict[str, object]) -> dict[str, object]:
    return {key: str(value) if isinstance(value, date) else value for key, value in values.items()}


def save_position(
    session: Session,
    record: PositionRecord,
    *,
    manager_user_id: int | None = None,
    actor: Actor,
    now: datetime,
) -> tuple[Position, bool]:
    """Create the position with this code, or update it; (position, created). The same
    record again changes nothing and writes no audit row."""
    actor.require(Permission.STATIONS_MANAGE)
    values = _fields(record)
    position = session.scalars(select(Position).where(Position.code == record.code)).first()
    if position is None:
        position = Position(
            **values,
            manager_user_id=manager_user_id,
            status=PositionStatus.ACTIVE,
            card_deadline=None,
            created_at=now,
            updated_at=now,
        )
        session.add(position)
        session.flush()
        _history(session, position, None, "新建阵地", actor=actor, now=now)
        audit.record(
            session,
            actor=actor,
            at=now,
            action="station.created",
            target_type="station",
            target_id=position.id,
            after=_plain(values),
        )
        return position, True
    before = {key: getattr(position, key) for key in values}
    old, new = audit.changes(_plain(before), _plain(values))
    if new:
        for key, value in values.items():
            setattr(position, key, value)
        position.updated_at = now
        audit.record(
            session,
            actor=actor,
            at=now,
            action="station.updated",
            target_type="station",
            target_id=position.id,
            before=old,
            after=new,
        )
    return position, False


def assign_manager(
    session: Session, position: Position, user_id: int | None, *, actor: Actor, now: datetime
) -> None:
    actor.require(Permission.STATIONS_MANAGE)
    before = position.manager_user_id
    position.manager_user_id = user_id
    position.updated_at = now
    # The managers' snapshots still count the position where it was: recounted on next view.
    snapshots.mark_stale(session, DASHBOARD_BOARD)
    audit.record(
        session,
        actor=actor,
        at=now,
        action="station.manager_assigned",
        target_type="station",
        target_id=position.id,
        before={"manager_user_id": before},
        after={"manager_user_id": user_id},
    )


def _history(
    session: Session,
    position: Position,
    from_status: PositionStatus | None,
    reason: str,
    *,
    actor: Actor,
    now: datetime,
    run_id: int | None = None,
) -> None:
    session.add(
        StatusChange(
            position_id=position.id,
            from_status=from_status,
            to_status=position.status,
            deadline=position.card_deadline,
            reason=reason,
            run_id=run_id,
            at=now,
            actor_label=f"{actor.username}({actor.display_name})",
        )
    )


def change_status(
    session: Session,
    position: Position,
    new: PositionStatus,
    reason: str,
    *,
    actor: Actor,
    now: datetime,
    deadline: date | None = None,
    run_id: int | None = None,
    check: bool = True,
) -> None:
    """Move a position's status and append the history row. By hand only the moves of
    `MANUAL_TRANSITIONS`; cards come from evaluations and appeals (`check=False`)."""
    if check:
        actor.require(Permission.STATIONS_MANAGE)
        if new not in MANUAL_TRANSITIONS[position.status]:
            raise InvalidInput(
                "bad_transition", f"阵地状态不能从“{position.status.label}”改为“{new.label}”"
            )
    if not reason.strip():
        raise InvalidInput("reason_required", "请填写原因")
    old = position.status
    position.status, position.card_deadline, position.updated_at = new, deadline, now
    _history(session, position, old, reason.strip()[:200], actor=actor, now=now, run_id=run_id)
    audit.record(
        session,
        actor=actor,
        at=now,
        action="station.status_changed",
        target_type="station",
        target_id=position.id,
        before={"status": old.value},
        after={"status": new.value, "reason": reason.strip()[:200]},
    )


def history_of(session: Session, position: Position) -> list[StatusChange]:
    return list(
        session.scalars(
            select(StatusChange)
            .where(StatusChange.position_id == position.id)
            .order_by(StatusChange.id.desc())
        )
    )


def require_operator(actor: Actor) -> None:
    if not actor.can(Permission.STATIONS_OPERATE):
        raise Forbidden
