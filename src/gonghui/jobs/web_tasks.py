"""A task's page (`/jobs/tasks/{id}`: a progress bar that moves, then the result or the error),
its result file and its JSON (`/api/v1/jobs/tasks/{id}`), and the app's task desk."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response

from gonghui.core.errors import NotFound
from gonghui.edge.deps import ApiActor, Db, Id, PageActor, get_settings, render
from gonghui.edge.responses import download
from gonghui.jobs.queries import task_for
from gonghui.jobs.starting import TaskOut, task_out
from gonghui.jobs.task_kinds import KINDS
from gonghui.jobs.task_models import Task, TaskStatus
from gonghui.jobs.tasks import Figures, read_progress
from gonghui.jobs.web import queue_for

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/jobs", tags=["jobs"])
# How often the page reloads itself without JavaScript while the task is unfinished.
POLL_SECONDS = 2


class Desk:
    """The app's task desk (see `gonghui.jobs.starting.TaskDesk`): the queue, made on first
    use, and the kinds' labels."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def enqueue(self, task_id: int) -> None:
        queue_for(self.app).enqueue_task(task_id)

    def progress(self, task: Task) -> Figures:
        return read_progress(queue_for(self.app).huey.storage, task)

    def describe(self, kind: str) -> tuple[str, str]:
        found = KINDS.get(kind)
        return (found.label, found.unit) if found else (kind, "")


@router.get("/jobs/tasks/{task_id}")
def task_page(request: Request, task_id: Id, db: Db, actor: PageActor) -> Response:
    task = task_for(db, actor, task_id)
    view = task_out(request, task)
    return render(
        request,
        "jobs/task.html",
        {"task": view, "finished": task.status.finished, "poll_seconds": POLL_SECONDS},
        actor=actor,
    )


@router.get("/jobs/tasks/{task_id}/result")
def task_result(request: Request, task_id: Id, db: Db, actor: PageActor) -> Response:
    task = task_for(db, actor, task_id)
    if task.status is not TaskStatus.SUCCEEDED or not task.result_file:
        raise NotFound("任务结果文件")
    path = get_settings(request).storage_dir / task.result_file
    if not path.is_file():
        raise NotFound("任务结果文件")
    return download(path.read_bytes(), path.name)


@api_router.get("/tasks/{task_id}", response_model=TaskOut)
def task_status(request: Request, task_id: Id, db: Db, actor: ApiActor) -> TaskOut:
    """A queued task: its status, progress (done of total), and its result link or error.
    Only its starter (and admins) may read it; anyone else gets 404."""
    return task_out(request, task_for(db, actor, task_id))
