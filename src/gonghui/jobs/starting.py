"""What a domain's page or API handler uses to start a task: write it, queue it after the
commit, then send the browser to its page (303) or answer 202 with its URL. This module imports
no domain (every domain imports it); the queue and the kinds' labels reach it through the
app's task desk (`gonghui.jobs.web_tasks.Desk`, installed by `create_app`)."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, Protocol

from fastapi import Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from gonghui.core.auth import Actor
from gonghui.edge.deps import get_settings
from gonghui.jobs.task_models import Task, TaskStatus
from gonghui.jobs.tasks import Figures, keep_upload, start_task


class TaskDesk(Protocol):
    """The app's handle on the queue and the kinds of task."""

    def enqueue(self, task_id: int) -> None: ...
    def progress(self, task: Task) -> Figures: ...
    def describe(self, kind: str) -> tuple[str, str]:
        """A kind's label and the unit its figures count."""
        ...


def desk_of(request: Request) -> TaskDesk:
    desk: TaskDesk = request.app.state.task_desk
    return desk


def page_url(task_id: int) -> str:
    return f"/jobs/tasks/{task_id}"


def api_url(task_id: int) -> str:
    return f"/api/v1/jobs/tasks/{task_id}"


def queue_task(
    request: Request,
    db: Session,
    kind: str,
    parameters: dict[str, Any],
    *,
    actor: Actor,
    now: datetime,
) -> Task:
    """Write the task, commit, then put it on the worker's queue (after the commit, so the
    worker never looks for a task that is not there yet)."""
    task = start_task(db, kind, parameters, actor=actor, now=now)
    db.commit()
    desk_of(request).enqueue(task.id)
    return task


def queue_upload(
    request: Request,
    db: Session,
    kind: str,
    content: bytes,
    parameters: dict[str, Any],
    *,
    actor: Actor,
    now: datetime,
) -> Task:
    """Queue the import of an uploaded file too big to import inside its request: the file is
    kept in the storage directory for the worker, the task names it."""
    upload = keep_upload(
        get_settings(request).storage_dir, hashlib.sha256(content).hexdigest(), content
    )
    return queue_task(request, db, kind, {**parameters, "upload": upload}, actor=actor, now=now)


def too_big_for_request(request: Request, content: bytes) -> bool:
    """A file over `GONGHUI_SYNC_IMPORT_MAX_BYTES` goes to the worker."""
    return len(content) > get_settings(request).sync_import_max_bytes


def to_task_page(task: Task) -> Response:
    return RedirectResponse(page_url(task.id), status_code=303)


class TaskOut(BaseModel):
    id: int
    kind: str
    label: str
    status: TaskStatus
    status_label: str
    done: int = Field(description="已完成的数量（单位见 unit）")
    total: int
    percent: int
    unit: str
    stage: str
    summary: str
    result_url: str | None = Field(description="结果页面或下载地址")
    error: str | None = Field(description="失败原因（中文）")
    url: str
    page: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, task: Task, figures: Figures, label: str, unit: str) -> TaskOut:
        return cls(
            id=task.id,
            kind=task.kind,
            label=label,
            status=task.status,
            status_label=task.status.label,
            done=figures.done,
            total=figures.total,
            percent=100 if task.status is TaskStatus.SUCCEEDED else figures.percent,
            unit=unit,
            stage=figures.stage,
            summary=task.summary,
            result_url=task.result_url or None,
            error=task.error or None,
            url=api_url(task.id),
            page=page_url(task.id),
            created_at=task.created_at,
            started_at=task.started_at,
            finished_at=task.finished_at,
        )


def task_out(request: Request, task: Task) -> TaskOut:
    desk = desk_of(request)
    return TaskOut.of(task, desk.progress(task), *desk.describe(task.kind))


def accepted(request: Request, task: Task) -> JSONResponse:
    """The API's answer to a queued task: 202, its URL in `Location` and in the body."""
    body = task_out(request, task)
    return JSONResponse(
        body.model_dump(mode="json"), status_code=202, headers={"Location": body.url}
    )
