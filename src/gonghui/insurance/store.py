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
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from gonghui.core.settings import Settings

DUCKDB_MEMORY_LIMIT = "2GB"
# The layout of parts and results, measured for one-card reads (benchmarks/bench_card_reads.py,
# 1,000,000 cards): files are sorted by card number and carry a page index, so a read skips
# every row group, and inside the one left every 8 KB page, whose card range misses the card.
# Row groups of 16,384 rows without an index read less per group but left a month's merged
# part with a 600 KB footer to parse on every read (30 ms); with 131,072 rows it is 80 KB.
ROW_GROUP_ROWS = 131_072
DATA_PAGE_BYTES = 8_192
PARQUET_OPTIONS = (
    f"FORMAT parquet, ROW_GROUP_SIZE {ROW_GROUP_ROWS}, WRITE_PAGE_INDEX true, "
    f"DATA_PAGE_SIZE_LIMIT {DATA_PAGE_BYTES}"
)


@dataclass(frozen=True)
class PartRead:
    """One part to read: the whole file, or (a merged part standing in for parts that were
    compacted into it) only its rows whose `source_part` is among `sources`."""

    path: Path
    merged: bool = False
    sources: tuple[int, ...] | None = None


# The one DuckDB instance a process keeps for small reads (one card's rows): opening a database
# costs tens of milliseconds, a cursor on an open one about one. It keeps the Parquet footers it
# has parsed (`parquet_metadata_cache`): file metadata, not figures. A part's path is never
# written twice (a file's hash, a merge's random name, a run's own results), and DuckDB checks a
# file's modification time before it uses a footer it kept.
READER_MEMORY_LIMIT = "512MB"
READER_THREADS = 2


class BalanceStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._reader: duckdb.DuckDBPyConnection | None = None
        self._reader_lock = threading.Lock()

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

    def reader(self) -> duckdb.DuckDBPyConnection:
        """A cursor for a small read, to be closed after use (`with store.reader() as c:`).
        Each cursor is its own connection to the shared instance, so threads may hold one each."""
        with self._reader_lock:
            if self._reader is None:
                self._reader = duckdb.connect(
                    config={
                        "memory_limit": READER_MEMORY_LIMIT,
                        "threads": READER_THREADS,
                        "preserve_insertion_order": False,
                    }
                )
                # A global setting: cursors are connections of their own and would not see a
                # local one. (Not in `config`: the Parquet extension loads after it is read.)
                self._reader.execute("SET GLOBAL parquet_metadata_cache = true")
            return self._reader.cursor()

    def part_for(self, bank_code: str, sha256: str) -> str:
        return f"balances/{bank_code}/{sha256[:2]}/{sha256}.parquet"

    @contextlib.contextmanager
    def staging(self, rows: Iterable[tuple[object, ...]]) -> Iterator[Path]:
        """Rows in a temporary CSV that DuckDB reads in bulk (far faster than inserts)."""
        with self.staging_file() as path:
            with path.open("w", newline="", encoding="utf-8") as out:
                csv.writer(out).writerows(rows)
            yield path

    @contextlib.contextmanager
    def staging_file(self) -> Iterator[Path]:
        """A temporary CSV file for the caller to fill (`core.db.write_csv`), removed after."""
        self.root.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix="stage-", suffix=".csv", dir=self.root)
        os.close(handle)
        try:
            yield Path(name)
        finally:
            Path(name).unlink(missing_ok=True)

    @contextlib.contextmanager
    def scratch(self) -> Iterator[Path]:
        """A private folder for one job's intermediate files, removed after it."""
        self.root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="scratch-", dir=self.root) as folder:
            yield Path(folder)

    @staticmethod
    def save(connection: duckdb.DuckDBPyConnection, query: str, path: Path) -> None:
        """A query's result as a Parquet file of the job's own (in its `scratch` folder)."""
        connection.execute(f"COPY ({query}) TO '{_quoted(path)}' (FORMAT parquet)")

    def rows_of(self, path: Path, batch: int = 100_000) -> Iterator[tuple[object, ...]]:
        """A Parquet file's rows, a batch at a time: a province's millions are never all in
        memory at once."""
        with self.reader() as connection:
            result = connection.execute(f"SELECT * FROM read_parquet('{_quoted(path)}')")
            while chunk := result.fetchmany(batch):
                yield from chunk

    def write_part(self, connection: duckdb.DuckDBPyConnection, query: str, relative: str) -> None:
        """Write a query's result as a part, atomically: a reader sees all of it or nothing."""
        target = self.absolute(relative)
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_suffix(".tmp")
        connection.execute(f"COPY ({query}) TO '{_quoted(temporary)}' ({PARQUET_OPTIONS})")
        temporary.replace(target)


def staged(path: Path, columns: dict[str, str]) -> str:
    """A DuckDB table expression over a staging file, read exactly as `staging` wrote it (no
    dialect sniffing, which a column of mostly empty values can mislead)."""
    spec = ", ".join(f"'{name}': '{kind}'" for name, kind in columns.items())
    return (
        f"read_csv('{_quoted(path)}', header=false, delim=',', quote='\"', escape='\"', "
        f"auto_detect=false, columns={{{spec}}})"
    )


def scan(parts: Sequence[Path | PartRead]) -> str:
    """A DuckDB table expression (card_no, on_date, balance_fen) over the given parts (an empty
    relation when there are none)."""
    reads = [part if isinstance(part, PartRead) else PartRead(part) for part in parts]
    if not reads:
        return (
            "(SELECT NULL::VARCHAR AS card_no, NULL::DATE AS on_date, "
            "NULL::BIGINT AS balance_fen WHERE false)"
        )
    selects: list[str] = []
    # Whole files of one layout go in one read_parquet, which DuckDB scans in parallel.
    for merged in (False, True):
        whole = [read.path for read in reads if read.merged is merged and read.sources is None]
        if whole:
            listed = ", ".join(f"'{_quoted(path)}'" for path in whole)
            selects.append(f"SELECT card_no, on_date, balance_fen FROM read_parquet([{listed}])")
    for read in reads:
        if read.sources is not None:
            kept = ", ".join(str(int(source)) for source in read.sources) or "NULL"
            selects.append(
                f"SELECT card_no, on_date, balance_fen FROM read_parquet('{_quoted(read.path)}') "
                f"WHERE source_part IN ({kept})"
            )
    return "(" + " UNION ALL ".join(selects) + ")"


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")


def store_for(settings: Settings) -> BalanceStore:
    return BalanceStore(settings.storage_dir)
