"""The figures of the stations dashboard, over the positions the actor may see.

- positions: every position not closed, counted by type (an integrated position counts once
  under each of its types), by district, by honour; and every position by status;
- cards: yellow and red cards held now, and those the last evaluation run gave;
- usage: per month over the last 12 that have ended, QR scans apart from camera and hand
  counts, since they are measured differently (domain/stations.md);
- satisfaction: per month over the same months, the number of ratings and their mean on each
  aspect and overall;
- the last run's scoreboard: its highest and lowest totals.

Months are Asia/Shanghai calendar months; each is one bucket of a single grouped query. The
current month is not among them until it ends (at Beijing midnight on the next month's first
day): a month counted to date would read as a month with fewer visits.

The page shows them from a snapshot (`core.snapshots`) per scope: the federation's ("all"), or
one station manager's positions ("manager:<user id>"), as `position_scope` draws them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import ColumnElement, case, func, select, true
from sqlalchemy.orm import Session, sessionmaker

from gonghui.core.auth import Actor, Permission
from gonghui.core.clock import business_date, full_months, month_of
from gonghui.core.errors import NotFound
from gonghui.core.monthly import by_month, month_bounds
from gonghui.core.snapshots import EVERYTHING, Board, Snapshot
from gonghui.stations.models import EvaluationRun, HeadCount, Position, Rating, Score, Visit
from gonghui.stations.queries import position_scope
from gonghui.stations.rules import Card, CountSource, PositionStatus, PositionType
from gonghui.stations.scoring import Aspect
from gonghui.stations.service import DASHBOARD_BOARD

TREND_MONTHS = 12
BOARD_SIZE = 10
_CENT = Decimal("0.01")


@dataclass(frozen=True)
class Tally:
    label: str
    count: int


@dataclass(frozen=True)
class LastRun:
    id: int
    period_label: str


@dataclass(frozen=True)
class Cards:
    yellow_now: int
    red_now: int
    last_run: LastRun | None
    # Within the actor's positions, so a manager's counts may differ from the run's totals.
    last_green: int
    last_yellow: int
    last_red: int


@dataclass(frozen=True)
class MonthUsage:
    month: str  # YYYY-MM
    scans: int
    camera: int
    manual: int


@dataclass(frozen=True)
class MonthSatisfaction:
    month: str
    ratings: int
    mean: Decimal | None  # all five aspects together, 1.00–5.00; None with no rating
    by_aspect: dict[Aspect, Decimal | None]


@dataclass(frozen=True)
class BoardLine:
    position_id: int
    name: str
    district: str
    aspects: dict[Aspect, int]
    total: int
    card: Card


@dataclass(frozen=True)
class Dashboard:
    positions: int  # not closed
    by_status: list[tuple[PositionStatus, int]]
    by_type: list[tuple[PositionType, int]]
    by_district: list[Tally]
    honours: list[Tally]
    cards: Cards
    usage: list[MonthUsage]
    satisfaction: list[MonthSatisfaction]
    top: list[BoardLine]
    bottom: list[BoardLine]


def dashboard(session: Session, actor: Actor, now: datetime) -> Dashboard:
    """The figures counted now over the actor's positions."""
    return figures_within(session, position_scope(actor), now)  # checks STATIONS_VIEW


_MANAGER = "manager:"


def scope_key(actor: Actor) -> str:
    """The snapshot a viewer sees: the key of the positions `position_scope` allows them."""
    actor.require(Permission.STATIONS_VIEW)
    if actor.is_federation_wide or actor.user_id is None:
        return EVERYTHING
    return f"{_MANAGER}{actor.user_id}"


def _scope_of(key: str) -> ColumnElement[bool]:
    if key == EVERYTHING:
        return true()
    if key.startswith(_MANAGER) and key.removeprefix(_MANAGER).isdigit():
        return Position.manager_user_id == int(key.removeprefix(_MANAGER))
    raise NotFound("范围")


def count(session: Session, key: str, now: datetime) -> Dashboard:
    """The figures of a snapshot's scope key, counted now."""
    return figures_within(session, _scope_of(key), now)


BOARD = Board(DASHBOARD_BOARD, Dashboard, count, period_of=month_of)


def dashboard_snapshot(
    session: Session, factory: sessionmaker[Session], actor: Actor, now: datetime
) -> Snapshot[Dashboard]:
    """The figures over the actor's positions as the last job (or first view) counted them."""
    return BOARD.view(session, factory, scope_key(actor), now)


def refresh_dashboard(session: Session, actor: Actor, now: datetime) -> Snapshot[Dashboard]:
    """立即更新: the actor's figures counted again now."""
    return BOARD.refresh_in(session, scope_key(actor), now)


def figures_within(session: Session, scope: ColumnElement[bool], now: datetime) -> Dashboard:
    in_service = [scope, Position.status != PositionStatus.CLOSED]
    months = trend_months(business_date(now))
    run = last_run(session)
    return Dashboard(
        positions=session.scalar(select(func.count()).where(*in_service)) or 0,
        by_status=_by_status(session, scope),
        by_type=list(zip(PositionType, _counts(session, in_service, _types()), strict=True)),
        by_district=[
            Tally(district, count)
            for district, count in session.execute(
                select(Position.district, func.count())
                .where(*in_service)
                .group_by(Position.district)
                .order_by(func.count().desc(), Position.district)
            )
        ],
        honours=_honours(session, in_service),
        cards=_cards(session, scope, run),
        usage=_usage(session, scope, months),
        satisfaction=_satisfaction(session, scope, months),
        top=_board(session, scope, run, highest=True),
        bottom=_board(session, scope, run, highest=False),
    )


def trend_months(today: date) -> list[date]:
    """The first days of the trend's months, the last 12 that have ended by `today`, and of
    today's month, where they end."""
    return full_months(today, TREND_MONTHS)


def _counts(
    session: Session, where: list[ColumnElement[bool]], conditions: list[ColumnElement[bool]]
) -> list[int]:
    """How many rows meet each condition, in one pass over the table."""
    row = session.execute(
        select(*(func.coalesce(func.sum(case((c, 1), else_=0)), 0) for c in conditions)).where(
            *where
        )
    ).one()
    return [int(value) for value in row]


def _types() -> list[ColumnElement[bool]]:
    return [Position.type_mask.op("&")(kind.value) != 0 for kind in PositionType]


def _by_status(session: Session, scope: ColumnElement[bool]) -> list[tuple[PositionStatus, int]]:
    counts: dict[PositionStatus, int] = dict(
        session.execute(
            select(Position.status, func.count()).where(scope).group_by(Position.status)
        ).all()
    )
    return [(status, counts.get(status, 0)) for status in PositionStatus]


HONOURS = {
    "最美驿站": Position.most_beautiful,
    "智能化/全周期": Position.smart,
    "24小时开放": Position.open_24h,
}


def _honours(session: Session, in_service: list[ColumnElement[bool]]) -> list[Tally]:
    counts = _counts(session, in_service, [flag.is_(True) for flag in HONOURS.values()])
    return [Tally(label, count) for label, count in zip(HONOURS, counts, strict=True)]


def last_run(session: Session) -> EvaluationRun | None:
    """Runs follow one another in time (`evaluation.evaluate`), so the last ends latest."""
    return session.scalars(
        select(EvaluationRun).order_by(EvaluationRun.period_end.desc(), EvaluationRun.id.desc())
    ).first()


def _cards(session: Session, scope: ColumnElement[bool], run: EvaluationRun | None) -> Cards:
    held = dict(
        session.execute(
            select(Position.status, func.count())
            .where(scope, Position.status.in_([PositionStatus.YELLOW, PositionStatus.RED]))
            .group_by(Position.status)
        ).all()
    )
    given: dict[Card, int] = {}
    if run is not None:
        given = dict(
            session.execute(
                select(Score.card, func.count())
                .join(Position, Position.id == Score.position_id)
                .where(Score.run_id == run.id, scope)
                .group_by(Score.card)
            ).all()
        )
    return Cards(
        yellow_now=held.get(PositionStatus.YELLOW, 0),
        red_now=held.get(PositionStatus.RED, 0),
        last_run=LastRun(run.id, run.period_label) if run is not None else None,
        last_green=given.get(Card.GREEN, 0),
        last_yellow=given.get(Card.YELLOW, 0),
        last_red=given.get(Card.RED, 0),
    )


def _usage(session: Session, scope: ColumnElement[bool], months: list[date]) -> list[MonthUsage]:
    mine = select(Position.id).where(scope)
    scans = by_month(
        session,
        Visit.visited_at,
        month_bounds(months, instants=True),
        [],
        Visit.position_id.in_(mine),
    )
    counted = {
        source: by_month(
            session,
            HeadCount.on_date,
            month_bounds(months, instants=False),
            [HeadCount.people],
            HeadCount.source == source,
            HeadCount.position_id.in_(mine),
        )
        for source in CountSource
    }
    return [
        MonthUsage(
            month=f"{first:%Y-%m}",
            scans=int(scans.get(index, (0,))[0]),
            camera=int(counted[CountSource.CAMERA].get(index, (0, 0))[1]),
            manual=int(counted[CountSource.MANUAL].get(index, (0, 0))[1]),
        )
        for index, first in enumerate(months[:-1])
    ]


def _mean(total: int, count: int) -> Decimal | None:
    if not count:
        return None
    return (Decimal(total) / Decimal(count)).quantize(_CENT, rounding=ROUND_HALF_UP)


def _satisfaction(
    session: Session, scope: ColumnElement[bool], months: list[date]
) -> list[MonthSatisfaction]:
    mine = select(Position.id).where(scope)
    rated = by_month(
        session,
        Rating.rated_at,
        month_bounds(months, instants=True),
        [getattr(Rating, aspect.value) for aspect in Aspect],
        Rating.position_id.in_(mine),
    )
    lines = []
    for index, first in enumerate(months[:-1]):
        count, *sums = rated.get(index, (0, *(0 for _ in Aspect)))
        count, sums = int(count), [int(s) for s in sums]
        lines.append(
            MonthSatisfaction(
                month=f"{first:%Y-%m}",
                ratings=count,
                mean=_mean(sum(sums), count * len(sums)),
                by_aspect={a: _mean(s, count) for a, s in zip(Aspect, sums, strict=True)},
            )
        )
    return lines


def _board(
    session: Session, scope: ColumnElement[bool], run: EvaluationRun | None, *, highest: bool
) -> list[BoardLine]:
    if run is None:
        return []
    order = (Score.total.desc(), Score.position_id) if highest else (Score.total, Score.position_id)
    rows = session.execute(
        select(Score, Position.name, Position.district)
        .join(Position, Position.id == Score.position_id)
        .where(Score.run_id == run.id, scope)
        .order_by(*order)
        .limit(BOARD_SIZE)
    )
    return [
        BoardLine(
            position_id=score.position_id,
            name=name,
            district=district,
            aspects={a: getattr(score, f"score_{a.value}") for a in Aspect},
            total=score.total,
            card=score.card,
        )
        for score, name, district in rows
    ]
