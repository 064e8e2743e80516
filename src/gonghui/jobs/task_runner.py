"""Running one queued task once: what the worker calls for each task message.

A run is three transactions, as a scheduled job's is. The first claims the task (QUEUED →
RUNNING, only if it is still queued: a message delivered twice, or a task queued again by
recovery while its first message waits, runs once). The second does the work and marks the
task SUCCEEDED, on the condition that this worker still holds it, so the work and its record
commit together or not at all. A failure rolls the work back and a third transaction records
the error in Chinese. A worker killed mid-task leaves it RUNNING with nothing committed until
`recover` sees the worker silent and queues it again (or, after `MAX_ATTEMPTS`, marks it
failed with a message).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from gonghui.core.clock import Clock
from gonghui.core.db import transaction
from gonghui.core.errors import DomainError, ImportRejected
from gonghui.core.logging import get_logger
from gonghui.core.settings import Settings
from gonghui.insurance.store import BalanceStore
from gonghui.jobs.models import WorkerBeat
from gonghui.jobs.runner import wall_clock
from gonghui.jobs.task_kinds import KINDS
from gonghui.jobs.task_models import Task, TaskStatus
from gonghui.jobs.tasks import Board, Progress, TaskContext, TaskKind, TaskOutcome, actor_from

log = get_logger(__name__)
MAX_ATTEMPTS = 3
MAX_ERROR_LINES = 50


class TaskLost(Exception):
    """This worker no longer holds the task (recovery gave it to another): its work is rolled
    back rather than committed twice."""


def error_text(error: Exception, task_id: int) -> str:
    """What the starter reads: the service's own Chinese refusal, a refused file's lines, or
    for anything unforeseen a sentence and the task's number (the trace goes to the log)."""
    if isinstance(error, ImportRejected):
        lines = [str(line) for line in error.errors[:MAX_ERROR_LINES]]
        if len(error.errors) > MAX_ERROR_LINES:
            lines.append(f"……以及另外 {len(error.errors) - MAX_ERROR_LINES} 处错误")
        return "\n".join([error.message, *lines])
    if isinstance(error, DomainError):
        return error.message
    return f"任务运行出错（内部错误），请联系管理员并告知任务编号 {task_id}"


def _kind_of(task: Task) -> TaskKind:
    kind = KINDS.get(task.kind)
    if kind is None:
        raise DomainError("unknown_task", f"未知的任务类型：{task.kind}")
    return kind


@dataclass(frozen=True)
class TaskRunner:
    settings: Settings
    factory: sessionmaker[Session]
    clock: Clock
    worker: str
    board: Board
    balance_store: BalanceStore

    def run(self, task_id: int) -> TaskStatus | None:
        """Run a queued task; None when it was not queued (already run or running)."""
        if not self._claim(task_id):
            log.info("task.skipped", task=task_id, reason="not queued")
            return None
        progress = Progress(self.board, task_id)
        try:
            with transaction(self.factory) as session:
                task = session.get(Task, task_id)
                assert task is not None  # noqa: S101 - claimed above
                kind = _kind_of(task)
                log.info("task.started", task=task_id, kind=task.kind, attempt=task.attempt)
                context = TaskContext(
                    session,
                    self.settings,
                    self.clock.now(),
                    actor_from(task.actor),
                    dict(task.parameters),
                    task_id,
                    progress,
                    self.balance_store,
                )
                outcome = kind.run(context)
                self._succeed(session, task_id, outcome, progress)
        except Exception as error:
            if isinstance(error, TaskLost):
                log.warning("task.lost", task=task_id)
                return None
            if not isinstance(error, DomainError):
                log.exception("task.crashed", task=task_id)
            self._fail(task_id, error_text(error, task_id), progress)
            log.info("task.failed", task=task_id, error=str(error)[:200])
            return TaskStatus.FAILED
        finally:
            progress.clear()
        log.info("task.succeeded", task=task_id, summary=outcome.summary)
        return TaskStatus.SUCCEEDED

    def _claim(self, task_id: int) -> bool:
        with transaction(self.factory) as session:
            claimed = session.execute(
                update(Task)
                .where(Task.id == task_id, Task.status == TaskStatus.QUEUED)
                .values(status=TaskStatus.RUNNING, worker=self.worker, started_at=wall_clock())
            )
            return bool(claimed.rowcount)  # type: ignore[attr-defined]

    def _succeed(
        self, session: Session, task_id: int, outcome: TaskOutcome, progress: Progress
    ) -> None:
        total = max(progress.figures.total, 1)
        finished = session.execute(
            update(Task)
            .where(
                Task.id == task_id,
                Task.status == TaskStatus.RUNNING,
                Task.worker == self.worker,
            )
            .values(
                status=TaskStatus.SUCCEEDED,
                done=total,
                total=total,
                summary=outcome.summary,
                result_url=outcome.url,
                result_file=outcome.file,
                finished_at=wall_clock(),
            )
        )
        if not finished.rowcount:  # type: ignore[attr-defined]
            raise TaskLost

    def _fail(self, task_id: int, error: str, progress: Progress) -> None:
        with transaction(self.factory) as session:
            session.execute(
                update(Task)
                .where(Task.id == task_id, Task.worker == self.worker)
                .values(
                    status=TaskStatus.FAILED,
                    done=progress.figures.done,
                    total=progress.figures.total,
                    error=error,
                    finished_at=wall_clock(),
                )
            )

    def recover(self, now: datetime | None = None) -> list[int]:
        """Tasks whose worker went silent mid-run (their work rolled back with its
        connection): queued again, or failed with a message after `MAX_ATTEMPTS`. Returns the
        ids to put on the queue again."""
        now = now or wall_clock()
        silence = timedelta(seconds=self.settings.worker_silence_seconds)
        with transaction(self.factory) as session:
            alive = set(
                session.scalars(
                    select(WorkerBeat.worker).where(WorkerBeat.beat_at >= now - silence)
                )
            )
            orphans = session.execute(
                select(Task.id, Task.worker, Task.attempt).where(Task.status == TaskStatus.RUNNING)
            ).all()
            again: list[int] = []
            for task_id, worker, attempt in orphans:
                if worker in alive:
                    continue
                values: dict[str, object]
                if attempt < MAX_ATTEMPTS:
                    values = {"status": TaskStatus.QUEUED, "attempt": attempt + 1, "worker": ""}
                    again.append(task_id)
                else:
                    values = {
                        "status": TaskStatus.FAILED,
                        "finished_at": now,
                        "error": f"后台任务进程中断，已尝试 {attempt} 次仍未完成，请重新发起",
                    }
                session.execute(
                    update(Task)
                    .where(Task.id == task_id, Task.status == TaskStatus.RUNNING)
                    .values(**values)
                )
                log.warning("task.interrupted", task=task_id, attempt=attempt)
        return again

    def waiting(self) -> list[int]:
        """Every queued task: what a worker starting up makes sure is on the queue (a request
        that committed a task and died before queuing it leaves one behind)."""
        with transaction(self.factory) as session:
            return list(session.scalars(select(Task.id).where(Task.status == TaskStatus.QUEUED)))
