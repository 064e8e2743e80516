"""A province's monthly assessment: 10,000,000 cards × 31 daily parts (one per bank file, as
banks send them), time and peak memory, against the floor: a bare DuckDB GROUP BY scan of the
same parts (sum per card, no rules, no carry) with the assessment's memory budget and key.
Each step in its own process so that its peak memory is its own.

Issue 16's targets: under 120 s and 4 GB. GONGHUI_BENCH_PROVINCE_CARDS sizes a smaller run
(the README records the size measured on the shared 2-core machine).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
from sqlalchemy.orm import Session

from benchmarks.bench_insurance_assessment import OPERATOR, card_no, roll_with_plan
from benchmarks.isolated import report_step, run_step
from gonghui.core.db import make_engine
from gonghui.core.migrate import upgrade
from gonghui.core.settings import Settings
from gonghui.insurance import parts, service
from gonghui.insurance.assessment import DUCKDB, assess
from gonghui.insurance.models import BalancePart
from gonghui.insurance.rules import Terms
from gonghui.insurance.store import BalanceStore

CARDS = int(os.environ.get("GONGHUI_BENCH_PROVINCE_CARDS", "10000000"))
MONTH = date(2025, 7, 1)
DAYS = 31
NOW = datetime(2025, 8, 2, 2, 0, tzinfo=UTC)


def _settings(folder: Path) -> Settings:
    return Settings(database_url=f"sqlite:///{folder / 'bench.db'}", storage_dir=folder / "storage")


def setup(folder: Path) -> None:
    settings = _settings(folder)
    upgrade(settings)
    engine = make_engine(settings.database_url)
    store = BalanceStore(settings.storage_dir)
    with Session(engine) as db, db.begin():
        bank = roll_with_plan(db, CARDS, Terms(), date(2025, 1, 1), NOW)
        with duckdb.connect() as connection:
            for offset in range(DAYS):
                day = MONTH + timedelta(days=offset)
                relative = f"balances/YTB/bench/{day}.parquet"
                store.write_part(connection, _day_rows(day), relative)
                parts.record_part(
                    db,
                    bank_id=bank.id,
                    path=relative,
                    span=(day, day),
                    rows=CARDS,
                    cards=(card_no(1), card_no(CARDS)),
                    now=NOW,
                )
    engine.dispose()


def _day_rows(day: date) -> str:
    week = (day - MONTH).days // 7
    return f"""
        SELECT '622311' || lpad(c.range::VARCHAR, 13, '0') AS card_no, DATE '{day}' AS on_date,
               ((hash(c.range) % 500000) * (70 + hash(c.range, {week}) % 60) // 100)::BIGINT
                   AS balance_fen
        FROM range(1, {CARDS + 1}) c ORDER BY card_no
    """


def step_assess(folder: Path) -> dict[str, object]:
    settings = _settings(folder)
    engine = make_engine(settings.database_url)
    started = time.perf_counter()
    stages: dict[str, float] = {}

    def progress(_done: int, _total: int, stage: str) -> None:
        stages[stage] = round(time.perf_counter() - started, 1)

    with Session(engine) as db, db.begin():
        summary = assess(
            db,
            service.plan_by_code(db, "BENCH"),
            MONTH,
            actor=OPERATOR,
            now=NOW,
            store=BalanceStore(settings.storage_dir),
            # Parts are indexed without import records, which the readiness check reads.
            allow_missing_banks=True,
            progress=progress,
        )
    stages["committed"] = round(time.perf_counter() - started, 1)
    engine.dispose()
    # When each of the assessment's steps began, in seconds from the start.
    return {"eligible": summary.eligible, "stages": stages}


def step_group_by(folder: Path) -> dict[str, object]:
    settings = _settings(folder)
    engine = make_engine(settings.database_url)
    with Session(engine) as db:
        paths = [str(settings.storage_dir / part.path) for part in db.query(BalancePart).all()]
    engine.dispose()
    # The same memory budget as the assessment, and the same fixed-width key: grouped by the
    # VARCHAR card number, this bare scan runs out of that budget at 10 million cards.
    key = DUCKDB.key("card_no")
    with BalanceStore(settings.storage_dir).analytics() as connection:
        passed = connection.execute(
            "SELECT count(*) FILTER (WHERE total >= 200000 * 31) FROM ("
            f"SELECT {key}, sum(balance_fen) AS total FROM read_parquet($paths) GROUP BY {key})",
            {"paths": paths},
        ).fetchone()
    return {"passing_balances": int(passed[0]) if passed else 0}


STEPS = {"assess": step_assess, "group_by": step_group_by}


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="gonghui-bench-province-"))
    try:
        started = time.perf_counter()
        setup(folder)
        print(f"setup: {CARDS:,} cards × {DAYS} daily parts, {time.perf_counter() - started:.1f} s")
        results = {name: run_step(__name__, name, folder) for name in STEPS}
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    for name, result in results.items():
        print(
            f"{name:9} {result['seconds']:8.2f} s   peak {result['peak_mb']:7.0f} MB   "
            f"{result['detail']}"
        )
    ours, floor = (float(results[n]["seconds"]) for n in ("assess", "group_by"))  # type: ignore[arg-type]
    peak = float(results["assess"]["peak_mb"]) / 1024  # type: ignore[arg-type]
    print(
        f"assessment / bare GROUP BY scan: {ours / floor:.2f}x; "
        f"assessment {ours:.1f} s (target < 120 s), peak {peak:.2f} GB (target < 4 GB)"
    )


if __name__ == "__main__":
    report_step(STEPS)
