"""Per-card reads at a province's size: 1,000,000 cards × a year of daily balance parts (one
per bank file, as banks send them), before and after the parts are compacted; and the
compactions themselves, timed with their peak memory.

Three reads a member's pages make, each timed for 200 random cards:
- the last closed month's standing once assessed (from the assessment's results),
- the month before's standing, not assessed (from the parts: the month's and the carried-in),
- the running average of the current month so far (本月截至昨日日均).
The reference in the same run is a bare DuckDB read of one card from the last closed month's
raw daily parts (what the member page used to do, minus the rules). Target: p95 under 50 ms.

The reads are timed three times: on the daily parts alone (the daily job never ran); as the
daily job leaves the parts, its nightly merge of each month's ended days
(`parts.compact_month_so_far`) having run on each month's last night before the reads, so one
day's file is left unmerged in each month; and after the closed months are compacted
(`parts.compact_month`). Each merge is timed with the process's peak memory.

GONGHUI_BENCH_READ_CARDS and GONGHUI_BENCH_READ_MONTHS (at least 3: an unassessed closed month
needs one before the assessed one) size a smaller run; GONGHUI_BENCH_READ_NIGHTLY=0 skips the
nightly merges, so the closed months are compacted from their daily parts.

Measured 2026-12-05 at the full size (354 daily parts, 1 January to 20 December; two runs of 8
and 9.5 minutes on the shared 2-core machine), p50 / p95 in ms for the assessed month, the
unassessed month and the month so far:
- as the daily job leaves the parts: 3.5 / 6.0, 12.9 / 24.6, 11.1 / 20.2 at load 4.3 (reference
  15.1 / 23.0); 3.6 / 12.2, 13.6 / 60.5, 9.3 / 26.8 at load 6.9 (reference 15.0 / 48.1);
- after compaction: 2.7 / 3.6, 6.8 / 8.0, 5.9 / 8.5 at load 3.3 (reference 13.1 / 17.4);
  2.8 / 7.2, 10.0 / 16.9, 9.4 / 15.0 at load 6.2 (reference 13.5 / 26.2);
- daily parts only: 2.5 / 2.8, 23.2 / 27.9, 17.6 / 29.4 at load 2.6; 2.5 / 2.9, 24.1 / 33.6,
  15.0 / 18.5 at load 4.7.
The one p95 over 50 ms is time spent waiting for a core: a read's CPU time is 14-19 ms at p95
for the unassessed month, and its wall time the same at load 5 (README, "per-card reads").
Nightly merges 6-20 s a month, compactions 4.4-21.6 s, peaks 488-588 MB; setup 184-207 s.
"""

from __future__ import annotations

import os
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
from sqlalchemy.orm import Session

from benchmarks.bench_insurance_assessment import OPERATOR, card_no, roll_with_plan
from gonghui.core.clock import business_date
from gonghui.core.db import make_engine
from gonghui.core.migrate import upgrade
from gonghui.core.settings import Settings
from gonghui.insurance import parts, queries, service
from gonghui.insurance.assessment import assess
from gonghui.insurance.models import BalancePart
from gonghui.insurance.rules import Terms
from gonghui.insurance.store import BalanceStore

CARDS = int(os.environ.get("GONGHUI_BENCH_READ_CARDS", "1000000"))
MONTHS = int(os.environ.get("GONGHUI_BENCH_READ_MONTHS", "12"))
# 0: the closed months are compacted straight from their daily parts (no nightly merges first).
NIGHTLY = os.environ.get("GONGHUI_BENCH_READ_NIGHTLY", "1") != "0"
if MONTHS < 3:
    raise SystemExit("GONGHUI_BENCH_READ_MONTHS must be at least 3")
# Daily parts from 1 January to the 20th of the last month; "now" is the 21st in Beijing.
FIRST = date(2025, 1, 1)
SAMPLES = 200


def _last_month() -> date:
    return date(2025 + (MONTHS - 1) // 12, (MONTHS - 1) % 12 + 1, 1)


def _now() -> datetime:
    last = _last_month()
    return datetime(last.year, last.month, 21, 1, 0, tzinfo=UTC)


def _setup(folder: Path) -> tuple[Settings, int]:
    settings = Settings(
        database_url=f"sqlite:///{folder / 'bench.db'}", storage_dir=folder / "storage"
    )
    upgrade(settings)
    engine = make_engine(settings.database_url)
    now = _now()
    store = BalanceStore(settings.storage_dir)
    days = 0
    with Session(engine) as db, db.begin():
        bank = roll_with_plan(db, CARDS, Terms(), date(2024, 1, 1), now)
        day = FIRST
        with duckdb.connect() as connection:
            while day < business_date(now):
                relative = f"balances/YTB/bench/{day}.parquet"
                store.write_part(connection, _day_rows(day), relative)
                parts.record_part(
                    db,
                    bank_id=bank.id,
                    path=relative,
                    span=(day, day),
                    rows=CARDS,
                    cards=(card_no(1), card_no(CARDS)),
                    now=now,
                )
                day += timedelta(days=1)
                days += 1
    engine.dispose()
    return settings, days


def _day_rows(day: date) -> str:
    # A card's balance drifts week by week around its own level, as deposits do.
    week = (day - FIRST).days // 7
    return f"""
        SELECT '622311' || lpad(c.range::VARCHAR, 13, '0') AS card_no, DATE '{day}' AS on_date,
               ((hash(c.range) % 500000) * (70 + hash(c.range, {week}) % 60) // 100)::BIGINT
                   AS balance_fen
        FROM range(1, {CARDS + 1}) c ORDER BY card_no
    """


def _timed(read: Callable[[str], object], cards: list[str]) -> tuple[float, float]:
    spent = []
    for card in cards:
        started = time.perf_counter()
        read(card)
        spent.append((time.perf_counter() - started) * 1000)
    spent.sort()
    return statistics.median(spent), spent[int(len(spent) * 0.95) - 1]


def _reads(settings: Settings, cards: list[str]) -> dict[str, tuple[float, float]]:
    engine = make_engine(settings.database_url)
    store = BalanceStore(settings.storage_dir)
    now = _now()
    today = business_date(now)
    last_month = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    month_before = (last_month - timedelta(days=1)).replace(day=1)
    month_paths = [
        str(store.absolute(f"balances/YTB/bench/{last_month + timedelta(days=d)}.parquet"))
        for d in range((today.replace(day=1) - last_month).days)
    ]
    found: dict[str, tuple[float, float]] = {}
    with Session(engine) as db:
        plan = service.plan_by_code(db, "BENCH")

        def raw(card: str) -> object:
            with store.reader() as connection:
                return connection.execute(
                    "SELECT sum(balance_fen) FROM read_parquet($paths) WHERE card_no = $card",
                    {"paths": month_paths, "card": card},
                ).fetchone()

        found["raw daily parts (reference)"] = _timed(raw, cards)
        found["assessed month (results)"] = _timed(
            lambda card: queries.card_standing(db, plan, card, last_month, store=store), cards
        )
        found["unassessed month (parts)"] = _timed(
            lambda card: queries.card_standing(db, plan, card, month_before, store=store), cards
        )
        found["current month so far"] = _timed(
            lambda card: queries.month_so_far(db, plan, card, today, store=store), cards
        )
    engine.dispose()
    return found


def _assess_last_month(settings: Settings) -> float:
    engine = make_engine(settings.database_url)
    now = _now()
    last_month = (business_date(now).replace(day=1) - timedelta(days=1)).replace(day=1)
    started = time.perf_counter()
    with Session(engine) as db, db.begin():
        assess(
            db,
            service.plan_by_code(db, "BENCH"),
            last_month,
            actor=OPERATOR,
            now=now,
            store=BalanceStore(settings.storage_dir),
            # The bench indexes parts without import records, which the readiness check reads.
            allow_missing_banks=True,
        )
    engine.dispose()
    return time.perf_counter() - started


def _compact_closed_months(settings: Settings) -> list[tuple[float, float]]:
    """Each closed month's compaction: its time in seconds and the process's peak memory in MB."""
    engine = make_engine(settings.database_url)
    store = BalanceStore(settings.storage_dir)
    now = _now()
    spent = []
    month = FIRST
    with Session(engine) as db:
        while month < business_date(now).replace(day=1):

            def compact(month: date = month) -> None:
                with db.begin():
                    parts.compact_month(db, store, month, actor=OPERATOR, now=now)

            spent.append(_measured(compact))
            month = (month + timedelta(days=32)).replace(day=1)
    engine.dispose()
    return spent


def _nightly_merges(settings: Settings) -> list[tuple[float, float]]:
    """The daily job's merge of each month's ended days (`compact_month_so_far`) as it ran on
    the month's last night before the reads: on each closed month's last day, and on the day
    before "now", so that one day's file is left unmerged in each month."""
    engine = make_engine(settings.database_url)
    store = BalanceStore(settings.storage_dir)
    nights = []
    month = FIRST
    while month <= _last_month():
        following = (month + timedelta(days=32)).replace(day=1)
        nights.append(min(following, business_date(_now())) - timedelta(days=1))
        month = following
    spent = []
    with Session(engine) as db:
        for night in nights:

            def merge(night: date = night) -> None:
                with db.begin():
                    parts.compact_month_so_far(
                        db,
                        store,
                        actor=OPERATOR,
                        now=datetime(night.year, night.month, night.day, 1, 0, tzinfo=UTC),
                    )

            spent.append(_measured(merge))
    engine.dispose()
    return spent


def _measured(step: Callable[[], object]) -> tuple[float, float]:
    """`step`'s wall time (s) and the process's peak resident memory while it ran (MB), from
    Linux's high-water mark reset just before."""
    Path("/proc/self/clear_refs").write_text("5")
    started = time.perf_counter()
    step()
    spent = time.perf_counter() - started
    peak = next(
        int(line.split()[1]) / 1024
        for line in Path("/proc/self/status").read_text().splitlines()
        if line.startswith("VmHWM:")
    )
    return spent, peak


def _say(what: str, steps: list[tuple[float, float]]) -> None:
    print(
        f"{what} (load average {os.getloadavg()[0]:.1f}): "
        + ", ".join(f"{spent:.1f} s (peak {peak:.0f} MB)" for spent, peak in steps)
    )


def _print(title: str, found: dict[str, tuple[float, float]]) -> None:
    reference = found["raw daily parts (reference)"][1]
    print(f"{title} (load average {os.getloadavg()[0]:.1f})")
    for name, (p50, p95) in found.items():
        print(
            f"  {name:30} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms   "
            f"{p95 / reference:5.2f}x reference (target p95 < 50 ms)"
        )


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="gonghui-bench-reads-"))
    try:
        started = time.perf_counter()
        settings, days = _setup(folder)
        print(f"setup: {CARDS:,} cards × {days} daily parts, {time.perf_counter() - started:.1f} s")
        print(f"assessment of the last closed month: {_assess_last_month(settings):.1f} s")
        cards = [card_no(n) for n in random.Random(16).sample(range(1, CARDS + 1), SAMPLES)]
        _print("daily parts only (the daily job never ran)", _reads(settings, cards))
        if NIGHTLY:
            _say("nightly merge of a month's ended days", _nightly_merges(settings))
            _print(
                "as the daily job leaves them, closed months not compacted", _reads(settings, cards)
            )
        _say("compaction of a closed month", _compact_closed_months(settings))
        _print("after compaction", _reads(settings, cards))
        engine = make_engine(settings.database_url)
        with Session(engine) as db:
            live = len(parts.live_parts(db))
            total = db.query(BalancePart).count()
        engine.dispose()
        print(f"parts: {live} live of {total} indexed")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
