"""One-off tasks: queued by a page or the API, run by the worker (here in the test's process,
on the test's database), their progress readable while they run, their result or their
Chinese error kept for their starter alone."""

from __future__ import annotations

import io
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from gonghui.core.audit import AuditEntry
from gonghui.core.auth import Actor, Role
from gonghui.insurance.models import AssessmentRun, Plan
from gonghui.insurance.store import BalanceStore
from gonghui.jobs.models import WorkerBeat
from gonghui.jobs.runner import wall_clock
from gonghui.jobs.task_kinds import KINDS
from gonghui.jobs.task_models import Task, TaskStatus
from gonghui.jobs.task_runner import MAX_ATTEMPTS
from gonghui.jobs.tasks import (
    ASSESSMENT,
    Figures,
    TaskContext,
    TaskKind,
    TaskOutcome,
    read_progress,
    start_task,
)
from gonghui.members import accounts
from gonghui.members.models import Member, User
from tests.conftest import NOW
from tests.insurance.scenario import close_january, new_plan, send_file
from tests.jobs.tasks import finished_task, queue_of_app, run_tasks, runner_for
from tests.world import World, csrf_of, login, make_id, post_form


def _actor(db: Session, role: Role) -> Actor:
    user = db.scalars(select(User).where(User.username == role.value)).one()
    return accounts.actor_for(user)


@pytest.fixture
def january(db: Session, world: World, store: BalanceStore) -> Plan:
    """Both banks' files reach 31 January: the month may be assessed."""
    plan = new_plan(db, world)
    send_file(db, store, world.bank_ytb, [f"{world.card_a},2024-12-31,3000.00"])
    close_january(db, world, store, "3000.00")
    db.commit()
    return plan


class RecordingBoard:
    """The queue's key-value store, watched: each progress figure, as a reader of the store
    would have seen it the moment it was written."""

    def __init__(self, storage: Any, task_id: int) -> None:
        self.storage = storage
        self.task_id = task_id
        self.seen: list[Figures] = []

    def put_data(self, key: str, value: bytes) -> None:
        self.storage.put_data(key, value)
        running = Task(id=self.task_id, status=TaskStatus.RUNNING, done=0, total=0)
        self.seen.append(read_progress(self.storage, running))

    def peek_data(self, key: str) -> object:
        return self.storage.peek_data(key)

    def delete_data(self, key: str) -> object:
        return self.storage.delete_data(key)


def _queue_assessment(client: TestClient, period: str = "2025-01") -> Any:
    login(client, "federation_staff")
    return post_form(client, "/insurance/assessments", {"period": period})


def test_an_assessment_started_on_its_page_is_run_by_the_worker_step_by_step(
    app: FastAPI, client: TestClient, db: Session, january: Plan
) -> None:
    page = _queue_assessment(client)
    assert page.status_code == 303
    task_page = page.headers["location"]
    waiting = client.get(task_page)
    assert "排队中" in waiting.text
    assert '<script src="/static/tasks.js"></script>' in waiting.text
    # Without JavaScript the page reloads itself until the task ends.
    assert '<noscript><meta http-equiv="refresh"' in waiting.text
    task = db.scalars(select(Task)).one()
    assert (task.kind, task.status, task.parameters["period"]) == (
        ASSESSMENT,
        TaskStatus.QUEUED,
        "2025-01",
    )
    assert db.scalar(select(func.count()).select_from(AssessmentRun)) == 0

    runner = runner_for(app)
    board = RecordingBoard(runner.board, task.id)
    watched = type(runner)(**{**runner.__dict__, "board": board})
    assert watched.run(task.id) is TaskStatus.SUCCEEDED

    assert [(seen.done, seen.total, seen.stage) for seen in board.seen] == [
        (0, 4, "读取会员卡"),
        (1, 4, "汇总日均余额"),
        (2, 4, "判定资格"),
        (3, 4, "授予保障"),
        (4, 4, "完成"),
    ]
    done = client.get(task_page).text
    assert "已完成" in done
    assert "2025-01 考核完成：2 张卡，达标 1" in done
    assert 'href="/insurance/assessments"' in done
    assert "http-equiv" not in done
    db.expire_all()
    assert db.scalars(select(AssessmentRun.eligible)).one() == 1
    assert (task.done, task.total, task.attempt) == (4, 4, 1)
    # Its audit row names the person who started it, not the worker.
    actors = db.scalars(
        select(AuditEntry.actor_user_id).where(AuditEntry.action == "insurance.assessed")
    ).all()
    assert actors[-1] == _actor(db, Role.FEDERATION_STAFF).user_id


def test_a_task_delivered_twice_runs_once(
    app: FastAPI, client: TestClient, db: Session, january: Plan
) -> None:
    _queue_assessment(client)
    task_id = db.scalars(select(Task.id)).one()
    runner = runner_for(app)
    assert runner.run(task_id) is TaskStatus.SUCCEEDED
    assert runner.run(task_id) is None
    assert db.scalars(select(AssessmentRun.runs)).one() == 1


def test_the_api_answers_202_with_the_task_url_and_queues_it_for_the_worker(
    app: FastAPI, client: TestClient, db: Session, january: Plan
) -> None:
    login(client, "federation_staff")
    answer = client.post(
        "/api/v1/insurance/assessments",
        json={"period": "2025-01"},
        headers={"X-CSRF-Token": csrf_of(client, "/home")},
    )
    assert answer.status_code == 202
    body = answer.json()
    assert answer.headers["location"] == body["url"] == f"/api/v1/jobs/tasks/{body['id']}"
    assert (body["status"], body["status_label"], body["percent"]) == ("queued", "排队中", 0)
    assert body["result_url"] is None
    assert body["error"] is None
    # The message is on huey's queue, for whichever worker takes it.
    queued = [message.args for message in queue_of_app(app).huey.pending()]
    assert (body["id"],) in queued
    done = finished_task(client, app, answer)
    assert (done["status"], done["done"], done["total"], done["percent"]) == (
        "succeeded",
        4,
        4,
        100,
    )
    assert done["unit"] == "步"
    assert done["finished_at"] is not None


def test_a_refused_task_fails_with_its_chinese_reason_and_writes_nothing(
    app: FastAPI, client: TestClient, db: Session, world: World, store: BalanceStore
) -> None:
    """The page checks the month before it queues; the worker checks again when it runs, and
    a bank's late file is the reason it gives (here: the files were withdrawn meanwhile)."""
    plan = new_plan(db, world)
    send_file(db, store, world.bank_ytb, [f"{world.card_a},2025-01-31,3000.00"])
    db.commit()
    staff = _actor(db, Role.FEDERATION_STAFF)
    task = start_task(db, ASSESSMENT, {"period": "2025-01"}, actor=staff, now=NOW)
    db.commit()
    assert plan.code
    assert run_tasks(app) == [TaskStatus.FAILED]
    login(client, "federation_staff")
    body = client.get(f"/api/v1/jobs/tasks/{task.id}").json()
    assert body["status"] == "failed"
    assert body["error"].startswith("以下银行的余额文件尚未报送至 2025-01-31")
    assert "齐鲁银行" in body["error"]
    page = client.get(f"/jobs/tasks/{task.id}").text
    assert "失败" in page
    assert "以下银行的余额文件尚未报送至 2025-01-31" in page
    assert db.scalar(select(func.count()).select_from(AssessmentRun)) == 0


def test_an_unforeseen_error_is_rolled_back_and_told_in_chinese_with_the_task_number(
    app: FastAPI, client: TestClient, db: Session, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    def half_done(context: TaskContext) -> TaskOutcome:
        context.progress(1, 2, "写入")
        context.session.execute(
            update(Member).where(Member.id == world.member_a).values(name="半途而废")
        )
        raise RuntimeError("disk full")

    monkeypatch.setitem(
        KINDS, "test.half_done", TaskKind("test.half_done", "测试", "步", half_done)
    )
    task = start_task(db, "test.half_done", {}, actor=_actor(db, Role.ADMIN), now=NOW)
    db.commit()
    assert run_tasks(app) == [TaskStatus.FAILED]
    db.expire_all()
    assert db.get(Member, world.member_a).name != "半途而废"  # type: ignore[union-attr]
    assert task.error == f"任务运行出错（内部错误），请联系管理员并告知任务编号 {task.id}"
    assert (task.done, task.total) == (1, 2)
    assert "disk full" not in task.error


def test_only_the_starter_and_admins_see_a_task(
    app: FastAPI, client: TestClient, db: Session, january: Plan
) -> None:
    page = _queue_assessment(client)
    task_id = page.headers["location"].rsplit("/", 1)[1]
    for role in (Role.UNIT_OFFICER, Role.INSURER_ADJUSTER, Role.MEMBER):
        client.cookies.clear()
        login(client, role.value)
        assert client.get(f"/api/v1/jobs/tasks/{task_id}").status_code == 404
        assert client.get(f"/jobs/tasks/{task_id}").status_code == 404
    client.cookies.clear()
    login(client, Role.ADMIN.value)
    assert client.get(f"/api/v1/jobs/tasks/{task_id}").json()["status"] == "queued"
    # The 任务 page lists it among the background tasks, linked to its own page.
    listed = client.get("/admin/jobs").text
    assert f'<a href="/jobs/tasks/{task_id}">#{task_id}</a>' in listed
    assert "日均余额考核" in listed
    client.cookies.clear()
    assert client.get(f"/api/v1/jobs/tasks/{task_id}").status_code == 401


def test_a_task_whose_worker_died_is_queued_again_then_failed_with_a_message(
    app: FastAPI, db: Session, world: World
) -> None:
    task = start_task(db, ASSESSMENT, {"period": "2025-01"}, actor=_actor(db, Role.ADMIN), now=NOW)
    db.add(WorkerBeat(worker="alive:1", started_at=wall_clock(), beat_at=wall_clock()))
    db.commit()
    runner = runner_for(app)
    # Running on a worker that beats: left alone.
    db.execute(update(Task).values(status=TaskStatus.RUNNING, worker="alive:1"))
    db.commit()
    assert runner.recover() == []
    for attempt in range(1, MAX_ATTEMPTS):
        db.execute(update(Task).values(status=TaskStatus.RUNNING, worker="gone:1"))
        db.commit()
        assert runner.recover() == [task.id]
        db.expire_all()
        assert (task.status, task.attempt) == (TaskStatus.QUEUED, attempt + 1)
    db.execute(update(Task).values(status=TaskStatus.RUNNING, worker="gone:1"))
    db.commit()
    assert runner.recover() == []
    db.expire_all()
    assert task.status is TaskStatus.FAILED
    assert task.error == f"后台任务进程中断，已尝试 {MAX_ATTEMPTS} 次仍未完成，请重新发起"


def test_the_impact_export_is_built_by_the_worker_and_downloaded_by_its_starter_only(
    app: FastAPI, client: TestClient, db: Session, world: World
) -> None:
    login(client, "unit_officer")
    page = post_form(client, "/retirement/impact/export", {"unit": "", "industry": ""})
    task = finished_task(client, app, page)  # type: ignore[arg-type]
    assert task["status"] == "succeeded", task
    assert task["result_url"] == f"/jobs/tasks/{task['id']}/result"
    assert "下载结果" in client.get(task["page"]).text
    download = client.get(task["result_url"])
    assert download.status_code == 200
    workbook = load_workbook(io.BytesIO(download.content))
    assert workbook.sheetnames
    client.cookies.clear()
    login(client, "federation_staff")
    assert client.get(task["result_url"]).status_code == 404


def test_the_impact_export_is_queued_through_the_api(
    app: FastAPI, client: TestClient, db: Session
) -> None:
    login(client, "federation_staff")
    answer = client.post(
        "/api/v1/retirement/impact/exports", headers={"X-CSRF-Token": csrf_of(client, "/home")}
    )
    assert answer.status_code == 202
    assert finished_task(client, app, answer)["status"] == "succeeded"


def test_a_roll_file_over_the_limit_is_imported_by_the_worker_row_by_row(
    app: FastAPI, client: TestClient, db: Session, world: World
) -> None:
    app.state.settings = app.state.settings.model_copy(update={"sync_import_max_bytes": 100})
    login(client, "unit_officer")
    content = "姓名,身份证号,手机号,统一社会信用代码,岗位类型,在职状态\n" + "".join(
        f"新会员{n},{make_id(sequence=f'6{n:02d}')},137000007{n:02d},{world.unit_a_code},"
        "生产操作岗,在职\n"
        for n in range(3)
    )
    answer = client.post(
        "/api/v1/members/imports",
        headers={"X-CSRF-Token": csrf_of(client, "/home")},
        files={"file": ("m.csv", io.BytesIO(content.encode()), "text/csv")},
    )
    assert answer.status_code == 202
    assert (
        db.scalar(select(func.count()).select_from(Member).where(Member.name.like("新会员%"))) == 0
    )
    task = finished_task(client, app, answer)
    assert (task["status"], task["done"], task["total"], task["unit"]) == (
        "succeeded",
        3,
        3,
        "行",
    )
    assert (
        db.scalar(select(func.count()).select_from(Member).where(Member.name.like("新会员%"))) == 3
    )


def test_a_bad_roll_file_over_the_limit_fails_with_every_line_in_chinese(
    app: FastAPI, client: TestClient, db: Session, world: World
) -> None:
    app.state.settings = app.state.settings.model_copy(update={"sync_import_max_bytes": 10})
    login(client, "unit_officer")
    content = (
        "姓名,身份证号,手机号,统一社会信用代码,岗位类型,在职状态\n"
        f"坏手机,{make_id(sequence='703')},1370000,{world.unit_a_code},生产操作岗,在职\n"
    )
    page = client.post(
        "/imports",
        data={"csrf_token": csrf_of(client, "/imports")},
        files={"file": ("会员.csv", io.BytesIO(content.encode("gbk")), "text/csv")},
        follow_redirects=False,
    )
    task = finished_task(client, app, page)
    assert task["status"] == "failed"
    assert task["error"].startswith("导入失败：共1行有错误，未写入任何数据")
    assert "第2行：手机号应为11位中国大陆手机号码" in task["error"]


def test_a_big_balance_file_on_the_page_is_imported_by_the_worker(
    app: FastAPI, client: TestClient, db: Session, world: World, january: Plan
) -> None:
    app.state.settings = app.state.settings.model_copy(update={"sync_import_max_bytes": 10})
    login(client, "bank_operator")
    content = f"卡号,日期,日终余额\n{world.card_a},2025-02-01,3000.00\n"
    page = client.post(
        "/insurance/balances",
        data={"csrf_token": csrf_of(client, "/insurance/balances"), "bank_id": str(world.bank_ytb)},
        files={"file": ("ytb.csv", io.BytesIO(content.encode()), "text/csv")},
        follow_redirects=False,
    )
    task = finished_task(client, app, page)
    assert task["status"] == "succeeded", task
    assert task["result_url"] == "/insurance/balances"
    assert "1" in task["summary"]


def test_the_task_page_script_is_served_under_the_content_security_policy(
    client: TestClient,
) -> None:
    script = client.get("/static/tasks.js")
    assert script.status_code == 200
    assert "fetch(" in script.text
    assert "script-src 'self'" in script.headers["content-security-policy"]


def test_the_task_api_is_in_the_openapi_schema(client: TestClient) -> None:
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert "/api/v1/jobs/tasks/{task_id}" in paths
    assert "202" in paths["/api/v1/insurance/assessments"]["post"]["responses"]


def test_an_open_month_is_refused_on_the_page_before_anything_is_queued(
    client: TestClient, db: Session, january: Plan
) -> None:
    refused = _queue_assessment(client, "2025-02")
    assert refused.status_code == 422
    assert "尚未结束" in refused.text
    assert db.scalar(select(func.count()).select_from(Task)) == 0
