"""The staff and manager pages end to end: positions created, edited, imported, given a manager
and closed; a manager's activities, head counts, complaints and appeals; vehicles and trips;
rule sets; and a manager kept to their own positions."""

from __future__ import annotations

import io
from dataclasses import fields
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx2 import Response
from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gonghui.core.auth import Role
from gonghui.members.models import User
from gonghui.stations import evaluation, imports, operations
from gonghui.stations.feedback import file_complaint
from gonghui.stations.forms import RULE_LABELS
from gonghui.stations.models import (
    Activity,
    Appeal,
    EvaluationRun,
    HeadCount,
    Position,
    RuleSetVersion,
    Score,
    Trip,
    Vehicle,
)
from gonghui.stations.records import HEADERS
from gonghui.stations.rules import (
    AppealStatus,
    ComplaintStatus,
    CountSource,
    PositionStatus,
    TripStatus,
)
from gonghui.stations.scoring import RuleSet
from tests.conftest import NOW
from tests.jobs.tasks import finished_task
from tests.stations.helpers import STAFF, position
from tests.templates import filled_with_example
from tests.world import World, csrf_of, login

TODAY = "2025-02-10"  # NOW in Asia/Shanghai


def _post(client: TestClient, path: str, data: dict[str, Any], **kwargs: Any) -> Response:
    token = csrf_of(client, "/home")
    return client.post(path, data={**data, "csrf_token": token}, follow_redirects=False, **kwargs)


def _count(db: Session, table: type[Any]) -> int:
    return db.scalar(select(func.count()).select_from(table)) or 0


def _manager_id(db: Session, world: World) -> int:
    username = world.users[Role.STATION_MANAGER]
    return db.scalars(select(User.id).where(User.username == username)).one()


def _as_staff(client: TestClient, world: World) -> None:
    login(client, world.users[Role.FEDERATION_STAFF])


def _as_manager(client: TestClient, world: World) -> None:
    login(client, world.users[Role.STATION_MANAGER])


def _position_form(**changes: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "code": "new-1",
        "name": "芝罘区融合型职工服务阵地",
        "types": ["2", "4"],
        "address": "烟台市芝罘区南大街100号",
        "district": "芝罘区",
        "latitude": "37.5393",
        "longitude": "121.3987",
        "hours": "08:00-20:00",
        "operator_org": "芝罘区总工会",
        "responsible_person": "王芳",
        "responsible_phone": "13800000000",
        "amenities": ["1", "1024"],
        "area_m2": "120",
        "seats": "24",
        "stars": "4",
        "most_beautiful": "1",
        "opened_on": "2023-05-01",
    }
    return form | changes


# --- Positions ----------


def test_staff_create_a_position_and_a_bad_form_comes_back_with_what_was_typed(
    client: TestClient, db: Session, world: World
) -> None:
    _as_staff(client, world)
    assert client.get("/stations/new").status_code == 200
    bad = _post(
        client,
        "/stations",
        _position_form(types=[], responsible_phone="123", latitude="91", name="我的阵地"),
    )
    assert bad.status_code == 422
    assert "“阵地类型”至少填一项" in bad.text
    assert "纬度" in bad.text
    assert "手机号" in bad.text
    assert 'value="我的阵地"' in bad.text  # the input is kept
    assert 'value="1024" checked' in bad.text
    assert _count(db, Position) == 0

    made = _post(client, "/stations", _position_form())
    assert made.status_code == 303
    saved = db.scalars(select(Position)).one()
    assert made.headers["location"] == f"/stations/positions/{saved.id}"
    assert (saved.code, saved.type_mask, saved.amenity_mask) == ("NEW-1", 6, 1025)
    assert (saved.most_beautiful, saved.smart, saved.open_24h) == (True, False, False)
    assert saved.status is PositionStatus.ACTIVE
    detail = client.get(made.headers["location"]).text
    assert "已新建阵地：芝罘区融合型职工服务阵地" in detail
    assert "职工之家、工会驿站" in detail

    again = _post(client, "/stations", _position_form(name="另一个"))
    assert again.status_code == 422
    assert "阵地编号 NEW-1 已存在" in again.text
    assert _count(db, Position) == 1


def test_staff_edit_a_position_whose_code_stays_what_it_was(
    client: TestClient, db: Session, world: World
) -> None:
    found = position(db, "EDIT", amenity_mask=1)
    db.commit()
    _as_staff(client, world)
    page = client.get(f"/stations/positions/{found.id}/edit")
    assert page.status_code == 200
    assert 'value="阵地EDIT"' in page.text
    assert 'name="amenities" value="1" checked' in page.text

    refused = _post(
        client,
        f"/stations/positions/{found.id}/edit",
        _position_form(name="改名后的阵地", stars="9", opened_on=""),
    )
    assert refused.status_code == 422
    assert "“星级”应为0至5的整数" in refused.text
    assert "“建成日期”不能为空" in refused.text
    assert 'value="改名后的阵地"' in refused.text
    db.expire_all()
    assert found.name == "阵地EDIT"

    saved = _post(
        client, f"/stations/positions/{found.id}/edit", _position_form(code="HIJACK", name="新名")
    )
    assert saved.status_code == 303
    db.expire_all()
    assert (found.code, found.name, found.stars) == ("EDIT", "新名", 4)
    assert _count(db, Position) == 1


def test_staff_give_a_position_a_manager_and_close_it_with_a_reason(
    client: TestClient, db: Session, world: World
) -> None:
    found = position(db, "RUN")
    db.commit()
    _as_staff(client, world)
    path = f"/stations/positions/{found.id}"
    wrong = _post(client, path + "/manager", {"manager_user_id": "999999"})
    assert wrong.status_code == 422
    assert "请从列表中选择阵地管理员账号" in wrong.text
    manager = _manager_id(db, world)
    assert _post(client, path + "/manager", {"manager_user_id": str(manager)}).status_code == 303
    db.expire_all()
    assert found.manager_user_id == manager
    assert "测试阵地管理员" in client.get(path + "/edit").text

    no_reason = _post(client, path + "/status", {"status": "closed", "reason": " "})
    assert no_reason.status_code == 422
    assert "请填写原因" in no_reason.text
    to_red = _post(client, path + "/status", {"status": "red", "reason": "手工亮牌"})
    assert to_red.status_code == 422
    assert "不能从“正常运行”改为“红牌（已摘牌）”" in to_red.text
    closed = _post(client, path + "/status", {"status": "closed", "reason": "场地拆迁"})
    assert closed.status_code == 303
    detail = client.get(path).text
    assert "已关闭" in detail
    assert "场地拆迁" in detail


def test_the_position_pages_are_for_staff_only(
    client: TestClient, db: Session, world: World
) -> None:
    found = position(db, "MINE", manager_user_id=_manager_id(db, world))
    db.commit()
    _as_manager(client, world)
    assert client.get(f"/stations/positions/{found.id}/edit").status_code == 403
    assert _post(client, "/stations", _position_form()).status_code == 403
    assert client.get("/stations/imports").status_code == 403
    detail = client.get(f"/stations/positions/{found.id}").text
    assert "日常登记" in detail
    assert "/edit" not in detail


# --- Import ----------


def _csv(rows: list[dict[str, str]]) -> bytes:
    lines = [",".join(HEADERS)]
    lines += [",".join(row.get(header, "") for header in HEADERS) for row in rows]
    return ("\n".join(lines) + "\n").encode()


def _row(code: str, **changes: str) -> dict[str, str]:
    row = {
        "阵地编号": code,
        "阵地名称": f"阵地{code}",
        "阵地类型": "工会驿站",
        "地址": "烟台市莱山区港城东大街1号",
        "区县": "莱山区",
        "纬度": "37.51",
        "经度": "121.44",
        "开放时间": "09:00-18:00",
        "24小时开放": "否",
        "运营单位": "莱山区总工会",
        "负责人": "李娜",
        "负责人电话": "13900000000",
        "设施": "冷热饮水、桌椅",
        "面积（平方米）": "50",
        "座位数": "8",
        "星级": "2",
        "最美驿站": "否",
        "智能化/全周期": "否",
        "建成日期": "2024-03-01",
    }
    return row | changes


def test_an_import_with_bad_lines_writes_nothing_and_lists_every_line(
    client: TestClient, db: Session, world: World
) -> None:
    _as_staff(client, world)
    content = _csv(
        [
            _row("IMP-1"),
            _row("IMP-2", 阵地类型="健身房"),
            _row("IMP-3", 负责人电话="123", 星级="6"),
            _row("IMP-1"),
        ]
    )
    token = csrf_of(client, "/home")
    answer = client.post(
        "/stations/imports",
        data={"csrf_token": token},
        files={"file": ("阵地.csv", content, "text/csv")},
    )
    assert answer.status_code == 422
    assert "导入失败：共3行有错误，未写入任何数据" in answer.text
    assert "第3行：阵地类型“健身房”不在清单中" in answer.text
    assert "第4行：" in answer.text
    assert "“星级”应为0至5的整数" in answer.text
    assert "第5行：阵地编号 IMP-1 与第2行重复" in answer.text
    assert _count(db, Position) == 0


def _cells(workbook: bytes) -> list[tuple[object, ...]]:
    return list(load_workbook(io.BytesIO(workbook)).active.iter_rows(values_only=True))


def test_the_published_template_downloads_and_its_example_row_imports(
    client: TestClient, db: Session, world: World
) -> None:
    _as_staff(client, world)
    template = client.get("/stations/imports/template.xlsx")
    assert template.status_code == 200
    assert template.content.startswith(b"PK")
    assert "filename*=UTF-8''" in template.headers["content-disposition"]
    # The published template, cell for cell (the bytes differ: a workbook stamps its time).
    assert _cells(template.content) == _cells(imports.template())
    assert _cells(template.content) == [tuple(HEADERS)]
    answer = client.post(
        "/stations/imports",
        data={"csrf_token": csrf_of(client, "/home")},
        files={"file": ("模板.xlsx", filled_with_example(template.content), "application/x")},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert "导入成功：共1行：新建1个阵地，更新0个" in client.get(answer.headers["location"]).text
    assert db.scalars(select(Position.code)).one() == "YT-0001"


# --- A manager's own position ----------


def test_a_manager_records_activities_and_head_counts_at_their_position(
    client: TestClient, db: Session, world: World
) -> None:
    found = position(db, "WORK", manager_user_id=_manager_id(db, world))
    db.commit()
    _as_manager(client, world)
    work = f"/stations/positions/{found.id}"
    assert client.get(work + "/work").status_code == 200

    bad = _post(
        client,
        work + "/activities",
        {"held_on": "2025-02-11", "kind": "", "title": "职工读书会", "attendance": "20"},
    )
    assert bad.status_code == 422
    assert "请选择活动类型" in bad.text
    assert "活动日期不能晚于今天" in bad.text
    assert 'value="职工读书会"' in bad.text
    not_a_number = _post(
        client,
        work + "/activities",
        {"held_on": TODAY, "kind": "读书分享", "title": "读书会", "attendance": "二十"},
    )
    assert "“参加人数”应为整数" in not_a_number.text
    assert _count(db, Activity) == 0
    done = _post(
        client,
        work + "/activities",
        {"held_on": "2025-02-08", "kind": "读书分享", "title": "职工读书会", "attendance": "20"},
    )
    assert done.status_code == 303
    assert "职工读书会" in client.get(work + "/work").text

    for source, people in (("camera", "120"), ("manual", "30"), ("camera", "150")):
        counted = _post(
            client, work + "/counts", {"on_date": TODAY, "source": source, "people": people}
        )
        assert counted.status_code == 303
    negative = _post(
        client, work + "/counts", {"on_date": TODAY, "source": "manual", "people": "-5"}
    )
    assert "人数应为0至100000的整数" in negative.text
    unknown = _post(client, work + "/counts", {"on_date": TODAY, "source": "qr", "people": "5"})
    assert "请选择计数方式" in unknown.text
    rows = {row.source: row.people for row in db.scalars(select(HeadCount))}
    assert rows == {CountSource.CAMERA: 150, CountSource.MANUAL: 30}


def test_a_real_name_complaint_is_called_back_and_then_closed_on_the_page(
    client: TestClient, db: Session, world: World
) -> None:
    found = position(db, "CALL", manager_user_id=_manager_id(db, world))
    complaint = file_complaint(
        db, found, "饮水机坏了一周", now=NOW, contact_name="张三", contact_phone="13912345678"
    )
    anonymous = file_complaint(db, found, "厕所没有纸", now=NOW)
    db.commit()
    _as_manager(client, world)
    page = client.get(f"/stations/positions/{found.id}/complaints")
    assert "饮水机坏了一周" in page.text
    assert "13912345678" in page.text

    path = f"/stations/complaints/{complaint.id}"
    too_soon = _post(client, path + "/close", {"note": "已修好"})
    assert too_soon.status_code == 422
    assert "实名投诉须先回访，再办结" in too_soon.text
    empty = _post(client, path + "/callback", {"note": ""})
    assert "请填写回访记录或办结说明" in empty.text
    assert _post(client, path + "/callback", {"note": "电话联系张三，已致歉"}).status_code == 303
    assert _post(client, path + "/close", {"note": "已更换饮水机"}).status_code == 303
    closed_directly = _post(client, f"/stations/complaints/{anonymous.id}/close", {"note": "已补"})
    assert closed_directly.status_code == 303
    db.expire_all()
    assert complaint.status is ComplaintStatus.CLOSED
    assert complaint.callback_note == "电话联系张三，已致歉"
    assert anonymous.status is ComplaintStatus.CLOSED
    assert "已更换饮水机" in client.get(f"/stations/positions/{found.id}/complaints").text


def test_a_manager_cannot_reach_another_managers_position_or_vehicle(
    client: TestClient, db: Session, world: World
) -> None:
    other = position(db, "OTHER")
    complaint = file_complaint(db, other, "无人值守", now=NOW)
    vehicle = operations.create_vehicle(
        db, name="别人的车", plate="", team="别的队", manager_user_id=None, actor=STAFF, now=NOW
    )
    plan = operations.TripPlan("某工地", "建筑工地", "芝罘区", NOW.date())
    trip = operations.schedule_trip(db, vehicle, plan, actor=STAFF, now=NOW)
    evaluation.evaluate(db, "2025-01", actor=STAFF, now=NOW)
    score = db.scalars(select(Score)).one()
    db.commit()
    _as_manager(client, world)
    at = f"/stations/positions/{other.id}"
    assert client.get(at + "/work").status_code == 404
    assert client.get(at + "/complaints").status_code == 404
    activity = {"held_on": TODAY, "kind": "其他", "title": "x", "attendance": "1"}
    assert _post(client, at + "/activities", activity).status_code == 404
    count = {"on_date": TODAY, "source": "manual", "people": "1"}
    assert _post(client, at + "/counts", count).status_code == 404
    note = {"note": "越权"}
    assert _post(client, f"/stations/complaints/{complaint.id}/callback", note).status_code == 404
    appeal = {"reason": "越权"}
    assert _post(client, f"/stations/scores/{score.id}/appeal", appeal).status_code == 404
    assert client.get(f"/stations/vehicles/{vehicle.id}").status_code == 404
    assert "别人的车" not in client.get("/stations/vehicles").text
    done = {"services": ["haircut"], "people_served": "10"}
    assert _post(client, f"/stations/trips/{trip.id}/completion", done).status_code == 404
    assert _count(db, Activity) == _count(db, HeadCount) == _count(db, Appeal) == 0
    db.expire_all()
    assert complaint.status is ComplaintStatus.OPEN
    assert trip.status is TripStatus.SCHEDULED


# --- Vehicles ----------


def test_staff_add_a_vehicle_and_its_manager_schedules_and_completes_trips(
    client: TestClient, db: Session, world: World
) -> None:
    _as_staff(client, world)
    manager = str(_manager_id(db, world))
    missing = _post(client, "/stations/vehicles", {"name": "张闻明1号", "team": ""})
    assert missing.status_code == 422
    assert "请填写服务车名称和服务队伍" in missing.text
    assert 'value="张闻明1号"' in missing.text
    vehicle = {"name": "张闻明1号", "plate": "鲁F·D2025", "team": "同城伙伴志愿服务团"}
    added = _post(client, "/stations/vehicles", vehicle | {"manager_user_id": manager})
    assert added.status_code == 303
    twice = _post(client, "/stations/vehicles", vehicle)
    assert twice.status_code == 409
    assert "已存在" in twice.text
    assert _count(db, Vehicle) == 1

    client.cookies.clear()
    _as_manager(client, world)
    assert _post(client, "/stations/vehicles", vehicle | {"name": "2号"}).status_code == 403
    assert "张闻明1号" in client.get("/stations/vehicles").text
    path = added.headers["location"]
    site = {"site_name": "芝罘湾安置房项目工地", "site_kind": "建筑工地", "district": "芝罘区"}
    undated = _post(client, path + "/trips", site | {"scheduled_on": "2月8日"})
    assert undated.status_code == 422
    assert "出车日期“2月8日”格式不正确" in undated.text
    assert _post(client, path + "/trips", site | {"scheduled_on": "2025-02-08"}).status_code == 303
    ahead = site | {"site_name": "莱山区地铁站点工地", "scheduled_on": "2025-02-20"}
    assert _post(client, path + "/trips", ahead).status_code == 303
    past, future = db.scalars(select(Trip).order_by(Trip.scheduled_on)).all()

    nothing = _post(client, f"/stations/trips/{past.id}/completion", {"people_served": "80"})
    assert nothing.status_code == 422
    assert "请至少选择一项服务内容" in nothing.text
    served = {"services": ["haircut", "safety_quiz"], "people_served": "80", "volunteers": "12"}
    early = _post(client, f"/stations/trips/{future.id}/completion", served)
    assert early.status_code == 422
    assert "未到，不能登记完成" in early.text
    assert _post(client, f"/stations/trips/{past.id}/completion", served).status_code == 303
    again = _post(client, f"/stations/trips/{past.id}/completion", served)
    assert "不能再登记" in again.text
    page = client.get(path).text
    assert "义务理发、安全知识竞答" in page
    assert "服务 <strong>80</strong> 人" in page
    db.expire_all()
    assert past.status is TripStatus.DONE
    assert (past.services, past.people_served, past.volunteers) == (
        ["haircut", "safety_quiz"],
        80,
        12,
    )
    assert future.status is TripStatus.SCHEDULED


# --- Appeals ----------


def test_a_manager_appeals_a_card_and_staff_overturn_one_and_uphold_another(
    client: TestClient, db: Session, world: World
) -> None:
    manager = _manager_id(db, world)
    first = position(db, "APL-1", manager_user_id=manager)
    second = position(db, "APL-2", manager_user_id=manager)
    evaluation.evaluate(db, "2025-01", actor=STAFF, now=NOW)
    scores = {row.position_id: row.id for row in db.scalars(select(Score))}
    db.commit()
    assert first.status is PositionStatus.YELLOW

    _as_manager(client, world)
    assert (
        f'action="/stations/scores/{scores[first.id]}/appeal"'
        in client.get(f"/stations/positions/{first.id}/work").text
    )
    empty = _post(client, f"/stations/scores/{scores[first.id]}/appeal", {"reason": ""})
    assert empty.status_code == 422
    assert "请填写申诉理由" in empty.text
    for position_id in (first.id, second.id):
        filed = _post(
            client, f"/stations/scores/{scores[position_id]}/appeal", {"reason": "一月闭馆装修"}
        )
        assert filed.status_code == 303
    twice = _post(client, f"/stations/scores/{scores[first.id]}/appeal", {"reason": "再申诉"})
    assert twice.status_code == 409
    assert "已就此次考核提出过申诉" in twice.text
    assert client.get("/stations/appeals").status_code == 403

    client.cookies.clear()
    _as_staff(client, world)
    assert "一月闭馆装修" in client.get("/stations/appeals").text
    appeals = {row.position_id: row.id for row in db.scalars(select(Appeal))}
    undecided = _post(
        client, f"/stations/appeals/{appeals[first.id]}/decision", {"note": "核实属实"}
    )
    assert undecided.status_code == 422
    assert "请选择处理结果" in undecided.text
    assert "核实属实</textarea>" in undecided.text
    grant = {"outcome": "grant", "note": "核实装修停业"}
    assert (
        _post(client, f"/stations/appeals/{appeals[first.id]}/decision", grant).status_code == 303
    )
    dismiss = {"outcome": "dismiss", "note": "装修期间应另设临时点"}
    decided = _post(client, f"/stations/appeals/{appeals[second.id]}/decision", dismiss)
    assert decided.status_code == 303
    again = _post(client, f"/stations/appeals/{appeals[second.id]}/decision", grant)
    assert "该申诉已处理" in again.text
    db.expire_all()
    assert first.status is PositionStatus.ACTIVE
    assert second.status is PositionStatus.YELLOW
    statuses = {row.position_id: row.status for row in db.scalars(select(Appeal))}
    assert statuses == {first.id: AppealStatus.GRANTED, second.id: AppealStatus.DISMISSED}
    assert "申诉成立，撤销黄牌" in client.get(f"/stations/positions/{first.id}").text


# --- Rule set ----------


def test_the_rule_form_covers_every_rule() -> None:
    assert set(RULE_LABELS) == {field.name for field in fields(RuleSet)}


def _rules(**changes: int) -> dict[str, str]:
    return {name: str(value) for name, value in (RuleSet().as_dict() | changes).items()}


def test_staff_publish_a_rule_set_and_the_next_evaluation_uses_it(
    app: FastAPI, client: TestClient, db: Session, world: World
) -> None:
    found = position(db, "RULES")
    db.commit()
    _as_staff(client, world)
    assert "尚未发布" in client.get("/stations/rules").text

    unbalanced = _post(client, "/stations/rules", _rules(weight_rules=50) | {"note": "试试"})
    assert unbalanced.status_code == 422
    assert "五项权重之和应为100" in unbalanced.text
    assert 'name="weight_rules" value="50"' in unbalanced.text
    words = _post(client, "/stations/rules", _rules() | {"pass_total": "六十", "seats": "x"})
    assert "“达标总分”应为整数，现为“六十”" in words.text
    assert _count(db, RuleSetVersion) == 0

    lenient = _rules(pass_total=0, aspect_floor=0) | {"note": "试行宽松标准"}
    assert _post(client, "/stations/rules", lenient).status_code == 303
    same = _post(client, "/stations/rules", lenient)
    assert "与现行第1版规则相同" in same.text
    page = client.get("/stations/rules").text
    assert 'data-testid="current-version">1<' in page
    assert "试行宽松标准" in page

    run = _post(client, "/stations/evaluations", {"period": "2025-01"})
    assert run.status_code == 303
    board = client.get(finished_task(client, app, run)["result_url"]).text
    assert "规则第1版（试行宽松标准）" in board
    assert "绿牌（达标）" in board
    version = db.scalars(select(RuleSetVersion)).one()
    assert db.scalars(select(EvaluationRun.rule_set_id)).one() == version.id
    db.expire_all()
    assert found.status is PositionStatus.ACTIVE  # the default rules would have carded it
