"""The hand-kept part list against Apache Iceberg (pyiceberg, SQL catalog in SQLite) for what
the balance parts need: appending a bank's daily file, finding the files a one-card read must
open, and reading one card. Not part of `make bench`: pyiceberg is not a dependency (the README
says why), so run it from a separate environment:

    python -m venv /tmp/ice && /tmp/ice/bin/pip install "pyiceberg[sql-sqlite,pyarrow,duckdb]"
    /tmp/ice/bin/python benchmarks/table_formats.py [CARDS] [DAYS]
"""

from __future__ import annotations

import random
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]
from pyiceberg.catalog.sql import SqlCatalog  # type: ignore[import-not-found]
from pyiceberg.expressions import EqualTo  # type: ignore[import-not-found]

CARDS = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
DAYS = int(sys.argv[2]) if len(sys.argv) > 2 else 31
FIRST = date(2025, 1, 1)
SAMPLES = 100


def card_no(number: int) -> str:
    return f"622311{number:013d}"


def _day(day: date) -> pa.Table:
    numbers = range(1, CARDS + 1)
    return pa.table(
        {
            "card_no": pa.array([card_no(n) for n in numbers], pa.string()),
            "on_date": pa.array([day] * CARDS, pa.date32()),
            "balance_fen": pa.array([(n * 7919) % 600_000 for n in numbers], pa.int64()),
        }
    )


def _p50(spent: list[float]) -> float:
    return statistics.median(spent) * 1000


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="gonghui-formats-"))
    days = [FIRST + timedelta(days=d) for d in range(DAYS)]
    tables = {day: _day(day) for day in days}

    # The hand-kept list: a Parquet file per day and a row in an indexed table.
    index = sqlite3.connect(folder / "index.db")
    index.execute(
        "CREATE TABLE parts (id INTEGER PRIMARY KEY, bank_id INT, path TEXT, first_date TEXT, "
        "last_date TEXT, min_card TEXT, max_card TEXT, replaced_by INT)"
    )
    index.execute("CREATE INDEX live ON parts (replaced_by, first_date)")
    hand_append = []
    for day, table in tables.items():
        started = time.perf_counter()
        path = folder / f"hand-{day}.parquet"
        pq.write_table(table, path, row_group_size=16_384)
        with index:
            index.execute(
                "INSERT INTO parts (bank_id, path, first_date, last_date, min_card, max_card) "
                "VALUES (1, ?, ?, ?, ?, ?)",
                (str(path), str(day), str(day), card_no(1), card_no(CARDS)),
            )
        hand_append.append(time.perf_counter() - started)

    catalog = SqlCatalog(
        "gonghui", uri=f"sqlite:///{folder / 'catalog.db'}", warehouse=f"file://{folder}"
    )
    catalog.create_namespace("insurance")
    iceberg = catalog.create_table("insurance.balances", schema=tables[FIRST].schema)
    ice_append = []
    for table in tables.values():
        started = time.perf_counter()
        iceberg.append(table)
        ice_append.append(time.perf_counter() - started)

    cards = [card_no(n) for n in random.Random(16).sample(range(1, CARDS + 1), SAMPLES)]
    reader = duckdb.connect()
    hand_plan, hand_read, ice_plan, ice_read = [], [], [], []
    for card in cards:
        started = time.perf_counter()
        paths = [
            row[0]
            for row in index.execute(
                "SELECT path FROM parts WHERE replaced_by IS NULL AND first_date <= ? "
                "AND last_date >= ? AND min_card <= ? AND max_card >= ?",
                (str(days[-1]), str(FIRST), card, card),
            )
        ]
        planned = time.perf_counter()
        with reader.cursor() as cursor:
            cursor.execute(
                "SELECT sum(balance_fen) FROM read_parquet($p) WHERE card_no = $c",
                {"p": paths, "c": card},
            ).fetchall()
        hand_plan.append(planned - started)
        hand_read.append(time.perf_counter() - planned)

        started = time.perf_counter()
        tasks = list(iceberg.refresh().scan(row_filter=EqualTo("card_no", card)).plan_files())
        planned = time.perf_counter()
        files = [task.file.file_path.removeprefix("file://") for task in tasks]
        with reader.cursor() as cursor:
            cursor.execute(
                "SELECT sum(balance_fen) FROM read_parquet($p) WHERE card_no = $c",
                {"p": files, "c": card},
            ).fetchall()
        ice_plan.append(planned - started)
        ice_read.append(time.perf_counter() - planned)

    print(f"{CARDS:,} cards × {DAYS} daily files")
    print(
        f"append a day:        hand list p50 {_p50(hand_append):7.1f} ms   "
        f"iceberg p50 {_p50(ice_append):7.1f} ms"
    )
    print(
        f"plan a one-card read: hand list p50 {_p50(hand_plan):7.2f} ms   "
        f"iceberg p50 {_p50(ice_plan):7.2f} ms"
    )
    print(
        f"read the card (DuckDB over the planned files): hand list p50 {_p50(hand_read):6.1f} ms"
        f"   iceberg p50 {_p50(ice_read):6.1f} ms"
    )
    print(
        f"iceberg snapshots: {len(iceberg.snapshots())}, metadata files: "
        f"{len(list(folder.rglob('*.metadata.json')))}, manifests: "
        f"{len(list(folder.rglob('*.avro')))}"
    )


if __name__ == "__main__":
    main()
