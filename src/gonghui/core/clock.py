"""The one clock. Read ``now`` once per operation and pass it down."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
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


def business_midnight(day: date) -> datetime:
    """The instant a Beijing calendar day begins: where a day, or a month from its first day,
    starts and the one before it ends."""
    return datetime.combine(day, time(0), BUSINESS_TZ)


def month_of(day: date) -> date:
    """The first day of the calendar month a date falls in."""
    return day.replace(day=1)


def full_months(today: date, count: int) -> list[date]:
    """The first days of the last `count` calendar months that have ended by `today`, oldest
    first, and then the first day of `today`'s month, where they end. Today's month is never
    among them: a period is reported only once it has ended."""
    index = today.year * 12 + today.month - 1
    return [date(i // 12, i % 12 + 1, 1) for i in range(index - count, index + 1)]
