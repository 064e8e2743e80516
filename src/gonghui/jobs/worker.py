"""The queue and the worker, on huey: its SQLite storage beside the embedded database, its
PostgreSQL storage in the app's own database in production. Huey keeps the queue, the schedule
of retries (with backoff) and the periodic checks; our runner keeps the record of every run, the
lock that lets one run of a job at a time, and the recovery of runs whose worker died.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from huey import Huey
from huey.api import Task
from huey.storage import PostgresStorage, SqliteStorage
from sqlalchemy import make_url

from gonghui.core.clock import Clock, clock_from
from gonghui.core.db import engine_for, session_factory
from gonghui.core.logging import get_logger
from gonghui.core.settings import Settings
from gonghui.insurance.store import store_for
from gonghui.jobs.catalogue import JOBS
from gonghui.jobs.runner import JobBusy, Runner, wall_clock, worker_name
from gonghui.jobs.task_runner import TaskRunner

log = get_logger(__name__)
RETRIES = 3
RETRY_DELAY_SECONDS = 30


class ClockedHuey(Huey):  # type: ignore[misc]
    """Huey reading the platform's one clock, so that the schedule follows a fixed or shifted
    clock in demos and tests as every other rule does (naive UTC, as huey keeps time)."""

    def __init__(self, clock: Clock, **options: Any) -> None:
        self.clock = clock
        super().__init__(**options)

    def _get_timestamp(self) -> datetime:
        return self.clock.now().astimezone(UTC).replace(tzinfo=None)


def _storage(settings: Settings) -> dict[str, Any]:
    if settings.is_sqlite:
        settings.storage_dir.mkdir(parents=True, exist_ok=True)
        return {"storage_class": SqliteStorage, "filename": str(settings.storage_dir / "jobs.db")}
    url = make_url(settings.database_url).set(drivername="postgresql")
    return {
        "storage_class": PostgresStorage,
        "dsn": url.render_as_string(hide_password=False),
        "table_prefix": "huey",
    }


class Queue:
    """The huey instance with our tasks registered: the worker consumes it, the pages and the
    CLI enqueue on it."""

    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or clock_from(settings)
        self.engine = engine_for(settings)
        self.runner = Runner(settings, session_factory(self.engine), self.clock, worker_name())
        self.huey = ClockedHuey(self.clock, name="gonghui", results=False, **_storage(settings))
        self._task = self.huey.task(
            retries=RETRIES, retry_delay=RETRY_DELAY_SECONDS, retry_backoff=2, context=True
        )(self._run)
        for job in JOBS.values():
            if job.schedule is not None:
                self._periodic(job.name)
        # One-off tasks are not retried by huey: a failure is recorded for its starter to read,
        # and a task whose worker died is queued again by `TaskRunner.recover`.
        self.tasks = TaskRunner(
            settings,
            self.runner.factory,
            self.clock,
            self.runner.worker,
            self.huey.storage,
            store_for(settings),
        )
        self._one_off = self.huey.task(name="gonghui.task")(self._run_task)

    def _run_task(self, task_id: int) -> None:
        self.tasks.run(task_id)

    def enqueue_task(self, task_id: int) -> None:
        self._one_off(task_id)

    def run_pending(self) -> int:
        """Run every message waiting on the queue, here and now (tests and demos that have no
        worker process). Returns how many ran."""
        count = 0
        while (message := self.huey.dequeue()) is not None:
            self.huey.execute(message)
            count += 1
        return count

    def _run(self, name: str, trigger: str, task: Task | None = None) -> None:
        attempt = 1 + RETRIES - (task.retries if task is not None else RETRIES)
        try:
            self.runner.run(name, trigger=trigger if attempt == 1 else "retry", attempt=attempt)
        except JobBusy as busy:
            log.info("job.skipped", job=name, reason=str(busy))

    def _periodic(self, name: str) -> None:
        schedule = JOBS[name].schedule
        assert schedule is not None  # noqa: S101 - only scheduled jobs come here

        def due(timestamp: datetime) -> bool:
            return schedule.matches(timestamp.replace(tzinfo=UTC))

        def enqueue() -> None:
            self.enqueue(name, "schedule")

        self.huey.periodic_task(due, name=f"schedule.{name}")(enqueue)

    def enqueue(self, name: str, trigger: str) -> None:
        if name not in JOBS:
            raise KeyError(name)
        self._task(name, trigger)

    def pending(self) -> list[str]:
        return [
            task.args[0]
            for task in self.huey.pending()
            if task.args and isinstance(task.args[0], str)
        ]

    @contextmanager
    def beating(self) -> Iterator[None]:
        """While the block runs, beat every few seconds and queue again the jobs of workers that
        stopped beating."""
        started = wall_clock()
        stop = threading.Event()

        def beat() -> None:
            while True:
                try:
                    self.runner.beat(started)
                    for name in self.runner.recover():
                        self.enqueue(name, "recovery")
                    for task_id in self.tasks.recover():
                        self.enqueue_task(task_id)
                except Exception:
                    log.exception("worker.beat_failed")
                # Three beats within the silence that declares a worker dead.
                if stop.wait(self.settings.worker_silence_seconds / 3):
                    return

        thread = threading.Thread(target=beat, name="gonghui-beat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=5)

    def run_worker(self, *, threads: int = 1) -> None:
        """Consume until stopped (SIGINT/SIGTERM finish the job at hand first). At start every
        scheduled job runs once, so that one missed while no worker ran is not missed for a day:
        each does only what is due."""
        for job in JOBS.values():
            if job.schedule is not None:
                self.enqueue(job.name, "startup")
        for task_id in self.tasks.waiting():
            # A task queued twice runs once: the runner claims only a queued task.
            self.enqueue_task(task_id)
        consumer = self.huey.create_consumer(
            workers=threads, periodic=True, worker_type="thread", shutdown_timeout=60
        )
        log.info("worker.started", worker=self.runner.worker, threads=threads)
        with self.beating():
            consumer.run()
