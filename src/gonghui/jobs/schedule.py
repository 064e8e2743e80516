"""When a job runs, in Beijing time: every day at a time, every hour at a minute, or every few
minutes of the hour."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from gonghui.core.clock import BUSINESS_TZ

MINUTES_PER_HOUR = 60


@dataclass(frozen=True)
class Schedule:
    minute: int
    hour: int | None = None  # None: every hour
    # With no hour: every `every` minutes from `minute` (which is below it); divides 60.
    every: int = MINUTES_PER_HOUR

    def __post_init__(self) -> None:
        daily_with_step = self.hour is not None and self.every != MINUTES_PER_HOUR
        if MINUTES_PER_HOUR % self.every or not 0 <= self.minute < self.every or daily_with_step:
            msg = f"bad schedule: minute {self.minute}, hour {self.hour}, every {self.every}"
            raise ValueError(msg)

    def matches(self, instant: datetime) -> bool:
        local = instant.astimezone(BUSINESS_TZ)
        return local.minute % self.every == self.minute and self.hour in {None, local.hour}

    def next_after(self, instant: datetime) -> datetime:
        """The first minute strictly after `instant` on which the job is due."""
        local = instant.astimezone(BUSINESS_TZ).replace(second=0, microsecond=0)
        candidate = local.replace(minute=self.minute)
        step = timedelta(minutes=self.every) if self.hour is None else timedelta(days=1)
        if self.hour is not None:
            candidate = candidate.replace(hour=self.hour)
        while candidate <= instant:
            candidate += step
        return candidate.astimezone(UTC)

    @property
    def label(self) -> str:
        if self.hour is None and self.every < MINUTES_PER_HOUR:
            return f"每 {self.every} 分钟"
        if self.hour is None:
            return f"每小时第 {self.minute} 分"
        return f"每天 {self.hour:02d}:{self.minute:02d}"
