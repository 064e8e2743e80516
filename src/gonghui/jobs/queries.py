"""What the 任务 page and `gonghui jobs list` show; a task as its starter sees it (`task_for`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gonghui.core.auth import Actor, Role
from gonghui.core.errors import NotFound
from gonghui.jobs.catalogue import JOBS
from gonghui.jobs.models import JobPause, JobRun, RunStatus
from gonghui.jobs.task_models import Task
from gonghui.jobs.tasks import owner_of

RECENT_FAILURES = 20


@dataclass(frozen=True)
class JobLine:
    name: str
    label: str
    schedule_label: str
    paused: bool
    last: JobRun | None
    next_run: datetime | None

    @property
    def duration_seconds(self) -> float | None:
        if self.last is None or self.last.finished_at is None:
            return None
        return (self.last.finished_at - self.last.started_at).total_seconds()


def overview(session: Session, now: datetime) -> list[JobLine]:
    latest = select(JobRun.job, func.max(JobRun.id).label("id")).group_by(JobRun.job).subquery()
    last = {
        run.job: run
        for run in session.scalars(select(JobRun).join(latest, JobRun.id == latest.c.id))
    }
    paused = set(session.scalars(select(JobPause.job)))
    return [
        JobLine(
            job.name,
            job.label,
            job.schedule.label if job.schedule else "按需",
            job.name in paused,
            last.get(job.name),
            job.schedule.next_after(now) if job.schedule and job.name not in paused else None,
        )
        for job in JOBS.values()
    ]


def recent_failures(session: Session) -> list[JobRun]:
    return list(
        session.scalars(
            select(JobRun)
            .where(JobRun.status.in_([RunStatus.FAILED, RunStatus.INTERRUPTED]))
            .order_by(JobRun.id.desc())
            .limit(RECENT_FAILURES)
        )
    )


def recent_tasks(session: Session, limit: int = 20) -> list[Task]:
    """The latest one-off tasks anyone started (an assessment, an import, an export…)."""
    return list(session.scalars(select(Task).order_by(Task.id.desc()).limit(limit)))


def recent_runs(session: Session, limit: int = 50) -> list[JobRun]:
    return list(session.scalars(select(JobRun).order_by(JobRun.id.desc()).limit(limit)))


def task_for(session: Session, actor: Actor, task_id: int) -> Task:
    """A task its starter (or an admin) may see; anyone else is told it does not exist."""
    task = session.get(Task, task_id)
    if task is None or (actor.role is not Role.ADMIN and task.owner != owner_of(actor)):
        raise NotFound("任务")
    return task
