"""Prometheus metrics: what an operator watches (latency by route, jobs, imports, assessments,
evaluations, money moves, logins, texts). Served at `/metrics` to the local machine or a token.

One process keeps its figures in memory (`REGISTRY`). `gonghui serve` (one web process or
several) and `gonghui worker` write theirs to files in one metrics directory with
prometheus-client's multiprocess mode, and `/metrics` adds up every process's files, so it
shows the web processes' requests and the worker's jobs alike, whichever process answers. The
files of processes that have ended are removed when a server or worker starts (their counters
then start again from zero, which Prometheus reads as the restart it is).
"""

from __future__ import annotations

import os
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram, values
from prometheus_client.multiprocess import MultiProcessCollector

from gonghui.core.logging import get_logger
from gonghui.core.settings import Settings

log = get_logger("gonghui.money")
log_imports = get_logger("gonghui.imports")

REGISTRY = CollectorRegistry(auto_describe=True)
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"

REQUEST_SECONDS = Histogram(
    "gonghui_request_seconds",
    "Time to answer a request, by route template and method",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 5, 10),
    registry=REGISTRY,
)
JOB_SECONDS = Histogram(
    "gonghui_job_seconds",
    "Time a job run took, by job and outcome",
    ["job", "outcome"],
    buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600),
    registry=REGISTRY,
)
JOB_FAILURES = Counter("gonghui_job_failures", "Job runs that failed", ["job"], registry=REGISTRY)
IMPORTS = Counter(
    "gonghui_imports", "File imports, by kind and outcome", ["kind", "outcome"], registry=REGISTRY
)
IMPORTED_ROWS = Counter(
    "gonghui_imported_rows", "Rows in accepted imports, by kind", ["kind"], registry=REGISTRY
)
# Every figure has labels: see `use_multiprocess`.
ASSESSMENT_SECONDS = Histogram(
    "gonghui_assessment_seconds",
    "Time an insurance assessment took, by plan",
    ["plan"],
    buckets=(0.5, 1, 2, 5, 10, 20, 40, 80, 160, 600),
    registry=REGISTRY,
)
ASSESSED_CARDS = Counter(
    "gonghui_assessed_cards", "Cards assessed, by outcome", ["outcome"], registry=REGISTRY
)
EVALUATION_SECONDS = Histogram(
    "gonghui_evaluation_seconds",
    "Time a station evaluation took, by period kind (month or year)",
    ["period"],
    buckets=(0.1, 0.5, 1, 2, 5, 10, 20, 40, 80),
    registry=REGISTRY,
)
EVALUATED_CARDS = Counter(
    "gonghui_station_cards", "Cards given by evaluations, by colour", ["card"], registry=REGISTRY
)
MONEY_MOVES = Counter(
    "gonghui_money_moves", "Money moves committed, by kind", ["kind"], registry=REGISTRY
)
MONEY_MOVED_FEN = Counter(
    "gonghui_money_moved_fen", "Fen moved, by kind of move", ["kind"], registry=REGISTRY
)
LOGINS = Counter("gonghui_logins", "Sign-in attempts, by outcome", ["outcome"], registry=REGISTRY)
SMS_SENT = Counter(
    "gonghui_sms", "Text messages handed to the gateway, by outcome", ["outcome"],
    registry=REGISTRY,
)  # fmt: skip


def money_moved(kind: str, fen: int, **fields: object) -> None:
    """A committed money move, counted and logged (call it after the commit: see
    `core.committed`). Kinds: the wallet ledger's posting kinds (fund, hold = a transfer
    submitted, accept, expire = returned at 06:00, void, pay = spent, return) and
    claim_payment."""
    MONEY_MOVES.labels(kind).inc()
    MONEY_MOVED_FEN.labels(kind).inc(fen)
    log.info("money.moved", kind=kind, amount_fen=fen, **fields)


def imported(kind: str, rows: int, **fields: object) -> None:
    """An accepted file import (kinds: units, members, cards, balances, stations)."""
    IMPORTS.labels(kind, "accepted").inc()
    IMPORTED_ROWS.labels(kind).inc(rows)
    log_imports.info("import.accepted", kind=kind, rows=rows, **fields)


def import_refused(kind: str, errors: int, **fields: object) -> None:
    """A refused import (all-or-nothing), with how many errors it reported."""
    IMPORTS.labels(kind, "refused").inc()
    log_imports.info("import.refused", kind=kind, errors=errors, **fields)


def metrics_dir(settings: Settings) -> Path:
    """Beside the storage directory, not in it: a backup copies storage, and a restore wants it
    empty."""
    return settings.metrics_dir or settings.storage_dir.resolve().parent / "metrics"


def use_multiprocess(settings: Settings) -> Path:
    """Write this process's figures (and its children's) to files in the metrics directory,
    after removing the files of processes that have ended. Called at the start of `serve` and
    of `worker`, before any figure is recorded. prometheus-client picks its value class when
    first imported, which the CLI has already done; every figure here has labels, and a
    labelled series takes the value class when first used, so setting the class now suffices
    in this process (the web processes `serve` starts import it afresh with the variable set)."""
    directory = metrics_dir(settings)
    directory.mkdir(parents=True, exist_ok=True)
    for path in directory.glob("*.db"):
        if not _alive(path):
            path.unlink(missing_ok=True)
    os.environ[MULTIPROCESS_ENV] = str(directory)
    values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]
    return directory


def _alive(path: Path) -> bool:
    """Whether the process that writes this file (`counter_<pid>.db`) still runs here."""
    try:
        pid = int(path.stem.rsplit("_", 1)[1])
        os.kill(pid, 0)
    except (IndexError, ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True  # someone else's process: leave it
    return True


def registry_to_serve() -> CollectorRegistry:
    """The in-process registry, or, in multiprocess mode, one summing every process's files."""
    directory = os.environ.get(MULTIPROCESS_ENV)
    if not directory:
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    return registry
