"""When a job runs, in Beijing time: every day at a time, or every hour at a minute."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from gonghui.core.clock import BUSINESS_TZ


@dataclass(frozen=True)
class Schedule:
    minute: int
    hour: int | None = None  # None: every hour

    def matches(self, instant: datetime) -> bool:
        local = instant.astimezone(BUSINESS_TZ)
        return local.minute == self.minute and self.hour in {None, local.hour}

    def next_after(self, instant: datetime) -> datetime:
        """The first minute strictly after `instant` on which the job is due."""
        local = instant.astimezone(BUSINESS_TZ).replace(second=0, microsecond=0)
        candidate = local.replace(minute=self.minute)
        step = timedelta(hours=1) if self.hour is None else timedelta(days=1)
        if self.hour is not None:
            candidate = candidate.replace(hour=self.hour)
        while candidate <= instant:
            candidate += step
        return candidate.astimezone(UTC)

    @property
    def label(self) -> str:
        if self.hour is None:
            return f"每小时第 {self.minute} 分"
        return f"每天 {self.hour:02d}:{self.minute:02d}"
