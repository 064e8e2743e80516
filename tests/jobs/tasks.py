"""The worker, in the test's own process and transaction: runs the tasks that pages and the
API queued, as `gonghui worker` would, with the sessions of the test."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import select

from gonghui.jobs.task_models import Task, TaskStatus
from gonghui.jobs.task_runner import TaskRunner
from gonghui.jobs.web import queue_for
from gonghui.jobs.worker import Queue

WORKER = "test-worker"


def queue_of_app(app: FastAPI) -> Queue:
    """The queue the app's pages put tasks on."""
    return queue_for(app)


def runner_for(app: FastAPI, worker: str = WORKER) -> TaskRunner:
    return TaskRunner(
        app.state.settings,
        app.state.session_factory,
        app.state.clock,
        worker,
        queue_of_app(app).huey.storage,
        app.state.balance_store,
    )


def run_tasks(app: FastAPI) -> list[TaskStatus | None]:
    """Run every queued task, oldest first."""
    with app.state.session_factory() as session:
        queued = list(
            session.scalars(
                select(Task.id).where(Task.status == TaskStatus.QUEUED).order_by(Task.id)
            )
        )
    runner = runner_for(app)
    return [runner.run(task_id) for task_id in queued]


def finished_task(client: TestClient, app: FastAPI, answer: Response) -> dict[str, Any]:
    """Given a page's redirect to a task (303) or the API's 202, run the queued tasks and read
    the task's JSON as its starter."""
    assert answer.status_code in {202, 303}, answer.text
    location = answer.headers["location"]
    task_id = location.rstrip("/").rsplit("/", 1)[-1]
    run_tasks(app)
    status = client.get(f"/api/v1/jobs/tasks/{task_id}")
    assert status.status_code == 200, status.text
    body: dict[str, Any] = status.json()
    return body
