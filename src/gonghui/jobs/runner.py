"""Running one job once, with its run recorded: what huey's worker calls, and what the CLI's
`gonghui jobs run` calls directly.

A run is three transactions. The first writes the run as RUNNING and commits: the partial
unique index on running runs makes this the lock that keeps a second worker from starting the
same job. The second does the work and marks the run SUCCEEDED, so the work and its record
commit together or not at all. If the work fails, it is rolled back and a third transaction
marks the run FAILED with its error (huey then retries it with backoff). If the worker dies in
the middle, the run stays RUNNING with nothing of its work committed, until `recover` sees
that its worker stopped beating, marks it INTERRUPTED and queues the job again.
"""

from __future__ import annotations

import os
import socket
import time
import traceback
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from gonghui.core.clock import Clock, machine_now
from gonghui.core.db import insert_if_absent, transaction
from gonghui.core.logging import bound, get_logger
from gonghui.core.metrics import JOB_FAILURES, JOB_SECONDS
from gonghui.core.settings import Settings
from gonghui.jobs.catalogue import JOBS, JobContext
from gonghui.jobs.models import JobPause, JobRun, RunStatus, WorkerBeat

log = get_logger(__name__)


def wall_clock() -> datetime:
    """When a run really started and ended, and when a worker last beat: operational facts,
    read from the machine's clock even when the business clock is fixed or shifted (a pinned
    clock would make every worker look alive forever)."""
    return machine_now()


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class JobBusy(Exception):
    """The job is already running (on this worker or another)."""


@dataclass(frozen=True)
class Runner:
    settings: Settings
    factory: sessionmaker[Session]
    clock: Clock
    worker: str

    def run(self, name: str, *, trigger: str, attempt: int = 1) -> JobRun:
        """Run a job now; raises what the job raised (after recording it), or JobBusy."""
        if name not in JOBS:
            raise KeyError(name)
        if trigger in {"schedule", "startup"} and self.paused(name):
            raise JobBusy(f"{name} 已暂停")
        run_id = self._start(name, trigger, attempt)
        # Every event the job logs carries the job and its run.
        with bound(job=name, job_run=run_id):
            return self._work(name, run_id, trigger, attempt)

    def _work(self, name: str, run_id: int, trigger: str, attempt: int) -> JobRun:
        log.info("job.started", trigger=trigger, attempt=attempt, worker=self.worker)
        started = time.perf_counter()
        try:
            with transaction(self.factory) as session:
                now = self.clock.now()
                summary = JOBS[name].run(JobContext(session, self.settings, now))
                session.execute(
                    update(JobRun)
                    .where(JobRun.id == run_id)
                    .values(status=RunStatus.SUCCEEDED, finished_at=wall_clock(), summary=summary)
                )
        except Exception as error:
            self._finish(
                run_id, RunStatus.FAILED, error="".join(traceback.format_exception(error))[-4000:]
            )
            seconds = time.perf_counter() - started
            log.exception("job.failed", seconds=round(seconds, 3), attempt=attempt)
            JOB_FAILURES.labels(name).inc()
            JOB_SECONDS.labels(name, "failed").observe(seconds)
            raise
        seconds = time.perf_counter() - started
        JOB_SECONDS.labels(name, "succeeded").observe(seconds)
        log.info("job.succeeded", seconds=round(seconds, 3), summary=summary)
        return self._load(run_id)

    def paused(self, name: str) -> bool:
        with transaction(self.factory) as session:
            return session.get(JobPause, name) is not None

    def _start(self, name: str, trigger: str, attempt: int) -> int:
        try:
            with transaction(self.factory) as session:
                run = JobRun(
                    job=name,
                    trigger=trigger,
                    status=RunStatus.RUNNING,
                    attempt=attempt,
                    worker=self.worker,
                    started_at=wall_clock(),
                    finished_at=None,
                    summary="",
                    error="",
                )
                session.add(run)
                session.flush()
                return run.id
        except IntegrityError:
            raise JobBusy(f"{name} 正在运行") from None

    def _finish(self, run_id: int, status: RunStatus, *, error: str = "") -> None:
        with transaction(self.factory) as session:
            session.execute(
                update(JobRun)
                .where(JobRun.id == run_id)
                .values(status=status, finished_at=wall_clock(), error=error)
            )

    def _load(self, run_id: int) -> JobRun:
        with transaction(self.factory) as session:
            run = session.get(JobRun, run_id)
            assert run is not None  # noqa: S101 - written above
            return run

    def beat(self, started_at: datetime) -> None:
        """Say this worker is alive."""
        now = wall_clock()
        row = {"worker": self.worker, "started_at": started_at, "beat_at": now}
        with transaction(self.factory) as session:
            if not insert_if_absent(session, WorkerBeat, row, ["worker"]):
                session.execute(
                    update(WorkerBeat).where(WorkerBeat.worker == self.worker).values(beat_at=now)
                )

    def recover(self, now: datetime | None = None) -> list[str]:
        """Runs whose worker has gone silent: marked INTERRUPTED; their jobs are returned to be
        queued again (their work was rolled back with the worker's connection)."""
        now = now or wall_clock()
        with transaction(self.factory) as session:
            silence = timedelta(seconds=self.settings.worker_silence_seconds)
            alive = set(
                session.scalars(
                    select(WorkerBeat.worker).where(WorkerBeat.beat_at >= now - silence)
                )
            )
            orphans = session.execute(
                select(JobRun.id, JobRun.job, JobRun.worker).where(
                    JobRun.status == RunStatus.RUNNING
                )
            ).all()
            dead = [(run_id, job) for run_id, job, worker in orphans if worker not in alive]
            for run_id, _job in dead:
                session.execute(
                    update(JobRun)
                    .where(JobRun.id == run_id, JobRun.status == RunStatus.RUNNING)
                    .values(
                        status=RunStatus.INTERRUPTED,
                        finished_at=now,
                        error="工作进程中断，已重新排队",
                    )
                )
        for run_id, job in dead:
            log.warning("job.interrupted", job=job, run=run_id)
        return [job for _run_id, job in dead]
