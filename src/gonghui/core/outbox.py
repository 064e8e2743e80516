"""Text messages waiting to be sent: a service queues one in its own transaction (so a message
exists exactly when what it tells of was committed), and the `notifications.send` job sends
them through the configured `SmsSender`.

Each message is sent at most once. A sender claims a row by moving it from PENDING to SENDING
in a transaction of its own, committed before the gateway is called: a second worker's claim
of the same row matches nothing. The outcome is written in a third transaction. A row left in
SENDING (its worker died while calling the gateway) may or may not have gone out; it is marked
UNKNOWN, never sent again: a duplicate text to a member is worse than a missing one, which the
in-app notice still covers. A refused send is retried with a doubling delay, then given up.

Activation codes do not pass through here: the code would sit in this table in clear, where
it is otherwise kept only as a hash; the officer's page sends it at once instead.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import Index, String, Text, func, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from gonghui.core.clock import BUSINESS_TZ, machine_now
from gonghui.core.db import Base, insert_if_absent, text_enum, transaction
from gonghui.core.logging import get_logger
from gonghui.core.metrics import SMS_SENT
from gonghui.core.sms import SmsSender

log = get_logger(__name__)

MAX_ATTEMPTS = 5
FIRST_RETRY = timedelta(minutes=2)  # then 4, 8, 16 minutes
# A message not sent within a day is dropped: a deadline reminder or an overdue notice that
# arrives days late misleads more than it helps (the in-app notice stays).
TOO_OLD = timedelta(days=1)
# A claim older than this whose outcome was never written: its worker died mid-send.
CLAIM_LOST_AFTER = timedelta(minutes=10)
BATCH = 200
# Texts go out between 08:00 and 21:00 Beijing time; one due at night waits for the morning.
SENDING_HOURS = range(8, 21)


class MessageStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"  # refused MAX_ATTEMPTS times
    EXPIRED = "expired"  # not sent in time (e.g. no gateway configured)
    UNKNOWN = "unknown"  # its sender died mid-send; not sent again

    @property
    def label(self) -> str:
        return {
            "pending": "待发送",
            "sending": "发送中",
            "sent": "已发送",
            "failed": "发送失败",
            "expired": "已过期未发",
            "unknown": "结果未知",
        }[self.value]


class OutboxMessage(Base):
    __tablename__ = "outbox_messages"
    __table_args__ = (Index("ix_outbox_messages_status_next_at", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # What the message is about, unique: queueing the same message twice queues it once.
    key: Mapped[str] = mapped_column(String(120), unique=True)
    phone: Mapped[str] = mapped_column(String(11))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[MessageStatus] = mapped_column(text_enum(MessageStatus))
    attempts: Mapped[int]
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime]
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    sender: Mapped[str | None] = mapped_column(String(32))
    last_error: Mapped[str] = mapped_column(Text)


def queue_sms(session: Session, *, key: str, phone: str, body: str, now: datetime) -> bool:
    """Queue a text in the caller's transaction; False when a message with this key exists."""
    row = {
        "key": key,
        "phone": phone,
        "body": body,
        "status": MessageStatus.PENDING,
        "attempts": 0,
        "created_at": now,
        "next_attempt_at": now,
        "last_error": "",
    }
    return insert_if_absent(session, OutboxMessage, row, ["key"])


@dataclass(frozen=True)
class SendReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    expired: int = 0
    unknown: int = 0
    waiting: int = 0  # left pending: no gateway configured, or the night
    night: bool = False

    @property
    def summary(self) -> str:
        said = f"发送短信 {self.sent} 条"
        for count, label in (
            (self.retrying, "稍后重试"),
            (self.failed, "放弃"),
            (self.expired, "过期未发"),
            (self.unknown, "结果未知"),
        ):
            if count:
                said += f"，{label} {count} 条"
        if self.waiting:
            why = "夜间不发送" if self.night else "未配置短信通道"
            said += f"；{why}，{self.waiting} 条等待"
        return said


def send_due(factory: sessionmaker[Session], sender: SmsSender | None, now: datetime) -> SendReport:
    """Send every message that is due, one claim, one send and one outcome at a time."""
    expired, unknown = _sweep(factory, now)
    night = now.astimezone(BUSINESS_TZ).hour not in SENDING_HOURS
    if sender is None or night:
        with transaction(factory) as session:
            waiting = len(_due_ids(session, now))
        return SendReport(expired=expired, unknown=unknown, waiting=waiting, night=night)
    worker = f"{socket.gethostname()}:{os.getpid()}"
    sent = retrying = failed = 0
    with transaction(factory) as session:
        due = _due_ids(session, now)
    for message_id in due:
        claimed = _claim(factory, message_id, worker)
        if claimed is None:
            continue  # another worker took it
        try:
            sender.send(claimed.phone, claimed.body)
        except Exception as error:  # noqa: BLE001 - any gateway refusal is recorded and retried
            if _refused(factory, message_id, claimed.attempts + 1, now, error):
                failed += 1
            else:
                retrying += 1
            continue
        _sent(factory, message_id, now, sender.name)
        sent += 1
    return SendReport(sent, retrying, failed, expired, unknown)


def _due_ids(session: Session, now: datetime) -> list[int]:
    return list(
        session.scalars(
            select(OutboxMessage.id)
            .where(
                OutboxMessage.status == MessageStatus.PENDING,
                OutboxMessage.next_attempt_at <= now,
            )
            .order_by(OutboxMessage.id)
            .limit(BATCH)
        )
    )


def _sweep(factory: sessionmaker[Session], now: datetime) -> tuple[int, int]:
    with transaction(factory) as session:
        expired = session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.status == MessageStatus.PENDING,
                OutboxMessage.created_at < now - TOO_OLD,
            )
            .values(status=MessageStatus.EXPIRED),
            execution_options={"preserve_rowcount": True},
        ).rowcount  # type: ignore[attr-defined]
        unknown = session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.status == MessageStatus.SENDING,
                # The machine's clock: how long a worker has been silent is an operational fact.
                OutboxMessage.claimed_at < machine_now() - CLAIM_LOST_AFTER,
            )
            .values(status=MessageStatus.UNKNOWN, last_error="发送过程中工作进程中断，不重发"),
            execution_options={"preserve_rowcount": True},
        ).rowcount  # type: ignore[attr-defined]
    if expired or unknown:
        log.warning("sms.swept", expired=expired, unknown=unknown)
    return int(expired), int(unknown)


@dataclass(frozen=True)
class _Claimed:
    phone: str
    body: str
    attempts: int


def _claim(factory: sessionmaker[Session], message_id: int, worker: str) -> _Claimed | None:
    with transaction(factory) as session:
        taken = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id, OutboxMessage.status == MessageStatus.PENDING)
            .values(status=MessageStatus.SENDING, claimed_by=worker, claimed_at=machine_now()),
            execution_options={"preserve_rowcount": True},
        ).rowcount  # type: ignore[attr-defined]
        if not taken:
            return None
        row = session.execute(
            select(OutboxMessage.phone, OutboxMessage.body, OutboxMessage.attempts).where(
                OutboxMessage.id == message_id
            )
        ).one()
        return _Claimed(row.phone, row.body, row.attempts)


def _sent(factory: sessionmaker[Session], message_id: int, now: datetime, sender: str) -> None:
    with transaction(factory) as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id)
            .values(
                status=MessageStatus.SENT,
                sent_at=now,
                sender=sender,
                attempts=OutboxMessage.attempts + 1,
            )
        )
    SMS_SENT.labels("sent").inc()
    log.info("sms.sent", message=message_id, sender=sender)


def _refused(
    factory: sessionmaker[Session], message_id: int, attempts: int, now: datetime, error: Exception
) -> bool:
    """Record a refusal; True when the message is given up."""
    give_up = attempts >= MAX_ATTEMPTS
    with transaction(factory) as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id)
            .values(
                status=MessageStatus.FAILED if give_up else MessageStatus.PENDING,
                attempts=attempts,
                next_attempt_at=now + FIRST_RETRY * 2 ** (attempts - 1),
                last_error=f"{error.__class__.__name__}: {error}"[:1000],
            )
        )
    SMS_SENT.labels("failed" if give_up else "retry").inc()
    log.warning(
        "sms.refused", message=message_id, attempts=attempts, gave_up=give_up, error=str(error)
    )
    return give_up


@dataclass(frozen=True)
class OutboxView:
    counts: dict[MessageStatus, int]
    problems: list[OutboxMessage]  # the latest not sent: failed, unknown, expired


def overview(session: Session, limit: int = 20) -> OutboxView:
    """For the 任务 page: how many texts are in each state, and the latest that did not go."""
    counts = dict(
        session.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        ).all()
    )
    problems = session.scalars(
        select(OutboxMessage)
        .where(
            OutboxMessage.status.in_(
                [MessageStatus.FAILED, MessageStatus.UNKNOWN, MessageStatus.EXPIRED]
            )
        )
        .order_by(OutboxMessage.id.desc())
        .limit(limit)
    )
    return OutboxView({status: counts.get(status, 0) for status in MessageStatus}, list(problems))
