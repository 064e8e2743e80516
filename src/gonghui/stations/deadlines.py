"""Yellow-card deadlines, watched by a daily job.

A week before a yellow card's rectification deadline its manager is reminded: a notice on their
own home page and a text to the position's responsible person. When the deadline has passed and
the card still stands, the position is flagged: the evaluation already judges a yellow card
once its deadline falls within the period evaluated (`rules.card_step`: passing lifts the card,
failing gives a red one), so the flag adds no second rule; it records that the rectification
time is over and tells the manager, so nobody learns it from a red card. Each happens once per
position and deadline (a new card brings a new deadline), however often the job runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from gonghui.core import audit, outbox
from gonghui.core.auth import SYSTEM
from gonghui.core.clock import business_date
from gonghui.core.db import insert_if_absent
from gonghui.core.logging import get_logger
from gonghui.members import service as member_service
from gonghui.stations.models import CardNotice, Position
from gonghui.stations.rules import PositionStatus

log = get_logger(__name__)

REMIND_DAYS = 7
REMINDER, REACHED = "reminder", "reached"


@dataclass(frozen=True)
class DeadlineReport:
    reminded: int
    reached: int

    @property
    def summary(self) -> str:
        return f"提醒 {self.reminded} 个阵地黄牌整改将到期，{self.reached} 个阵地整改期满待复核"


def watch_deadlines(session: Session, now: datetime) -> DeadlineReport:
    today = business_date(now)
    reminded = reached = 0
    for position in _yellow(session, today + timedelta(days=REMIND_DAYS)):
        deadline = position.card_deadline
        assert deadline is not None  # noqa: S101 - selected on it
        kind = REACHED if deadline <= today else REMINDER
        row = {"position_id": position.id, "deadline": deadline, "kind": kind, "at": now}
        if not insert_if_absent(session, CardNotice, row, ["position_id", "deadline", "kind"]):
            continue
        if kind == REMINDER:
            _remind(session, position, deadline, (deadline - today).days, now)
            reminded += 1
        else:
            _flag(session, position, deadline, now)
            reached += 1
    if reminded or reached:
        log.info("stations.deadlines_watched", reminded=reminded, reached=reached)
    return DeadlineReport(reminded, reached)


def _yellow(session: Session, until: date) -> list[Position]:
    return list(
        session.scalars(
            select(Position)
            .where(
                Position.status == PositionStatus.YELLOW,
                Position.card_deadline.is_not(None),
                Position.card_deadline <= until,
            )
            .order_by(Position.id)
        )
    )


def _remind(session: Session, position: Position, deadline: date, days: int, now: datetime) -> None:
    body = (
        f"{position.name}的黄牌整改期限为 {deadline}（还有 {days} 天）。"
        "期满后的考核仍未达标将亮红牌、取消阵地资格，请抓紧整改。"
    )
    if position.manager_user_id is not None:
        member_service.notify_user(
            session,
            position.manager_user_id,
            title="黄牌整改即将到期",
            body=body,
            link=f"/stations/positions/{position.id}",
            now=now,
        )
    if position.responsible_phone:
        outbox.queue_sms(
            session,
            key=f"station:{position.id}:{REMINDER}:{deadline.isoformat()}",
            phone=position.responsible_phone,
            body=f"【职工服务平台】{body}",
            now=now,
        )


def _flag(session: Session, position: Position, deadline: date, now: datetime) -> None:
    if position.manager_user_id is not None:
        member_service.notify_user(
            session,
            position.manager_user_id,
            title="黄牌整改期满",
            body=(
                f"{position.name}的黄牌整改期限 {deadline} 已到。考核期间截至 {deadline} "
                "或之后的下一次考核将复核整改结果：达标撤销黄牌，仍未达标亮红牌。"
            ),
            link=f"/stations/positions/{position.id}",
            now=now,
        )
    audit.record(
        session,
        actor=SYSTEM,
        at=now,
        action="station.rectification_due",
        target_type="station",
        target_id=position.id,
        after={"deadline": deadline.isoformat()},
    )


def rectification_due(session: Session, position: Position) -> datetime | None:
    """When the position was flagged for its current deadline (None: not flagged)."""
    if position.status is not PositionStatus.YELLOW or position.card_deadline is None:
        return None
    return session.scalar(
        select(CardNotice.at).where(
            CardNotice.position_id == position.id,
            CardNotice.deadline == position.card_deadline,
            CardNotice.kind == REACHED,
        )
    )
