"""Text messages to a phone: an outside service behind one small interface. Development and
tests use `FakeSmsSender`, which sends nothing and keeps the messages in memory; production
refuses it and, until a real gateway is wired in, has no sender (codes are handed over by
the issuing officer in person)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from gonghui.core.settings import Environment, Settings


class SmsSender(Protocol):
    name: str

    def send(self, phone: str, text: str) -> None: ...


@dataclass(frozen=True)
class SentSms:
    phone: str
    text: str


@dataclass
class FakeSmsSender:
    """A fake: records what would have been sent. Never for real people."""

    name: str = "fake"
    outbox: list[SentSms] = field(default_factory=list)

    def send(self, phone: str, text: str) -> None:
        self.outbox.append(SentSms(phone, text))


def sms_sender_for(settings: Settings) -> SmsSender | None:
    if settings.environment is Environment.PRODUCTION:
        return None
    return FakeSmsSender()
