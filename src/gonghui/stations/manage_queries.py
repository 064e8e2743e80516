"""Reads behind the staff and manager pages (work records, complaints, vehicles, appeals,
rule sets), each scoped to what the actor may see; a single row by its id comes through
`queries` (`complaint_for`, `trip_for`, `appeal_for`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import ColumnElement, case, select, true
from sqlalchemy.orm import Session

from gonghui.core.auth import Actor, Permission
from gonghui.stations import queries
from gonghui.stations.models import (
    Activity,
    Appeal,
    Complaint,
    EvaluationRun,
    HeadCount,
    Position,
    RuleSetVersion,
    Score,
    Trip,
    Vehicle,
)
from gonghui.stations.rules import AppealStatus, ComplaintStatus

RECENT = 10
LIST_LIMIT = 200


def code_taken(session: Session, code: str) -> bool:
    return session.scalars(select(Position.id).where(Position.code == code)).first() is not None


def activities_of(session: Session, position: Position) -> list[Activity]:
    return list(
        session.scalars(
            select(Activity)
            .where(Activity.position_id == position.id)
            .order_by(Activity.held_on.desc(), Activity.id.desc())
            .limit(RECENT)
        )
    )


def counts_of(session: Session, position: Position) -> list[HeadCount]:
    return list(
        session.scalars(
            select(HeadCount)
            .where(HeadCount.position_id == position.id)
            .order_by(HeadCount.on_date.desc(), HeadCount.source)
            .limit(RECENT)
        )
    )


def complaints_of(session: Session, position: Position) -> list[Complaint]:
    """Those still waiting first (oldest first: they have waited longest), then the closed."""
    waiting = case((Complaint.status == ComplaintStatus.CLOSED, 1), else_=0)
    return list(
        session.scalars(
            select(Complaint)
            .where(Complaint.position_id == position.id)
            .order_by(waiting, case((waiting == 0, Complaint.id), else_=-Complaint.id))
            .limit(LIST_LIMIT)
        )
    )


def _vehicle_scope(actor: Actor) -> ColumnElement[bool]:
    actor.require(Permission.STATIONS_VIEW)
    if actor.is_federation_wide or actor.user_id is None:
        return true()
    return Vehicle.manager_user_id == actor.user_id


def vehicles_visible(session: Session, actor: Actor) -> list[Vehicle]:
    statement = select(Vehicle).where(_vehicle_scope(actor))
    return list(session.scalars(statement.order_by(Vehicle.name)))


def trips_of(session: Session, vehicle: Vehicle) -> list[Trip]:
    return list(
        session.scalars(
            select(Trip)
            .where(Trip.vehicle_id == vehicle.id)
            .order_by(Trip.scheduled_on.desc(), Trip.id.desc())
            .limit(LIST_LIMIT)
        )
    )


@dataclass(frozen=True)
class ScoreLine:
    """One evaluation of a position: the score, its run, and the appeal against it if any."""

    score: Score
    period: str
    decided_on: date
    appeal: Appeal | None


def scores_of(session: Session, position: Position, limit: int = 6) -> list[ScoreLine]:
    rows = session.execute(
        select(Score, EvaluationRun.period_label, EvaluationRun.decided_on, Appeal)
        .join(EvaluationRun, EvaluationRun.id == Score.run_id)
        .outerjoin(Appeal, Appeal.score_id == Score.id)
        .where(Score.position_id == position.id)
        .order_by(EvaluationRun.period_end.desc())
        .limit(limit)
    ).all()
    return [ScoreLine(row[0], row[1], row[2], row[3]) for row in rows]


@dataclass(frozen=True)
class AppealLine:
    appeal: Appeal
    score: Score
    period: str
    position_id: int
    position_name: str


def appeals_visible(session: Session, actor: Actor, *, pending: bool) -> list[AppealLine]:
    """Pending appeals oldest first (first filed, first decided); decided ones newest first."""
    status = Appeal.status == AppealStatus.PENDING
    order = Appeal.filed_at.asc() if pending else Appeal.decided_at.desc()
    rows = session.execute(
        select(Appeal, Score, EvaluationRun.period_label, Position.id, Position.name)
        .join(Score, Score.id == Appeal.score_id)
        .join(EvaluationRun, EvaluationRun.id == Score.run_id)
        .join(Position, Position.id == Appeal.position_id)
        .where(status if pending else ~status, queries.position_scope(actor))
        .order_by(order, Appeal.id)
        .limit(LIST_LIMIT)
    ).all()
    return [AppealLine(*row) for row in rows]


def rule_versions(session: Session, actor: Actor) -> list[RuleSetVersion]:
    """Every published version, newest first: the first is the one the next run uses."""
    actor.require(Permission.STATIONS_VIEW)
    return list(session.scalars(select(RuleSetVersion).order_by(RuleSetVersion.version.desc())))
