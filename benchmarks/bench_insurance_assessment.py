"""The insurance assessment of 1,000,000 cards × 92 days of balances (a quarter of daily rows,
as banks send them) against a hand-written DuckDB query and a pandas groupby over the same
Parquet file, each step in its own process so that its peak memory is its own; and the import
of a bank's 1,000,000-row daily file, in rows per second.

Issue 4's targets: the assessment at most 1.25x the hand-written DuckDB time, under 4 GB peak.
Set GONGHUI_BENCH_CARDS for a smaller run.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
from sqlalchemy import insert
from sqlalchemy.orm import Session

from benchmarks.isolated import report_step, run_step
from gonghui.core.auth import Actor, Role
from gonghui.core.db import make_engine
from gonghui.core.migrate import upgrade
from gonghui.core.settings import Settings
from gonghui.insurance import service
from gonghui.insurance.assessment import assess
from gonghui.insurance.balances import Source, import_balances
from gonghui.insurance.models import BalanceImport
from gonghui.insurance.rules import PeriodKind, Terms
from gonghui.insurance.store import BalanceStore
from gonghui.members.models import Bank, Card, Member, Unit
from gonghui.members.rules import CardStatus, EmploymentStatus, MembershipStatus, PostType, Sex

CARDS = int(os.environ.get("GONGHUI_BENCH_CARDS", "1000000"))
UNITS = 200
START, END = date(2025, 7, 1), date(2025, 9, 30)  # a quarter of 92 days
NOW = datetime(2025, 10, 8, 2, 0, tzinfo=UTC)
OPERATOR = Actor(user_id=None, username="bench", role=Role.ADMIN, display_name="bench")
PART = "balances/YTB/bench/quarter.parquet"


def _settings(folder: Path) -> Settings:
    return Settings(database_url=f"sqlite:///{folder / 'bench.db'}", storage_dir=folder / "storage")


def card_no(number: int) -> str:
    return f"622311{number:013d}"


def roll_with_plan(
    db: Session, cards: int, terms: Terms, effective_from: date, now: datetime
) -> Bank:
    """One bank, UNITS units, `cards` members with a card each (inserted in bulk), and a plan
    of `terms` over the bank that enrols every unit: the roll every insurance benchmark reads."""
    bank = Bank(code="YTB", name="烟台银行")
    db.add(bank)
    db.flush()
    db.execute(insert(Unit), [_unit(i) for i in range(1, UNITS + 1)])
    for start in range(1, cards + 1, 50_000):
        numbers = range(start, min(start + 50_000, cards + 1))
        db.execute(insert(Member), [_member(i) for i in numbers])
        db.execute(insert(Card), [_card(i, bank.id) for i in numbers])
    plan = service.create_plan(
        db, code="BENCH", name="bench", insurer="bench", terms=terms,
        effective_from=effective_from, bank_ids=[bank.id], actor=OPERATOR, now=now,
    )  # fmt: skip
    service.enroll_units(db, plan, range(1, UNITS + 1), effective_from, actor=OPERATOR, now=now)
    return bank


def setup(folder: Path) -> None:
    settings = _settings(folder)
    upgrade(settings)
    engine = make_engine(settings.database_url)
    with Session(engine) as db, db.begin():
        bank = roll_with_plan(
            db, CARDS, Terms(period_kind=PeriodKind.QUARTER), date(2025, 1, 1), NOW
        )
        rows = _write_balances(BalanceStore(settings.storage_dir))
        db.add(
            BalanceImport(
                bank_id=bank.id,
                sha256="bench",
                source=Source.CLI.value,
                filename="bench",
                rows=rows,
                new_rows=rows,
                first_date=START,
                last_date=END,
                part_path=PART,
                imported_at=NOW,
                actor_label="bench",
            )
        )
    engine.dispose()


def _unit(i: int) -> dict[str, object]:
    return {
        "id": i,
        "name": f"单位{i}",
        "credit_code": f"U{i:017d}",
        "industry": "制造业",
        "district": "芝罘区",
        "parent_union": "芝罘区总工会",
        "created_at": NOW,
    }


def _member(i: int) -> dict[str, object]:
    return {
        "id": i,
        "name": "会员",
        "id_hash": f"{i:064d}",
        "id_cipher": "-",
        "id_masked": "-",
        "birth_date": date(1980, 1, 1),
        "sex": Sex.MALE,
        "phone": "13800000000",
        "unit_id": i % UNITS + 1,
        "post_type": PostType.PRODUCTION,
        # One member in twenty is retired, re-hired or on early leave: not eligible.
        "employment_status": EmploymentStatus.RETIRED if i % 20 == 0 else EmploymentStatus.EMPLOYED,
        "membership_status": MembershipStatus.ACTIVE,
        "created_at": NOW,
        "updated_at": NOW,
    }


def _card(i: int, bank_id: int) -> dict[str, object]:
    # One card in fifty was opened mid-quarter, so the day-count rule matters.
    opened = date(2025, 8, 15) if i % 50 == 0 else date(2020, 1, 1)
    return {
        "id": i,
        "card_no": card_no(i),
        "bank_id": bank_id,
        "member_id": i,
        "opened_on": opened,
        "closed_on": None,
        "status": CardStatus.ACTIVE,
    }


def _write_balances(store: BalanceStore) -> int:
    with duckdb.connect() as connection:
        store.write_part(
            connection,
            f"""
            SELECT '622311' || lpad(c.range::VARCHAR, 13, '0') AS card_no,
                   (DATE '{START}' + d.range::INTEGER) AS on_date,
                   ((hash(c.range) % 500000) * (70 + hash(c.range, d.range // 7) % 60)
                    // 100)::BIGINT
                       AS balance_fen
            FROM range(1, {CARDS + 1}) c, range(92) d
            WHERE c.range % 50 <> 0 OR DATE '{START}' + d.range::INTEGER >= DATE '2025-08-15'
            """,
            PART,
        )
        count = connection.execute(
            f"SELECT count(*) FROM read_parquet('{store.absolute(PART)}')"
        ).fetchone()
    return int(count[0]) if count else 0


def step_assess(folder: Path) -> dict[str, object]:
    settings = _settings(folder)
    engine = make_engine(settings.database_url)
    with Session(engine) as db, db.begin():
        summary = assess(
            db,
            service.plan_by_code(db, "BENCH"),
            START,
            actor=OPERATOR,
            now=NOW,
            store=BalanceStore(settings.storage_dir),
        )
    engine.dispose()
    return {"eligible": summary.eligible}


HAND_WRITTEN = """
    WITH segments AS (
        SELECT card_no, balance_fen,
               date_diff('day', on_date, coalesce(
                   lead(on_date) OVER (PARTITION BY card_no ORDER BY on_date),
                                                  DATE '{end}' + 1)) AS days
        FROM read_parquet('{path}') WHERE on_date BETWEEN DATE '{start}' AND DATE '{end}'
    ),
    averages AS (
        SELECT card_no, (2 * sum(balance_fen * days) + 92) // (2 * 92) AS average_fen
        FROM segments GROUP BY card_no
    )
    SELECT count(*) FILTER (WHERE average_fen >= 200000) FROM averages
"""


def step_duckdb(folder: Path) -> dict[str, object]:
    path = _settings(folder).storage_dir / PART
    with duckdb.connect() as connection:
        passed = connection.execute(HAND_WRITTEN.format(path=path, start=START, end=END)).fetchone()
    return {"passing_balances": int(passed[0]) if passed else 0}


def step_pandas(folder: Path) -> dict[str, object]:
    import pandas as pd  # noqa: PLC0415 - only this step's process pays for it

    frame = pd.read_parquet(
        _settings(folder).storage_dir / PART, columns=["card_no", "balance_fen"]
    )
    frame["card_no"] = frame["card_no"].astype("category")
    # A pandas analyst's version: every day has a row, so the average is the sum over 92 days.
    averages = frame.groupby("card_no", observed=True)["balance_fen"].sum() / 92
    return {"passing_balances": int((averages.round(2) >= 200000).sum())}


def step_import(folder: Path) -> dict[str, object]:
    settings = _settings(folder)
    lines = ["卡号,日期,日终余额"] + [
        f"{card_no(i)},2025-10-01,{i % 9000}.{i % 100:02d}" for i in range(1, CARDS + 1)
    ]
    content = ("\n".join(lines) + "\n").encode()
    engine = make_engine(settings.database_url)
    started = time.perf_counter()
    with Session(engine) as db, db.begin():
        bank = db.query(Bank).filter_by(code="YTB").one()
        report = import_balances(
            db,
            content,
            bank=bank,
            filename="day.csv",
            source=Source.CLI,
            actor=OPERATOR,
            now=NOW,
            store=BalanceStore(settings.storage_dir),
        )
    seconds = time.perf_counter() - started
    engine.dispose()
    return {"rows": report.rows, "rows_per_second": round(report.rows / seconds), "timed": seconds}


STEPS = {"assess": step_assess, "duckdb": step_duckdb, "pandas": step_pandas, "import": step_import}


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="gonghui-bench-"))
    try:
        started = time.perf_counter()
        setup(folder)
        print(f"setup: {CARDS:,} cards × 92 days, {time.perf_counter() - started:.1f} s")
        results = {name: run_step(__name__, name, folder) for name in STEPS}
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    for name, result in results.items():
        print(
            f"{name:8} {result['seconds']:8.2f} s   peak {result['peak_mb']:7.0f} MB   "
            f"{result['detail']}"
        )
    ours, hand, frame = (float(results[n]["seconds"]) for n in ("assess", "duckdb", "pandas"))  # type: ignore[arg-type]
    print(f"assessment / hand-written DuckDB: {ours / hand:.2f}x (target <= 1.25x)")
    print(f"assessment / pandas groupby:      {ours / frame:.2f}x")
    print(f"import: {results['import']['detail']['rows_per_second']:,} rows/s")  # type: ignore[index]


if __name__ == "__main__":
    report_step(STEPS)
