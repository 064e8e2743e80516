"""Reads of the stations module, each scoped to what the actor may see. A single row by its id
comes through a `*_for(session, actor, id)` here; a record that belongs to a position or a
vehicle is loaded through it, so a manager never reaches another manager's records."""

from __future__ import annotations

from sqlalchemy import ColumnElement, func, or_, select, true
from sqlalchemy.orm import Session

from gonghui.core.auth import Actor, Permission
from gonghui.core.errors import NotFound
from gonghui.core.pagination import PAGE_SIZE, Page, paged
from gonghui.stations.models import (
    Appeal,
    Complaint,
    EvaluationRun,
    Position,
    Rating,
    RuleSetVersion,
    Score,
    Trip,
    Vehicle,
    Visit,
)
from gonghui.stations.rules import Card


def position_scope(actor: Actor) -> ColumnElement[bool]:
    """The federation sees every position; a station manager only those they run."""
    actor.require(Permission.STATIONS_VIEW)
    if actor.is_federation_wide or actor.user_id is None:
        return true()
    return Position.manager_user_id == actor.user_id


def position_for(session: Session, actor: Actor, position_id: int) -> Position:
    position = session.scalars(
        select(Position).where(Position.id == position_id, position_scope(actor))
    ).first()
    if position is None:
        raise NotFound("阵地")
    return position


def vehicle_for(session: Session, actor: Actor, vehicle_id: int) -> Vehicle:
    actor.require(Permission.STATIONS_VIEW)
    statement = select(Vehicle).where(Vehicle.id == vehicle_id)
    if not actor.is_federation_wide and actor.user_id is not None:
        statement = statement.where(Vehicle.manager_user_id == actor.user_id)
    vehicle = session.scalars(statement).first()
    if vehicle is None:
        raise NotFound("服务车")
    return vehicle


def score_for(session: Session, actor: Actor, score_id: int) -> Score:
    row = session.get(Score, score_id)
    if row is None:
        raise NotFound("考核结果")
    position_for(session, actor, row.position_id)  # refuses what the actor may not see
    return row


def complaint_for(session: Session, actor: Actor, complaint_id: int) -> Complaint:
    complaint = session.get(Complaint, complaint_id)
    if complaint is None:
        raise NotFound("投诉")
    position_for(session, actor, complaint.position_id)  # refuses another's position
    return complaint


def trip_for(session: Session, actor: Actor, trip_id: int) -> Trip:
    trip = session.get(Trip, trip_id)
    if trip is None:
        raise NotFound("出车行程")
    vehicle_for(session, actor, trip.vehicle_id)  # refuses another team's vehicle
    return trip


def appeal_for(session: Session, actor: Actor, appeal_id: int) -> Appeal:
    appeal = session.get(Appeal, appeal_id)
    if appeal is None:
        raise NotFound("申诉")
    position_for(session, actor, appeal.position_id)
    return appeal


def positions_visible(
    session: Session, actor: Actor, query: str = "", page: int = 1
) -> Page[Position]:
    statement = select(Position).where(position_scope(actor))
    if query.strip():
        pattern = f"%{query.strip()}%"
        statement = statement.where(Position.name.like(pattern) | Position.district.like(pattern))
    return paged(session, statement.order_by(Position.district, Position.code), page)


def runs(session: Session, actor: Actor) -> list[EvaluationRun]:
    actor.require(Permission.STATIONS_VIEW)
    return list(session.scalars(select(EvaluationRun).order_by(EvaluationRun.period_start.desc())))


def run_for(session: Session, actor: Actor, run_id: int) -> tuple[EvaluationRun, RuleSetVersion]:
    actor.require(Permission.STATIONS_VIEW)
    run = session.get(EvaluationRun, run_id)
    version = session.get(RuleSetVersion, run.rule_set_id) if run else None
    if run is None or version is None:
        raise NotFound("考核")
    return run, version


def scoreboard(
    session: Session,
    actor: Actor,
    run: EvaluationRun,
    page: int = 1,
    *,
    card: Card | None = None,
    search: str = "",
) -> Page[tuple[Score, str]]:
    """The run's scores, lowest first, with each position's name, within the actor's reach;
    only one card's holders, or the positions whose name or code contains `search`."""
    statement = (
        select(Score, Position.name)
        .join(Position, Position.id == Score.position_id)
        .where(Score.run_id == run.id, position_scope(actor))
        .order_by(Score.total, Score.position_id)
    )
    if card is not None:
        statement = statement.where(Score.card == card)
    if text := search.strip():
        statement = statement.where(
            or_(
                Position.name.contains(text, autoescape=True),
                Position.code.contains(text, autoescape=True),
            )
        )
    page = max(page, 1)
    total = session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    results = session.execute(statement.limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
    return Page([(row[0], row[1]) for row in results], total, page)


def latest_score(session: Session, position: Position) -> Score | None:
    return session.scalars(
        select(Score).where(Score.position_id == position.id).order_by(Score.id.desc())
    ).first()


def visit_of(session: Session, visit_id: int, allowed: list[int]) -> Visit:
    """A visit the browser session checked in itself (anonymous visitors have no account)."""
    visit = session.get(Visit, visit_id) if visit_id in allowed else None
    if visit is None:
        raise NotFound("到访记录")
    return visit


def visit_rated(session: Session, visit_id: int) -> bool:
    return session.scalars(select(Rating.id).where(Rating.visit_id == visit_id)).first() is not None


def has_published_rule_set(session: Session) -> bool:
    return session.scalars(select(RuleSetVersion.id).limit(1)).first() is not None
