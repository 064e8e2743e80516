"""A run is recorded whatever happens to it; one run of a job at a time; a silent worker's run is
recovered; admins see, run, pause and resume jobs on the 任务 page."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from gonghui.core.clock import FixedClock
from gonghui.core.db import make_engine, session_factory
from gonghui.core.logging import get_logger
from gonghui.core.migrate import upgrade
from gonghui.core.settings import Environment, Settings
from gonghui.jobs.catalogue import JOBS, Job, JobContext
from gonghui.jobs.models import JobRun, RunStatus
from gonghui.jobs.runner import JobBusy, Runner, wall_clock
from gonghui.members.models import LoginAttempt
from tests.conftest import NOW
from tests.world import login, post_form


@pytest.fixture
def runner(tmp_path: Path) -> Iterator[Runner]:
    settings = Settings(
        environment=Environment.TEST,
        database_url=f"sqlite:///{tmp_path / 'jobs.db'}",
        storage_dir=tmp_path / "storage",
        worker_silence_seconds=5,
    )
    upgrade(settings)
    engine = make_engine(settings.database_url)
    yield Runner(settings, session_factory(engine), FixedClock(NOW), "test-worker")
    engine.dispose()


def _runs(runner: Runner) -> list[tuple[str, RunStatus, str]]:
    with runner.factory() as session:
        return [
            (run.job, run.status, run.summary or run.error.strip().splitlines()[-1])
            for run in session.scalars(select(JobRun).order_by(JobRun.id))
        ]


def test_a_run_is_recorded_with_what_it_did(runner: Runner) -> None:
    with runner.factory() as session, session.begin():
        session.add(
            LoginAttempt(
                username="x", client="1.2.3.4", at=NOW - timedelta(days=181), succeeded=False
            )
        )
    run = runner.run("housekeeping.purge", trigger="manual")
    assert run.status is RunStatus.SUCCEEDED
    assert run.summary.startswith("清理登录记录 1 条")
    assert run.finished_at is not None


def test_a_failing_job_is_rolled_back_and_its_error_recorded(
    runner: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(context: JobContext) -> str:
        context.session.add(LoginAttempt(username="half", client="x", at=NOW, succeeded=False))
        context.session.flush()
        raise RuntimeError("银行接口超时")

    monkeypatch.setitem(JOBS, "test.fails", Job("test.fails", "总是失败", None, fail))
    with pytest.raises(RuntimeError):
        runner.run("test.fails", trigger="manual")
    assert _runs(runner) == [("test.fails", RunStatus.FAILED, "RuntimeError: 银行接口超时")]
    with runner.factory() as session:
        assert (
            session.scalars(select(LoginAttempt).where(LoginAttempt.username == "half")).all() == []
        )


def test_a_job_never_runs_twice_at_once(runner: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    def again(_context: JobContext) -> str:
        # The same job asked for while it runs (another worker, or a second click).
        with pytest.raises(JobBusy):
            runner.run("test.reentrant", trigger="manual")
        return "一次"

    monkeypatch.setitem(JOBS, "test.reentrant", Job("test.reentrant", "重入", None, again))
    assert runner.run("test.reentrant", trigger="manual").summary == "一次"
    assert len(_runs(runner)) == 1


def test_a_silent_workers_run_is_marked_interrupted_and_handed_back(runner: Runner) -> None:
    with runner.factory() as session, session.begin():
        session.add(
            JobRun(
                job="wallet.release_due", trigger="schedule", status=RunStatus.RUNNING, attempt=1,
                worker="dead:1", started_at=wall_clock() - timedelta(minutes=5),
                finished_at=None, summary="", error="",
            )
        )  # fmt: skip
    runner.beat(wall_clock())
    assert runner.recover() == ["wallet.release_due"]
    assert runner.recover() == []
    assert _runs(runner)[0][1] is RunStatus.INTERRUPTED
    assert runner.run("wallet.release_due", trigger="recovery").status is RunStatus.SUCCEEDED


def test_a_paused_job_skips_its_schedule_but_runs_when_asked(runner: Runner) -> None:
    from gonghui.jobs import service  # noqa: PLC0415
    from tests.world import SETUP  # noqa: PLC0415

    with runner.factory() as session, session.begin():
        service.pause_job(session, "housekeeping.purge", actor=SETUP, now=NOW)
    with pytest.raises(JobBusy):
        runner.run("housekeeping.purge", trigger="schedule")
    assert runner.run("housekeeping.purge", trigger="manual").status is RunStatus.SUCCEEDED


def test_the_admin_sees_every_job_and_pauses_queues_and_resumes_one(
    client: TestClient, db: Session
) -> None:
    login(client, "admin")
    page = client.get("/admin/jobs")
    assert page.status_code == 200
    for job in JOBS.values():
        assert job.label in page.text
    # 2025-02-10 09:00 in Beijing: the next 06:00 is tomorrow's.
    assert "2025-02-11 06:00" in page.text
    assert post_form(client, "/admin/jobs/housekeeping.purge/pause", {}).status_code == 303
    assert "已暂停" in client.get("/admin/jobs").text
    assert post_form(client, "/admin/jobs/housekeeping.purge/run", {}).status_code == 303
    assert "排队中：housekeeping.purge" in client.get("/admin/jobs").text
    assert post_form(client, "/admin/jobs/housekeeping.purge/resume", {}).status_code == 303
    assert post_form(client, "/admin/jobs/no.such.job/run", {}).status_code == 404


def test_every_event_of_a_run_carries_the_job_and_its_run(
    runner: Runner, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    inner = get_logger("gonghui.test")

    def speak(context: JobContext) -> str:
        inner.info("test.inside_the_job")
        return "说了一句"

    monkeypatch.setitem(JOBS, "test.speaks", Job("test.speaks", "说话", None, speak))
    run = runner.run("test.speaks", trigger="manual")
    logged = [r.msg for r in caplog.records if isinstance(r.msg, dict)]
    names = [e["event"] for e in logged]
    assert names == ["job.started", "test.inside_the_job", "job.succeeded"]
    assert {(e["job"], e["job_run"]) for e in logged} == {("test.speaks", run.id)}
    assert logged[-1]["summary"] == "说了一句"
    assert logged[-1]["seconds"] >= 0
