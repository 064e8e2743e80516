"""Evaluation periods: a calendar month (2025-01) or a year (2024), in Asia/Shanghai dates."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from gonghui.core.clock import BUSINESS_TZ

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_YEAR = re.compile(r"^(\d{4})$")
MIN_YEAR, MAX_YEAR, DECEMBER = 2000, 2100, 12


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
    value = text.strip()
    if match := _MONTH.match(value):
        year, month = int(match[1]), int(match[2])
        if MIN_YEAR <= year <= MAX_YEAR and 1 <= month <= DECEMBER:
            start = date(year, month, 1)
            following = date(year + month // DECEMBER, month % DECEMBER + 1, 1)
            return Period(value, start, following - timedelta(days=1))
    elif (match := _YEAR.match(value)) and MIN_YEAR <= int(match[1]) <= MAX_YEAR:
        year = int(match[1])
        return Period(value, date(year, 1, 1), date(year, 12, 31))
    raise ValueError(f"考核期间“{text}”格式不正确，应为 YYYY-MM（月度）或 YYYY（年度）")
