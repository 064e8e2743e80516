"""The 任务 page: every job with its last run, duration, outcome and next run; failed runs with
their errors; run now, pause, resume."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from gonghui.core import outbox
from gonghui.core.auth import Actor, Permission
from gonghui.core.errors import NotFound
from gonghui.edge.deps import Csrf, Db, Now, flash, permitted, render
from gonghui.jobs import queries, service
from gonghui.jobs.catalogue import JOBS
from gonghui.jobs.task_kinds import KINDS
from gonghui.jobs.worker import Queue

router = APIRouter(include_in_schema=False)

JobManager = Annotated[Actor, Depends(permitted(Permission.JOBS_MANAGE))]
PAGE = "/admin/jobs"


def queue_of(request: Request) -> Queue:
    return queue_for(request.app)


def queue_for(app: FastAPI) -> Queue:
    """The app's handle on the queue, made on first use (pages that never queue need none)."""
    queue: Queue | None = getattr(app.state, "job_queue", None)
    if queue is None:
        queue = Queue(app.state.settings, app.state.clock)
        app.state.job_queue = queue
    return queue


@router.get(PAGE)
def jobs_page(request: Request, db: Db, now: Now, actor: JobManager) -> Response:
    return render(
        request,
        "jobs/index.html",
        {
            "jobs": queries.overview(db, now),
            "failures": queries.recent_failures(db),
            "runs": queries.recent_runs(db),
            "tasks": queries.recent_tasks(db),
            "task_labels": {name: kind.label for name, kind in KINDS.items()},
            "queued": queue_of(request).pending(),
            "texts": outbox.overview(db),
        },
        actor=actor,
    )


def _job(name: str) -> str:
    if name not in JOBS:
        raise NotFound("任务")
    return name


@router.post(PAGE + "/{name}/run", dependencies=[Csrf])
def run_now(request: Request, name: str, actor: JobManager) -> Response:
    del actor  # checked by the dependency
    queue_of(request).enqueue(_job(name), "manual")
    flash(request, f"已排队：{JOBS[name].label}（由后台任务进程执行）")
    return RedirectResponse(PAGE, status_code=303)


@router.post(PAGE + "/{name}/pause", dependencies=[Csrf])
def pause(request: Request, name: str, db: Db, now: Now, actor: JobManager) -> Response:
    service.pause_job(db, _job(name), actor=actor, now=now)
    flash(request, f"已暂停：{JOBS[name].label}（到点不再运行，仍可手动运行）")
    return RedirectResponse(PAGE, status_code=303)


@router.post(PAGE + "/{name}/resume", dependencies=[Csrf])
def resume(request: Request, name: str, db: Db, now: Now, actor: JobManager) -> Response:
    service.resume_job(db, _job(name), actor=actor, now=now)
    flash(request, f"已恢复：{JOBS[name].label}")
    return RedirectResponse(PAGE, status_code=303)
