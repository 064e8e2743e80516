"""The pages end to end: scan, check in, rate; a forged or stale code; an evaluation's card."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gonghui.core.auth import Role
from gonghui.core.settings import Settings
from gonghui.stations import tokens
from gonghui.stations.models import Complaint, Rating, Visit
from gonghui.stations.rules import Amenity
from tests.conftest import NOW
from tests.jobs.tasks import finished_task
from tests.stations.helpers import position
from tests.world import World, csrf_of, login, post_form


def _link(client: TestClient, position_id: int) -> str:
    page = client.get(f"/stations/positions/{position_id}").text
    match = re.search(r'data-testid="checkin-link" href="[^"]*(/stations/checkin\?t=[^"]+)"', page)
    assert match
    return match.group(1)


def test_a_member_scans_checks_in_and_rates_once(
    client: TestClient, db: Session, world: World
) -> None:
    found = position(db, "WEB")
    db.commit()
    login(client, world.users[Role.FEDERATION_STAFF])
    link = _link(client, found.id)
    client.cookies.clear()
    login(client, world.users[Role.MEMBER])
    page = client.get(link)
    assert "您以会员身份签到" in page.text
    token = link.split("t=", 1)[1]
    answer = post_form(client, "/stations/checkin", {"token": token})
    assert answer.status_code == 303  # type: ignore[attr-defined]
    visit_path = answer.headers["location"]  # type: ignore[attr-defined]
    stars = {"rules": "5", "service": "4", "environment": "5", "facilities": "3"}
    refused = post_form(client, visit_path + "/rating", stars)
    assert refused.status_code == 422  # type: ignore[attr-defined]
    assert "请为“解决了我的需要”选择满意程度" in refused.text  # type: ignore[attr-defined]
    assert '<option value="3" selected>一般</option>' in refused.text  # type: ignore[attr-defined]
    rated = post_form(client, visit_path + "/rating", {**stars, "effectiveness": "4", "like": "1"})
    assert rated.status_code == 303  # type: ignore[attr-defined]
    again = post_form(client, visit_path + "/rating", {**stars, "effectiveness": "4"})
    assert again.status_code == 409  # type: ignore[attr-defined]
    assert "已经评价过了" in again.text  # type: ignore[attr-defined]
    assert 'data-testid="rating-error"' in again.text  # type: ignore[attr-defined]
    assert 'data-testid="thanks"' in client.get(visit_path).text
    assert db.scalar(select(func.count()).select_from(Rating)) == 1
    assert db.scalar(select(func.count()).select_from(Visit)) == 1


def test_a_forged_or_stale_code_is_refused(
    client: TestClient, db: Session, settings: Settings
) -> None:
    found = position(db, "FORGE")
    db.commit()
    key = tokens.derive_key(settings.secret_key.get_secret_value())
    stale = tokens.issue(key, found.id, NOW - timedelta(days=2))
    assert "已过期" in client.get(f"/stations/checkin?t={stale}").text
    forged = tokens.issue(tokens.derive_key("guess" * 8), found.id, NOW)
    page = client.get(f"/stations/checkin?t={forged}")
    assert page.status_code == 422
    assert "篡改" in page.text
    answer = client.post(
        "/stations/checkin",
        data={
            "token": forged,
            "phone": "13912345678",
            "occupation": "快递员",
            "csrf_token": csrf_of(client),
        },
    )
    assert answer.status_code == 422
    assert db.scalar(select(func.count()).select_from(Visit)) == 0


def test_a_visitor_without_an_account_checks_in_with_phone_and_occupation(
    client: TestClient, db: Session, settings: Settings
) -> None:
    found = position(db, "GUEST")
    db.commit()
    token = tokens.issue(tokens.derive_key(settings.secret_key.get_secret_value()), found.id, NOW)
    assert "非会员请填写" in client.get(f"/stations/checkin?t={token}").text
    answer = client.post(
        "/stations/checkin",
        data={
            "token": token,
            "phone": "13912345678",
            "occupation": "环卫工人",
            "csrf_token": csrf_of(client),
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert "签到成功" in client.get(answer.headers["location"]).text


def test_staff_run_an_evaluation_and_see_the_card_it_earns(
    app: FastAPI, client: TestClient, db: Session, world: World
) -> None:
    found = position(db, "EVAL")
    db.commit()
    login(client, world.users[Role.FEDERATION_STAFF])
    answer = post_form(client, "/stations/evaluations", {"period": "2025-01"})
    assert answer.status_code == 303  # type: ignore[attr-defined]
    task = finished_task(client, app, answer)  # type: ignore[arg-type]
    board = client.get(task["result_url"])
    assert "黄牌" in board.text
    detail = client.get(f"/stations/positions/{found.id}").text
    assert "黄牌整改中" in detail
    assert "2025-03-12" in detail


def test_the_finder_draws_its_map_without_outside_tiles(client: TestClient, db: Session) -> None:
    position(db, "NEAR", latitude=37.46, longitude=121.45)
    db.commit()
    page = client.get("/stations/find?lat=37.4638&lon=121.4479")
    assert page.status_code == 200
    assert page.text.count('class="point"') == 1
    assert "阵地NEAR" in page.text
    assert "http://" not in page.text.replace("http://www.w3.org/2000/svg", "")
    assert client.get("/stations/find?lat=abc").status_code == 422


def test_each_result_says_where_when_and_what_and_opens_the_phones_map(
    client: TestClient, db: Session
) -> None:
    amenities = int(Amenity.WATER | Amenity.WIFI)
    position(
        db, "NEAR", latitude=37.46, longitude=121.45, address="芝罘区南大街1号",
        amenity_mask=amenities,
    )  # fmt: skip
    db.commit()
    page = client.get("/stations/find?lat=37.4638&lon=121.4479").text
    found = page.split('data-testid="found"', 1)[1].split("</ol>", 1)[0]
    assert "芝罘区南大街1号" in found
    assert "开放时间 " in found or "24小时开放" in found
    assert "设施：冷热饮水、无线网络" in found
    # 导航 hands the point to the phone's own map app (a geo: link), no map site involved.
    assert 'href="geo:37.460000,121.450000?q=37.460000,121.450000(%E9%98%B5%E5%9C%B0NEAR)"' in found


def test_a_member_finds_positions_by_district_or_street_and_sees_distance_once_located(
    client: TestClient, db: Session
) -> None:
    position(db, "ZHIFU", address="芝罘区南大街1号", latitude=37.54, longitude=121.40)
    position(db, "LAISHAN", address="莱山区观海路5号", district="莱山区", latitude=37.48)
    db.commit()

    def results(**query: str) -> str:
        page = client.get("/stations/find", params=query)
        assert page.status_code == 200
        return page.text.split('data-testid="found"', 1)[1].split("</ol>", 1)[0]

    by_district = results(q="芝罘区")
    assert "阵地ZHIFU" in by_district
    assert "阵地LAISHAN" not in by_district
    assert "公里" not in by_district, "no distance until the member's location is known"
    assert "导航" in by_district
    assert "阵地LAISHAN" in results(q="观海路")
    assert "没有找到“黄渤海”的阵地" in results(q="黄渤海")
    located = results(q="南大街", lat="37.5400", lon="121.4100")
    assert "阵地ZHIFU" in located
    assert "0.9 公里" in located  # 0.01° of longitude at 37.54°N
    assert 'value="37.54"' in client.get("/stations/find?q=南大街&lat=37.54&lon=121.41").text


def test_a_visitor_complains_and_a_real_name_complaint_awaits_its_call_back(
    client: TestClient, db: Session, settings: Settings
) -> None:
    found = position(db, "GRIPE")
    db.commit()
    token = tokens.issue(tokens.derive_key(settings.secret_key.get_secret_value()), found.id, NOW)
    data = {"token": token, "phone": "13912345678", "occupation": "外卖骑手"}
    visit_path = post_form(client, "/stations/checkin", data).headers["location"]  # type: ignore[attr-defined]
    path = visit_path + "/complaint"
    refused = post_form(client, path, {"body": "饮水机坏了", "contact_phone": "13912345678"})
    assert refused.status_code == 422  # type: ignore[attr-defined]
    assert "实名投诉请填写姓名" in refused.text  # type: ignore[attr-defined]
    # The form keeps what was typed.
    assert "饮水机坏了" in refused.text  # type: ignore[attr-defined]
    assert db.scalar(select(func.count()).select_from(Complaint)) == 0
    real = {"body": "饮水机坏了", "contact_name": "张师傅", "contact_phone": "13912345678"}
    assert post_form(client, path, real).status_code == 303  # type: ignore[attr-defined]
    assert "阵地负责人将电话回访" in client.get(visit_path).text
    post_form(client, path, {"body": "空调太冷"})
    complaints = db.scalars(select(Complaint).order_by(Complaint.id)).all()
    assert [(c.real_name, c.status.value, c.position_id) for c in complaints] == [
        (True, "open", found.id),
        (False, "open", found.id),
    ]
    client.cookies.clear()  # another browser has no such visit
    other = post_form(client, path, {"body": "冒名投诉"})
    assert other.status_code == 404  # type: ignore[attr-defined]
