"""Columnar storage of daily card balances.

Why files and not a table: a province is about 1,000,000 cards × 365 days = 365 million
card-days a year. As rows in PostgreSQL that is tens of gigabytes with its indexes, and the
monthly assessment would scan a month of them row by row. Kept as Parquet files (one per
accepted bank file, ~4 bytes per card-day after compression) and read by DuckDB, a year is a
few gigabytes on disk and a month's assessment is one columnar scan; the job moves to a
cluster engine over the same files without a rewrite.

Consistency with the database: a part file is written before the transaction that records it
commits, and readers only ever open the parts the database lists. A part whose transaction
rolled back is an orphan that nothing reads.
"""

from __future__ import annotations

import contextlib
import csv
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import duckdb

from gonghui.core.settings import Settings

DUCKDB_MEMORY_LIMIT = "2GB"


class BalanceStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def absolute(self, relative: str) -> Path:
        return self.root / relative

    def analytics(self, memory_limit: str = DUCKDB_MEMORY_LIMIT) -> duckdb.DuckDBPyConnection:
        """A DuckDB connection held to a memory budget, spilling to the storage directory
        beyond it: a province's quarter must not take the server's memory from the web."""
        self.root.mkdir(parents=True, exist_ok=True)
        return duckdb.connect(
            config={
                "memory_limit": memory_limit,
                "temp_directory": str(self.root / "duckdb-spill"),
                "preserve_insertion_order": False,
            }
        )

    def part_for(self, bank_code: str, sha256: str) -> str:
        return f"balances/{bank_code}/{sha256[:2]}/{sha256}.parquet"

    @contextlib.contextmanager
    def staging(self, rows: Iterable[tuple[object, ...]]) -> Iterator[Path]:
        """Rows in a temporary CSV that DuckDB reads in bulk (far faster than inserts)."""
        self.root.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix="stage-", suffix=".csv", dir=self.root)
        try:
            with os.fdopen(handle, "w", newline="", encoding="utf-8") as out:
                csv.writer(out).writerows(rows)
            yield Path(name)
        finally:
            Path(name).unlink(missing_ok=True)

    def write_part(self, connection: duckdb.DuckDBPyConnection, query: str, relative: str) -> None:
        """Write a query's result as a part, atomically: a reader sees all of it or nothing."""
        target = self.absolute(relative)
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_suffix(".tmp")
        connection.execute(f"COPY ({query}) TO '{_quoted(temporary)}' (FORMAT parquet)")
        temporary.replace(target)


def staged(path: Path, columns: dict[str, str]) -> str:
    """A DuckDB table expression over a staging file, read exactly as `staging` wrote it (no
    dialect sniffing, which a column of mostly empty values can mislead)."""
    spec = ", ".join(f"'{name}': '{kind}'" for name, kind in columns.items())
    return (
        f"read_csv('{_quoted(path)}', header=false, delim=',', quote='\"', escape='\"', "
        f"auto_detect=false, columns={{{spec}}})"
    )


def scan(paths: list[Path]) -> str:
    """A DuckDB table expression over the given parts (an empty relation when there are none)."""
    if not paths:
        return (
            "(SELECT NULL::VARCHAR AS card_no, NULL::DATE AS on_date, "
            "NULL::BIGINT AS balance_fen WHERE false)"
        )
    listed = ", ".join(f"'{_quoted(path)}'" for path in paths)
    return f"read_parquet([{listed}])"


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")


def store_for(settings: Settings) -> BalanceStore:
    return BalanceStore(settings.storage_dir)
