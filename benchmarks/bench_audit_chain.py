"""The audit chain's cost on SQLite: committing transactions that each write audit rows, with
the chain's link made at commit against the same rows committed with the link skipped (the
reference, in the same run), and `verify` over the chain (rows per second).

Two shapes: many small transactions of one row (a request that changes one thing), and one
transaction of many rows (a batch job). No target in the issue; printed for the README.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gonghui.core import audit, audit_chain
from gonghui.core.audit import PENDING_LINKS
from gonghui.core.auth import SYSTEM
from gonghui.core.db import make_engine
from gonghui.core.migrate import alembic_config

SMALL = 2_000
BATCH = 20_000
AT = datetime(2025, 2, 10, 1, 0, tzinfo=UTC)


def _write(session: Session, n: int) -> None:
    audit.append(
        session,
        actor=SYSTEM,
        at=AT,
        action="bench.row",
        target_type="bench",
        target_id=n,
        after={"n": n, "名": "值"},
    )


def _unlinked(session: Session) -> None:
    # The reference: the same rows, the commit hook finds nothing to link.
    session.info.pop(PENDING_LINKS, None)


def _timed(
    engine: Engine, transactions: int, rows: int, before_commit: Callable[..., None]
) -> float:
    start = time.perf_counter()
    for t in range(transactions):
        with Session(engine) as session, session.begin():
            for r in range(rows):
                _write(session, t * rows + r)
            before_commit(session)
    return time.perf_counter() - start


def _engine(folder: Path, name: str) -> Engine:
    url = f"sqlite:///{folder / name}"
    engine = make_engine(url)
    with engine.begin() as connection:
        command.upgrade(alembic_config(url, connection), "heads")
    return engine


def main() -> None:
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        plain, chained = _engine(folder, "plain.db"), _engine(folder, "chained.db")
        for label, transactions, rows in (
            (f"{SMALL:,} transactions of 1 row", SMALL, 1),
            (f"1 transaction of {BATCH:,} rows", 1, BATCH),
        ):
            reference = _timed(plain, transactions, rows, _unlinked)
            linked = _timed(chained, transactions, rows, lambda _session: None)
            print(
                f"{label}: chained {transactions * rows / linked:,.0f} rows/s, "
                f"unchained {transactions * rows / reference:,.0f} rows/s "
                f"({linked / reference:.2f}x the time)"
            )
        with Session(chained) as session:
            start = time.perf_counter()
            verdict = audit_chain.verify(session)
            took = time.perf_counter() - start
        assert verdict.ok, verdict.reason  # noqa: S101 - the benchmark's own check
        rate = verdict.checked / took
        print(f"verify: {verdict.checked:,} rows in {took:.2f} s ({rate:,.0f} rows/s)")
        plain.dispose()
        chained.dispose()


if __name__ == "__main__":
    main()
