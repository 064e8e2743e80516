"""Schedules are read in Beijing time, whatever zone the machine or the database keeps."""

from __future__ import annotations

from datetime import UTC, datetime

from gonghui.jobs.catalogue import JOBS
from gonghui.jobs.schedule import Schedule

SIX = Schedule(0, 6)


def test_six_in_the_morning_is_ten_at_night_in_utc() -> None:
    assert SIX.matches(datetime(2025, 2, 10, 22, 0, 30, tzinfo=UTC))
    assert not SIX.matches(datetime(2025, 2, 10, 6, 0, tzinfo=UTC))
    assert not SIX.matches(datetime(2025, 2, 10, 22, 1, tzinfo=UTC))


def test_the_next_run_is_the_next_due_minute_strictly_after_now() -> None:
    assert SIX.next_after(datetime(2025, 2, 10, 21, 59, tzinfo=UTC)) == datetime(
        2025, 2, 10, 22, 0, tzinfo=UTC
    )
    assert SIX.next_after(datetime(2025, 2, 10, 22, 0, tzinfo=UTC)) == datetime(
        2025, 2, 11, 22, 0, tzinfo=UTC
    )
    hourly = Schedule(10)
    assert hourly.next_after(datetime(2025, 2, 10, 1, 10, 5, tzinfo=UTC)) == datetime(
        2025, 2, 10, 2, 10, tzinfo=UTC
    )


def test_the_schedule_speaks_chinese() -> None:
    assert SIX.label == "每天 06:00"
    assert Schedule(10).label == "每小时第 10 分"


def test_the_transfer_release_runs_at_six_beijing_time() -> None:
    assert JOBS["wallet.release_due"].schedule == SIX
