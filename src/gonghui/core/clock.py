"""The one clock. Read ``now`` once per operation and pass it down."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from gonghui.core.settings import Settings

BUSINESS_TZ = ZoneInfo("Asia/Shanghai")


def beijing(instant: datetime, pattern: str = "%Y-%m-%d %H:%M") -> str:
    """An instant as people here read it: Beijing time (the `beijing` filter in templates)."""
    return instant.astimezone(BUSINESS_TZ).strftime(pattern)


class Clock(Protocol):
    def now(self) -> datetime: ...


@dataclass(frozen=True)
class SystemClock:
    offset: timedelta = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


@dataclass(frozen=True)
class FixedClock:
    at: datetime

    def now(self) -> datetime:
        return self.at.astimezone(UTC)


def clock_from(settings: Settings) -> Clock:
    if settings.clock_fixed is not None:
        return FixedClock(settings.clock_fixed)
    return SystemClock(timedelta(seconds=settings.clock_offset_seconds))


def business_date(instant: datetime) -> date:
    """The Asia/Shanghai calendar date of an instant: the date every business rule speaks of."""
    return instant.astimezone(BUSINESS_TZ).date()


def machine_now() -> datetime:
    """The machine's own time, for operational facts that must not follow a fixed or shifted
    business clock: when a session expires, when a job really ran, when a worker last beat."""
    return datetime.now(UTC)
