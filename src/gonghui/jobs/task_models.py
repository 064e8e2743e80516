"""One-off tasks: long work that a person started from a page or the API, run by the worker
off the request, with its progress, its result and its error kept for its starter."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gonghui.core.db import Base, text_enum


class TaskStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def label(self) -> str:
        return {"queued": "排队中", "running": "运行中", "succeeded": "已完成", "failed": "失败"}[
            self.value
        ]

    @property
    def finished(self) -> bool:
        return self in {TaskStatus.SUCCEEDED, TaskStatus.FAILED}


class Task(Base):
    """One task. It is written QUEUED by the request that starts it; the worker claims it
    (QUEUED → RUNNING, a conditional update, so a message delivered twice runs it once) in a
    transaction of its own, then does the work and marks it SUCCEEDED in one transaction: the
    work and its record commit together or not at all. `done` and `total` are the last
    progress figures (live figures, while it runs, are on the progress board: see
    `gonghui.jobs.tasks`)."""

    __tablename__ = "job_tasks"
    __table_args__ = (Index("ix_job_tasks_owner_id", "owner", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    # Who may see it besides admins: "user:<id>" or "token:<id>".
    owner: Mapped[str] = mapped_column(String(64))
    started_by: Mapped[str] = mapped_column(String(100))
    # The starter as the work must act: their role and scope, checked again when it runs.
    actor: Mapped[dict[str, Any]] = mapped_column(JSON)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[TaskStatus] = mapped_column(text_enum(TaskStatus))
    attempt: Mapped[int]
    worker: Mapped[str] = mapped_column(String(100))
    done: Mapped[int]
    total: Mapped[int]
    summary: Mapped[str] = mapped_column(Text)
    result_url: Mapped[str] = mapped_column(String(300))
    result_file: Mapped[str] = mapped_column(String(300))
    error: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
