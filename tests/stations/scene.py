"""A small network of positions with a year of scans, head counts and ratings, and one
evaluation run, for the dashboard and API tests. Every figure a test expects is computed
from the lists kept here, never written down by hand."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from gonghui.core.auth import Actor, Role
from gonghui.core.clock import business_date
from gonghui.members.models import User
from gonghui.stations import evaluation, service, tokens
from gonghui.stations.evaluation import RunSummary
from gonghui.stations.feedback import Stars, rate_visit
from gonghui.stations.models import Position, Visit
from gonghui.stations.rules import CountSource, PositionStatus, PositionType
from gonghui.stations.visits import Visitor, check_in, record_count
from tests.conftest import NOW
from tests.stations.helpers import STAFF, position
from tests.world import World

KEY = tokens.derive_key("scene-secret-for-the-dashboard-tests")


def at(year: int, month: int, day: int, hour: int = 2, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def ended_months(now: datetime, count: int = 12) -> list[str]:
    """The `count` Beijing calendar months that ended before `now`'s month, oldest first."""
    today = business_date(now)
    year, month = today.year, today.month
    months = []
    for _ in range(count):
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        months.append(f"{year:04d}-{month:02d}")
    return months[::-1]


@dataclass
class Scene:
    mine: Position  # run by the station manager of the world
    other: Position
    closed: Position
    manager: Actor
    scans: list[tuple[int, datetime]] = field(default_factory=list)  # counted visits only
    counts: list[tuple[int, date, CountSource, int]] = field(default_factory=list)
    ratings: list[tuple[int, datetime, Stars]] = field(default_factory=list)
    summary: RunSummary | None = None

    @property
    def positions(self) -> list[Position]:
        return [self.mine, self.other, self.closed]

    def visible(self, actor: Actor) -> list[Position]:
        return [self.mine] if actor.role is Role.STATION_MANAGER else self.positions

    def ids(self, actor: Actor) -> set[int]:
        return {p.id for p in self.visible(actor)}

    def expected_usage(self, actor: Actor, now: datetime = NOW) -> list[tuple[str, int, int, int]]:
        months = ended_months(now)
        ids = self.ids(actor)
        scans = Counter(f"{business_date(t):%Y-%m}" for p, t in self.scans if p in ids)
        people: Counter[tuple[str, CountSource]] = Counter()
        for p, day, source, n in self.counts:
            if p in ids:
                people[f"{day:%Y-%m}", source] += n
        return [
            (m, scans[m], people[m, CountSource.CAMERA], people[m, CountSource.MANUAL])
            for m in months
        ]

    def expected_means(
        self, actor: Actor, now: datetime = NOW
    ) -> list[tuple[str, int, Decimal | None]]:
        months = ended_months(now)
        ids = self.ids(actor)
        by_month: dict[str, list[Stars]] = {m: [] for m in months}
        for p, when, stars in self.ratings:
            if p in ids and f"{business_date(when):%Y-%m}" in by_month:
                by_month[f"{business_date(when):%Y-%m}"].append(stars)
        lines = []
        for month, given in by_month.items():
            points = [
                s.rules + s.service + s.environment + s.facilities + s.effectiveness for s in given
            ]
            mean = (
                (Decimal(sum(points)) / (5 * len(points))).quantize(
                    Decimal("0.01"), rounding=ROUND_HALF_UP
                )
                if points
                else None
            )
            lines.append((month, len(points), mean))
        return lines

    def expected_types(self, actor: Actor) -> list[int]:
        live = [p for p in self.visible(actor) if p.status is not PositionStatus.CLOSED]
        return [sum(1 for p in live if p.type_mask & kind) for kind in PositionType]


def manager_of(db: Session, world: World) -> Actor:
    user_id = db.scalars(
        select(User.id).where(User.username == world.users[Role.STATION_MANAGER])
    ).one()
    return Actor(
        user_id=user_id,
        username="station_manager",
        role=Role.STATION_MANAGER,
        display_name="阵地管理员",
    )


def build(db: Session, world: World, *, evaluate: bool = True) -> Scene:
    manager = manager_of(db, world)
    scene = Scene(
        mine=position(
            db,
            "DMINE",
            manager_user_id=manager.user_id,
            type_mask=PositionType.STATION | PositionType.WORKERS_HOME,
            most_beautiful=True,
        ),
        other=position(
            db,
            "DOTHER",
            district="莱山区",
            smart=True,
            open_24h=True,
            type_mask=PositionType.STATION,
        ),
        closed=position(db, "DSHUT", district="莱山区", type_mask=PositionType.BOOK_ROOM),
        manager=manager,
    )

    def scan(where: Position, when: datetime, phone: str, *, counted: bool = True) -> int:
        token = tokens.issue(KEY, where.id, when)
        done = check_in(db, token, Visitor(None, phone, "快递员"), key=KEY, now=when)
        assert done.counted is counted
        if counted:
            scene.scans.append((where.id, when))
        return done.visit.id

    def rate(where: Position, visit_id: int, when: datetime, *stars: int) -> None:
        given = Stars(*stars)
        visit = db.get(Visit, visit_id)
        assert visit is not None
        rate_visit(db, visit, given, now=when)
        scene.ratings.append((where.id, when, given))

    mine, other, closed = scene.mine, scene.other, scene.closed
    first = scan(mine, at(2024, 12, 5), "13900000001")
    scan(mine, at(2024, 12, 5, 2, 10), "13900000001", counted=False)  # within 30 minutes
    scan(mine, at(2024, 12, 5, 2, 45), "13900000001")
    # 16:30 UTC on 31 January is 00:30 on 1 February in Beijing: a February visit.
    february = scan(mine, at(2025, 1, 31, 16, 30), "13900000002")
    scan(mine, at(2025, 2, 9, 3), "13900000003")
    january = scan(other, at(2025, 1, 10, 3), "13900000001")
    scan(other, at(2025, 1, 10, 3, 5), "13900000004")
    scan(other, at(2024, 1, 20), "13900000005")  # before the twelve months: out of the trend
    scan(closed, at(2024, 6, 1), "13900000001")
    rate(mine, first, at(2024, 12, 5, 3), 5, 4, 5, 3, 4)
    rate(mine, february, at(2025, 1, 31, 17), 2, 2, 3, 3, 2)
    rate(other, january, at(2025, 1, 10, 4), 4, 4, 4, 4, 5)
    for where, day, source, people in (
        (mine, date(2025, 1, 15), CountSource.CAMERA, 40),
        (mine, date(2025, 1, 16), CountSource.MANUAL, 7),
        (other, date(2025, 1, 15), CountSource.CAMERA, 100),
        (other, date(2024, 12, 31), CountSource.MANUAL, 3),
    ):
        record_count(db, where, day, source, people, actor=STAFF, now=NOW)
        scene.counts.append((where.id, day, source, people))
    service.change_status(db, closed, PositionStatus.CLOSED, "撤并", actor=STAFF, now=NOW)
    if evaluate:
        scene.summary = evaluation.evaluate(db, "2025-01", actor=STAFF, now=NOW)
    db.flush()
    for one in scene.positions:
        db.refresh(one)
    return scene
