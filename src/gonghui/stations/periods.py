"""Evaluation periods: a calendar month (2025-01) or a year (2024), in Asia/Shanghai dates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from gonghui.core import inputs
from gonghui.core.clock import BUSINESS_TZ


@dataclass(frozen=True)
class Period:
    label: str
    start: date
    end: date  # inclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def instants(self) -> tuple[datetime, datetime]:
        """[first instant, first instant after): the business days as aware times."""
        first = datetime.combine(self.start, time(0), BUSINESS_TZ)
        after = datetime.combine(self.end + timedelta(days=1), time(0), BUSINESS_TZ)
        return first, after


def parse_period(text: str) -> Period:
    """A month (2025-01) or a year (2024), read by the input layer (an ``InputError``, which
    is a ``ValueError``, when it is neither)."""
    found = inputs.parse_period(text, "考核期间")
    return Period(found.label, found.start, found.end)
