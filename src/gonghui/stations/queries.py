"""Reads of the stations module, each scoped to what the actor may see."""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from gonghui.core.auth import Actor, Permission
from gonghui.core.errors import NotFound
from gonghui.core.pagination import PAGE_SIZE, Page, paged
from gonghui.stations.models import EvaluationRun, Position, Rating, RuleSetVersion, Score, Visit
from gonghui.stations.rules import Card
from gonghui.stations.service import position_scope


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
