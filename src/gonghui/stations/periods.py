"""Evaluation periods: a calendar month (2025-01) or a year (2024), in Asia/Shanghai dates.

The period and its parser are the input layer's, so that stations and every other module read
"2025-01" and "2024" alike.
"""

from __future__ import annotations

from gonghui.core import inputs
from gonghui.core.inputs import CalendarPeriod as Period

__all__ = ["Period", "parse_period"]


def parse_period(text: str) -> Period:
    """A month (2025-01) or a year (2024); an ``InputError`` (a ``ValueError``) otherwise."""
    return inputs.parse_period(text, "考核期间")
