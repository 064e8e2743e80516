"""What an admin does to jobs: pause and resume their schedule (a run asked for by hand still
runs)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from gonghui.core import audit
from gonghui.core.auth import Actor, Permission
from gonghui.core.errors import NotFound
from gonghui.jobs.catalogue import JOBS
from gonghui.jobs.models import JobPause


def _known(name: str) -> str:
    if name not in JOBS:
        raise NotFound("任务")
    return name


def pause_job(session: Session, name: str, *, actor: Actor, now: datetime) -> None:
    actor.require(Permission.JOBS_MANAGE)
    if session.get(JobPause, _known(name)) is None:
        session.add(JobPause(job=name, paused_at=now, paused_by=actor.username))
        audit.record(
            session, actor=actor, at=now, action="job.paused", target_type="job", target_id=name
        )
        session.flush()


def resume_job(session: Session, name: str, *, actor: Actor, now: datetime) -> None:
    actor.require(Permission.JOBS_MANAGE)
    pause = session.get(JobPause, _known(name))
    if pause is not None:
        session.delete(pause)
        audit.record(
            session, actor=actor, at=now, action="job.resumed", target_type="job", target_id=name
        )
        session.flush()
