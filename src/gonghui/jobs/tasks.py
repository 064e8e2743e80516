"""One-off tasks: what a person starts (an assessment, a big import, an evaluation, an export)
and the worker runs off the request, reporting its progress as it goes.

Starting one writes the task QUEUED in the request's transaction; the request commits, then
puts a message on the worker's queue. The worker's `TaskRunner` (in `task_runner.py`) does the
work in one transaction, so a task either happens whole or not at all.

Progress cannot be written to the task's own row while the work runs: on SQLite the work's
transaction holds the database's one write lock until it commits, so a progress write from
another connection would wait for it (and on PostgreSQL it would be invisible until then if
written in the work's own transaction). The live figures go to the progress board instead:
the queue's key-value store (huey's `kv` table, in the queue's own SQLite file beside the
embedded database, or in the app's PostgreSQL database), each figure an upsert of its own.
The task's row gets the final figures when it finishes.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy.orm import Session

from gonghui.core import audit
from gonghui.core.auth import Actor, Role
from gonghui.core.settings import Settings
from gonghui.jobs.task_models import Task, TaskStatus

# A progress figure is written at most this often (and always at the end of a stage), so a
# task reporting every row does not spend its time writing figures.
PROGRESS_INTERVAL_SECONDS = 0.25
RESULTS_DIR = "tasks"
UPLOADS_DIR = f"{RESULTS_DIR}/uploads"

# The kinds of task (their code is in `task_kinds.py`, which imports the domains).
ASSESSMENT = "insurance.assessment"
BALANCE_IMPORT = "insurance.balance_import"
EVALUATION = "stations.evaluation"
IMPACT_EXPORT = "retirement.impact_export"
ROLL_IMPORT = "members.import"


def owner_of(actor: Actor) -> str:
    if actor.user_id is not None:
        return f"user:{actor.user_id}"
    if actor.token_id is not None:
        return f"token:{actor.token_id}"
    return f"name:{actor.username}"


def actor_record(actor: Actor) -> dict[str, Any]:
    return {**dataclasses.asdict(actor), "role": actor.role.value if actor.role else None}


def actor_from(record: dict[str, Any]) -> Actor:
    role = record.get("role")
    return Actor(**{**record, "role": Role(role) if role else None})


def start_task(
    session: Session,
    kind: str,
    parameters: dict[str, Any],
    *,
    actor: Actor,
    now: datetime,
) -> Task:
    """Write a queued task for the worker. The caller commits, then enqueues it
    (`gonghui.jobs.web_tasks.queue_task` does both)."""
    task = Task(
        kind=kind,
        owner=owner_of(actor),
        started_by=actor.display_name or actor.username,
        actor=actor_record(actor),
        parameters=parameters,
        status=TaskStatus.QUEUED,
        attempt=1,
        worker="",
        done=0,
        total=0,
        summary="",
        result_url="",
        result_file="",
        error="",
        created_at=now,
        started_at=None,
        finished_at=None,
    )
    session.add(task)
    session.flush()
    audit.record(
        session,
        actor=actor,
        at=now,
        action="task.queued",
        target_type="task",
        target_id=task.id,
        after={"kind": kind, "parameters": parameters},
    )
    return task


def keep_upload(storage_dir: Path, digest: str, content: bytes) -> str:
    """Keep an upload for the worker, named by its SHA-256 (the same file twice is kept once).
    Returns its path inside the storage directory."""
    relative = f"{UPLOADS_DIR}/{digest}"
    target = storage_dir / relative
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_suffix(".tmp")
        temporary.write_bytes(content)
        temporary.replace(target)
    return relative


class Board(Protocol):
    """Where live progress figures go: a key-value store written outside the work's
    transaction (the queue's, in production)."""

    def put_data(self, key: str, value: bytes) -> None: ...
    def peek_data(self, key: str) -> object: ...
    def delete_data(self, key: str) -> object: ...


def _key(task_id: int) -> str:
    return f"task-progress:{task_id}"


@dataclass(frozen=True)
class Figures:
    done: int
    total: int
    stage: str = ""

    @property
    def percent(self) -> int:
        if self.total <= 0:
            return 0
        return min(100, self.done * 100 // self.total)


def read_progress(board: Board, task: Task) -> Figures:
    """What a reader shows: the live figures while the task runs, its row's once finished."""
    if task.status is TaskStatus.RUNNING:
        raw = board.peek_data(_key(task.id))
        if isinstance(raw, bytes | bytearray | memoryview):
            value = json.loads(bytes(raw))
            return Figures(int(value["done"]), int(value["total"]), str(value.get("stage", "")))
    if task.status is TaskStatus.SUCCEEDED:
        total = max(task.total, 1)
        return Figures(total, total)
    return Figures(task.done, task.total)


class Progress:
    """The callback a task's code reports through: `progress(done, total, stage)`. Each
    report is its own short write on the board, so a reader sees the bar move while the
    work's transaction is still open."""

    def __init__(
        self, board: Board, task_id: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.board = board
        self.task_id = task_id
        self.clock = clock
        self.figures = Figures(0, 0)
        self._written_at: float | None = None

    def __call__(self, done: int, total: int, stage: str = "") -> None:
        changed_stage = stage != self.figures.stage
        self.figures = Figures(done, total, stage)
        now = self.clock()
        due = self._written_at is None or now - self._written_at >= PROGRESS_INTERVAL_SECONDS
        if due or changed_stage or done >= total:
            payload = {"done": done, "total": total, "stage": stage}
            self.board.put_data(_key(self.task_id), json.dumps(payload).encode())
            self._written_at = now

    def clear(self) -> None:
        self.board.delete_data(_key(self.task_id))


class ProgressCallback(Protocol):
    def __call__(self, done: int, total: int, stage: str = "") -> None: ...


@dataclass(frozen=True)
class TaskContext:
    session: Session
    settings: Settings
    now: datetime
    actor: Actor
    parameters: dict[str, Any]
    task_id: int
    progress: ProgressCallback
    # The banks' balance files (an `insurance.store.BalanceStore`; typed loosely because this
    # module, imported by every domain's pages, imports no domain).
    balance_store: Any

    def save_file(self, name: str, content: bytes) -> str:
        """Keep a result file for the starter to download; written again whole if the task is
        run again after a crash. Returns its path inside the storage directory."""
        relative = f"{RESULTS_DIR}/{self.task_id}/{Path(name).name}"
        target = self.settings.storage_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_suffix(".tmp")
        temporary.write_bytes(content)
        temporary.replace(target)
        return relative


@dataclass(frozen=True)
class TaskOutcome:
    summary: str
    url: str = ""
    file: str = ""


@dataclass(frozen=True)
class TaskKind:
    name: str
    label: str
    unit: str  # what `done` and `total` count: 行, 步, 个阵地
    run: Callable[[TaskContext], TaskOutcome]
