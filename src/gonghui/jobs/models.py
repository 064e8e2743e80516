"""Every run of every job, and the jobs an admin has paused."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from gonghui.core.db import Base, text_enum


class RunStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # its worker died mid-run; the run was queued again

    @property
    def label(self) -> str:
        return {"running": "运行中", "succeeded": "成功", "failed": "失败", "interrupted": "中断"}[
            self.value
        ]


class JobRun(Base):
    """One run. A run is written as RUNNING in a transaction of its own before the work starts,
    and finished in the work's own transaction, so a run whose worker dies stays RUNNING (and is
    recovered) while its half-done work is rolled back. At most one run of a job is RUNNING:
    the partial unique index is the lock that keeps two workers from running it at once."""

    __tablename__ = "job_runs"
    __table_args__ = (
        Index(
            "uq_job_runs_one_running",
            "job",
            unique=True,
            sqlite_where=text("status = 'running'"),
            postgresql_where=text("status = 'running'"),
        ),
        Index("ix_job_runs_job_started_at", "job", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(64))
    trigger: Mapped[str] = mapped_column(String(16))
    status: Mapped[RunStatus] = mapped_column(text_enum(RunStatus))
    attempt: Mapped[int]
    worker: Mapped[str] = mapped_column(String(100))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    summary: Mapped[str] = mapped_column(Text)
    error: Mapped[str] = mapped_column(Text)


class JobPause(Base):
    __tablename__ = "job_pauses"

    job: Mapped[str] = mapped_column(String(64), primary_key=True)
    paused_at: Mapped[datetime]
    paused_by: Mapped[str] = mapped_column(String(100))


class WorkerBeat(Base):
    """A worker's heartbeat: a RUNNING run whose worker has not beaten lately was interrupted."""

    __tablename__ = "job_workers"

    worker: Mapped[str] = mapped_column(String(100), primary_key=True)
    started_at: Mapped[datetime]
    beat_at: Mapped[datetime]
