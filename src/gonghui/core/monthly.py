"""Rows counted and summed by Beijing calendar month, in one grouped query: the monthly series
the dashboards draw. The months are given by their first days (`clock.full_months`), so a
series holds only months that have ended."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from gonghui.core.clock import business_date, business_midnight


def month_bounds(months: Sequence[date], *, instants: bool) -> list[Any]:
    """What a column is compared with: the months' first days for a date column, the Beijing
    midnights that open them for an instant column (stored in UTC)."""
    return [business_midnight(m) for m in months] if instants else list(months)


def _bucket(column: Any, bounds: Sequence[object]) -> Any:
    """The index of the month a value falls in, given the months' first values in order."""
    return case(*((column < bound, index) for index, bound in enumerate(bounds[1:])))


def by_month(
    session: Session,
    column: Any,
    bounds: Sequence[object],
    values: Sequence[Any],
    *where: Any,
) -> dict[int, tuple[Any, ...]]:
    """{month index: (rows, the sum of each value)} for rows whose `column` falls from
    `bounds[0]` up to (not including) `bounds[-1]`; `bounds` is one longer than the months.
    The bucket is computed in a subquery and grouped outside it: PostgreSQL would not match a
    CASE of bound parameters in GROUP BY to the same CASE in the select list."""
    if len(bounds) <= 1:  # no month
        return {}
    inner = (
        select(_bucket(column, bounds).label("month"), *values)
        .where(column >= bounds[0], column < bounds[-1], *where)
        .subquery()
    )
    aggregates = [func.coalesce(func.sum(c), 0) for c in list(inner.c)[1:]]
    rows = session.execute(select(inner.c.month, func.count(), *aggregates).group_by(inner.c.month))
    return {int(row[0]): tuple(row[1:]) for row in rows}


def months_caption(months: Sequence[str], counted_at: datetime) -> str:
    """For a monthly chart's caption: the months it shows (YYYY-MM, oldest first), and that the
    month it was counted in is left out until it ends."""
    shown = f"{months[0]} 至 {months[-1]} 各整月" if months else "暂无已结束的月份"
    return f"{shown}（北京时间；{business_date(counted_at):%Y-%m} 尚未结束，不计入）"
