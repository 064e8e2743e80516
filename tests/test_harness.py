"""The test harness itself: what a developer's run says about the tests it could not run."""

from __future__ import annotations

import pytest

from tests.conftest import not_run_for_missing


def _skipped(name: str, reason: str) -> pytest.TestReport:
    return pytest.TestReport(
        f"tests/x.py::{name}",
        ("tests/x.py", 1, name),
        {},
        "skipped",
        ("tests/x.py", 1, f"Skipped: {reason}"),
        "setup",
    )


def test_the_summary_counts_the_tests_each_missing_service_kept_from_running() -> None:
    postgres = "PostgreSQL (set GONGHUI_TEST_POSTGRES_URL) is not available"
    reports = [
        _skipped("a", postgres),
        _skipped("b", postgres),
        _skipped("c", "Chromium at /usr/bin/chromium is not available"),
        _skipped("d", "a second connection holding a table lock is the PostgreSQL case"),
    ]
    assert not_run_for_missing(reports) == [
        "1 test NOT RUN: Chromium at /usr/bin/chromium is not available",
        f"2 tests NOT RUN: {postgres}",
    ]


def test_a_run_that_missed_nothing_says_nothing() -> None:
    assert not_run_for_missing([_skipped("d", "skipped for another reason")]) == []
