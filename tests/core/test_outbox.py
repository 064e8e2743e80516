"""Texts waiting to be sent: each goes out at most once, even with two senders at work; a
refusal is retried later and later, then given up; a message whose sender died mid-send is
never sent again; nothing goes out at night or without a gateway."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from gonghui.core import outbox
from gonghui.core.auth import Role
from gonghui.core.clock import BUSINESS_TZ, machine_now
from gonghui.core.outbox import MessageStatus, OutboxMessage
from gonghui.core.sms import FakeSmsSender, SentSms
from tests.conftest import NOW  # 09:00 in Beijing
from tests.world import World, login

PHONE = "13800000001"


def _queue(sessions: sessionmaker[Session], key: str = "t:1", body: str = "您好") -> None:
    with sessions() as session, session.begin():
        outbox.queue_sms(session, key=key, phone=PHONE, body=body, now=NOW)


def _row(sessions: sessionmaker[Session], key: str = "t:1") -> OutboxMessage:
    with sessions() as session:
        return session.scalars(select(OutboxMessage).where(OutboxMessage.key == key)).one()


class GatewayDown:
    """A fake gateway that refuses every message."""

    name = "fake-down"

    def __init__(self) -> None:
        self.tries = 0

    def send(self, phone: str, text: str) -> None:  # noqa: ARG002 - refuses whatever it gets
        self.tries += 1
        raise ConnectionError("短信网关无响应")


def test_a_queued_text_is_sent_once_however_often_the_job_runs(
    sessions: sessionmaker[Session],
) -> None:
    _queue(sessions)
    _queue(sessions)  # the same message asked for twice is queued once
    sender = FakeSmsSender()
    first = outbox.send_due(sessions, sender, NOW)
    second = outbox.send_due(sessions, sender, NOW + timedelta(minutes=5))
    assert sender.outbox == [SentSms(PHONE, "您好")]
    assert (first.sent, second.sent) == (1, 0)
    row = _row(sessions)
    assert (row.status, row.sender, row.attempts) == (MessageStatus.SENT, "fake", 1)


def test_a_second_sender_at_work_at_the_same_moment_cannot_send_it_again(
    sessions: sessionmaker[Session],
) -> None:
    _queue(sessions)

    class Overlapping(FakeSmsSender):
        """While the gateway handles the message, a second worker runs the same job."""

        def send(self, phone: str, text: str) -> None:
            if not self.outbox:
                self.other = outbox.send_due(sessions, self, NOW)
            super().send(phone, text)

    sender = Overlapping()
    outbox.send_due(sessions, sender, NOW)
    assert len(sender.outbox) == 1
    assert sender.other.sent == 0


def test_a_refused_text_is_retried_later_each_time_then_given_up(
    sessions: sessionmaker[Session],
) -> None:
    _queue(sessions)
    gateway = GatewayDown()
    now = NOW
    delays = []
    for _ in range(outbox.MAX_ATTEMPTS):
        report = outbox.send_due(sessions, gateway, now)
        row = _row(sessions)
        delays.append(row.next_attempt_at - now)
        # Not due again before its delay.
        assert outbox.send_due(sessions, gateway, now + timedelta(seconds=30)).sent == 0
        now = row.next_attempt_at
    assert gateway.tries == outbox.MAX_ATTEMPTS
    assert delays[:4] == [timedelta(minutes=m) for m in (2, 4, 8, 16)]
    assert report.failed == 1
    assert row.status is MessageStatus.FAILED
    assert row.last_error == "ConnectionError: 短信网关无响应"
    assert outbox.send_due(sessions, gateway, now + timedelta(hours=1)).sent == 0
    assert gateway.tries == outbox.MAX_ATTEMPTS


def test_a_text_whose_sender_died_mid_send_is_never_sent_again(
    sessions: sessionmaker[Session],
) -> None:
    _queue(sessions)
    with sessions() as session, session.begin():
        session.execute(
            update(OutboxMessage).values(
                status=MessageStatus.SENDING,
                claimed_by="dead-worker",
                claimed_at=machine_now() - timedelta(minutes=11),
            )
        )
    sender = FakeSmsSender()
    report = outbox.send_due(sessions, sender, NOW)
    assert sender.outbox == []
    assert report.unknown == 1
    assert _row(sessions).status is MessageStatus.UNKNOWN


def test_one_being_sent_right_now_is_left_alone(sessions: sessionmaker[Session]) -> None:
    _queue(sessions)
    with sessions() as session, session.begin():
        session.execute(
            update(OutboxMessage).values(
                status=MessageStatus.SENDING, claimed_by="busy", claimed_at=machine_now()
            )
        )
    outbox.send_due(sessions, FakeSmsSender(), NOW)
    assert _row(sessions).status is MessageStatus.SENDING


@pytest.mark.parametrize(("beijing_hour", "sent"), [(7, 0), (8, 1), (20, 1), (21, 0), (23, 0)])
def test_texts_wait_for_the_morning(
    sessions: sessionmaker[Session], beijing_hour: int, sent: int
) -> None:
    _queue(sessions)
    # Queued at 09:00 on the 10th: the early hours are those of the next morning.
    day = date(2025, 2, 10 if beijing_hour >= 9 else 11)
    at = datetime.combine(day, time(beijing_hour, 30), BUSINESS_TZ)
    sender = FakeSmsSender()
    report = outbox.send_due(sessions, sender, at)
    assert len(sender.outbox) == sent
    if not sent:
        assert report.summary.endswith("夜间不发送，1 条等待")


def test_without_a_gateway_texts_wait_then_expire_after_a_day(
    sessions: sessionmaker[Session],
) -> None:
    _queue(sessions)
    waiting = outbox.send_due(sessions, None, NOW)
    assert waiting.summary == "发送短信 0 条；未配置短信通道，1 条等待"
    expired = outbox.send_due(sessions, None, NOW + timedelta(days=1, minutes=1))
    assert expired.expired == 1
    assert _row(sessions).status is MessageStatus.EXPIRED
    sender = FakeSmsSender()
    outbox.send_due(sessions, sender, NOW + timedelta(days=1, hours=2))
    assert sender.outbox == []


def test_admins_see_texts_that_did_not_go_on_the_jobs_page(
    client: TestClient, sessions: sessionmaker[Session], world: World
) -> None:
    _queue(sessions)
    gateway = GatewayDown()
    now = NOW
    for _ in range(outbox.MAX_ATTEMPTS):
        outbox.send_due(sessions, gateway, now)
        now += timedelta(hours=1)
    login(client, world.users[Role.ADMIN])
    page = client.get("/admin/jobs").text
    assert "发送失败 1" in page
    assert "138****0001" in page
    assert PHONE not in page
    assert "ConnectionError: 短信网关无响应" in page
