"""Yellow-card deadlines watched by the daily job: the position's own manager is reminded a week
ahead (on their home page, and by text to the responsible person), once; when the deadline
passes the position is flagged, and the next evaluation judges the rectification."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from gonghui.core.audit import AuditEntry
from gonghui.core.auth import Actor, Role
from gonghui.core.outbox import OutboxMessage
from gonghui.jobs.catalogue import JOBS
from gonghui.members import accounts
from gonghui.members.models import User
from gonghui.stations import deadlines, evaluation
from gonghui.stations.models import CardNotice, Position
from gonghui.stations.rules import PositionStatus
from tests.conftest import NOW  # 2025-02-10, 09:00 in Beijing
from tests.stations.helpers import STAFF, position
from tests.world import SETUP, World, login

DEADLINE = date(2025, 2, 17)


def _manager(db: Session, world: World) -> Actor:
    user = db.scalars(select(User).where(User.username == world.users[Role.STATION_MANAGER])).one()
    return Actor(
        user_id=user.id, username=user.username, role=user.role, display_name=user.display_name
    )


def _yellow(db: Session, code: str, manager: Actor | None, deadline: date = DEADLINE) -> Position:
    found = position(db, code, manager_user_id=manager.user_id if manager else None)
    found.status, found.card_deadline = PositionStatus.YELLOW, deadline
    db.flush()
    return found


def test_the_manager_is_reminded_a_week_ahead_once(db: Session, world: World) -> None:
    manager = _manager(db, world)
    mine = _yellow(db, "DUE", manager)
    _yellow(db, "LATER", manager, DEADLINE + timedelta(days=1))
    early = deadlines.watch_deadlines(db, NOW - timedelta(days=1))
    assert (early.reminded, early.reached) == (0, 0)
    report = deadlines.watch_deadlines(db, NOW)
    again = deadlines.watch_deadlines(db, NOW + timedelta(hours=1))
    assert (report.reminded, again.reminded) == (1, 0)
    notices = accounts.work_notices_for(db, manager)
    assert [(n.title, n.link) for n in notices] == [
        ("黄牌整改即将到期", f"/stations/positions/{mine.id}")
    ]
    assert "整改期限为 2025-02-17（还有 7 天）" in notices[0].body
    texts = db.scalars(select(OutboxMessage)).all()
    assert [(t.phone, t.key) for t in texts] == [
        ("13800000000", f"station:{mine.id}:reminder:2025-02-17")
    ]


def test_the_reminder_is_for_that_manager_alone(db: Session, world: World) -> None:
    manager = _manager(db, world)
    other = accounts.create_user(
        db, username="other_manager", password="another-horse-9", role=Role.STATION_MANAGER,
        display_name="另一位管理员", actor=SETUP, now=NOW,
    )  # fmt: skip
    _yellow(db, "DUE", manager)
    deadlines.watch_deadlines(db, NOW)
    someone_else = Actor(
        user_id=other.id, username=other.username, role=other.role, display_name="另一位"
    )
    assert accounts.work_notices_for(db, someone_else) == []
    assert len(accounts.work_notices_for(db, manager)) == 1


def test_a_passed_deadline_flags_the_position_and_the_next_evaluation_judges_it(
    db: Session, world: World
) -> None:
    manager = _manager(db, world)
    due = _yellow(db, "DUE", manager)
    on_the_day = NOW + timedelta(days=7)
    deadlines.watch_deadlines(db, NOW)
    report = deadlines.watch_deadlines(db, on_the_day)
    assert (report.reminded, report.reached) == (0, 1)
    assert deadlines.watch_deadlines(db, on_the_day + timedelta(days=1)).reached == 0
    assert deadlines.rectification_due(db, due) == on_the_day
    assert [n.title for n in accounts.work_notices_for(db, manager)] == [
        "黄牌整改期满",
        "黄牌整改即将到期",
    ]
    audit = db.scalars(
        select(AuditEntry).where(AuditEntry.action == "station.rectification_due")
    ).one()
    assert audit.target_id == str(due.id)
    # February ends after the deadline: its evaluation judges the rectification (the position
    # did nothing, so the card turns red) and the flag, tied to the old deadline, is spent.
    evaluation.evaluate(db, "2025-02", actor=STAFF, now=datetime(2025, 3, 3, 2, tzinfo=UTC))
    db.refresh(due)
    assert due.status is PositionStatus.RED
    assert deadlines.rectification_due(db, due) is None


def test_a_new_card_brings_a_new_reminder(db: Session, world: World) -> None:
    due = _yellow(db, "DUE", _manager(db, world))
    deadlines.watch_deadlines(db, NOW)
    due.card_deadline = DEADLINE + timedelta(days=30)  # e.g. an appeal granted a fresh period
    db.flush()
    later = deadlines.watch_deadlines(db, NOW + timedelta(days=30))
    assert later.reminded == 1
    kinds = db.scalars(select(CardNotice.deadline).where(CardNotice.position_id == due.id))
    assert sorted(kinds) == [DEADLINE, DEADLINE + timedelta(days=30)]


def test_the_flag_shows_on_the_position_page_and_the_reminder_on_the_managers_home(
    client: TestClient, db: Session, world: World
) -> None:
    manager = _manager(db, world)
    due = _yellow(db, "DUE", manager)
    deadlines.watch_deadlines(db, NOW)
    deadlines.watch_deadlines(db, NOW + timedelta(days=7))
    db.commit()
    login(client, world.users[Role.STATION_MANAGER])
    home = client.get("/home").text
    assert "黄牌整改期满" in home
    assert "黄牌整改即将到期" in home
    page = client.get(f"/stations/positions/{due.id}").text
    assert 'data-testid="rectification-due"' in page
    assert "2025-02-17 09:00 标记" in page  # Beijing time


def test_the_job_runs_daily_in_the_morning_beijing_time() -> None:
    job = JOBS["stations.card_deadlines"]
    assert job.schedule is not None
    assert job.schedule.label == "每天 07:15"
