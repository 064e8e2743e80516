"""Stations in a real browser: a member scans a position's code on a phone, checks in and
rates it; a forged or stale code is refused; staff run an evaluation and see the cards."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gonghui.core.settings import DEVELOPMENT_SECRET
from gonghui.members.models import User
from gonghui.stations import tokens
from gonghui.stations.models import Position
from tests.browser.conftest import PHONE, SERVER_NOW, LiveServer, sign_in

pytestmark = pytest.mark.browser
DESKTOP = {"width": 1280, "height": 900}


def managed_position(server: LiveServer) -> int:
    with Session(server.engine) as session:
        found = session.scalars(
            select(Position.id)
            .join(User, User.id == Position.manager_user_id)
            .where(User.username == "station", Position.status == "active")
        ).first()
    assert found is not None
    return found


def door_link(browser: Any, server: LiveServer, position_id: int) -> str:
    manager = sign_in(browser, server, "station", DESKTOP)
    manager.goto(f"{server.url}/stations/positions/{position_id}/door")
    link = manager.get_by_test_id("door-link").get_attribute("href")
    manager.close()
    assert link
    return str(link)


def test_the_position_page_and_the_door_show_the_qr_code_on_a_phone(
    browser: Any, live_server: LiveServer
) -> None:
    position_id = managed_position(live_server)
    manager = sign_in(browser, live_server, "station", PHONE)
    manager.goto(f"{live_server.url}/stations/positions/{position_id}")
    code = manager.get_by_test_id("checkin-qr").locator("svg")
    assert code.is_visible()
    box = code.bounding_box()
    assert box is not None
    assert box["width"] >= 150  # big enough for a phone camera at arm's length
    assert box["x"] + box["width"] <= PHONE["width"]
    manager.goto(f"{live_server.url}/stations/positions/{position_id}/door")
    door = manager.get_by_test_id("door-qr").locator("svg").bounding_box()
    assert door is not None
    assert door["width"] >= PHONE["width"] * 0.8
    manager.close()


def test_a_member_scans_checks_in_and_rates_on_a_phone(
    browser: Any, live_server: LiveServer
) -> None:
    link = door_link(browser, live_server, managed_position(live_server))
    member = sign_in(browser, live_server, "member", PHONE)
    member.goto(link)
    assert "您以会员身份签到" in member.content()
    member.get_by_role("button", name="签到").click()
    assert "签到成功" in member.get_by_role("status").inner_text()
    for label in ("公示清楚", "服务态度", "干净整洁", "设施齐全好用", "解决了我的需要"):
        member.get_by_label(label).select_option(label="很满意")
    member.get_by_label("点赞").check()
    member.get_by_label("留言或建议").fill("饮水机很方便，希望增加充电线")
    member.get_by_role("button", name="提交评价").click()
    assert "评价已提交" in member.get_by_role("status").inner_text()
    assert "谢谢您的评价" in member.get_by_test_id("thanks").inner_text()
    assert member.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    member.close()


def test_a_forged_or_stale_code_is_refused(browser: Any, live_server: LiveServer) -> None:
    position_id = managed_position(live_server)
    link = door_link(browser, live_server, position_id)
    page = browser.new_page(viewport=PHONE)
    # The code edited to name another position: its signature no longer matches.
    token = link.split("t=", 1)[1]
    page.goto(link.replace("t=" + token, f"t={position_id + 1}" + token[len(str(position_id)) :]))
    assert "篡改" in page.get_by_test_id("checkin-error").inner_text()
    # A genuine code photographed three days ago (the live server keeps the development key).
    key = tokens.derive_key(DEVELOPMENT_SECRET)
    stale = tokens.issue(key, position_id, SERVER_NOW - timedelta(days=3))
    page.goto(f"{live_server.url}/stations/checkin?t={stale}")
    assert "已过期" in page.get_by_test_id("checkin-error").inner_text()
    page.close()


def test_a_refused_rule_set_opens_at_its_message_on_a_phone(
    browser: Any, live_server: LiveServer
) -> None:
    staff = sign_in(browser, live_server, "staff")
    staff.goto(live_server.url + "/stations/rules")
    target = staff.get_by_label("日均使用人次满分目标（人次/开放日）")
    target.fill("20250203")  # a date typed into the wrong field
    staff.get_by_role("button", name="发布新版本").click()
    refusal = staff.get_by_role("alert")
    assert refusal.inner_text() == "日均使用人次目标应为1至10,000"
    box = refusal.bounding_box()
    assert box is not None
    # Seen as the page opens, without scrolling to it.
    assert box["y"] >= 0
    assert box["y"] + box["height"] <= PHONE["height"]
    assert target.input_value() == "20250203"
    staff.close()


def test_staff_run_an_evaluation_and_see_the_cards(browser: Any, live_server: LiveServer) -> None:
    staff = sign_in(browser, live_server, "staff", DESKTOP)
    staff.goto(live_server.url + "/stations/evaluations")
    staff.get_by_label("考核期间").fill("2025-02")
    staff.get_by_role("button", name="运行考核").click()
    # The worker evaluates; the task's page links to the run once it is done.
    staff.get_by_test_id("task-result").wait_for(state="visible", timeout=30_000)
    assert "2025-02 考核完成" in staff.get_by_test_id("task-summary").inner_text()
    staff.get_by_test_id("task-link").click()
    board = staff.get_by_test_id("scoreboard").inner_text()
    assert "黄牌" in board or "红牌" in board
    staff.close()


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_a_member_finds_positions_by_district_without_a_script_and_taps_one(
    browser: Any, live_server: LiveServer, viewport: dict[str, int]
) -> None:
    page = browser.new_page(viewport=viewport, java_script_enabled=False)
    page.goto(live_server.url + "/stations/find")
    page.get_by_label("区县、街道或地址").fill("芝罘区")
    page.get_by_role("button", name="查找").click()
    page.wait_for_url("**/stations/find?q=*")
    places = page.get_by_test_id("place")
    assert places.count() > 0
    assert "芝罘区" in page.get_by_test_id("found").inner_text()
    assert "公里" not in page.get_by_test_id("found").inner_text()  # no location given
    first = places.first
    navigate = first.get_by_test_id("navigate")
    assert not navigate.is_visible()
    first.locator("summary").click()  # the result opens where it is tapped
    assert navigate.is_visible()
    assert str(navigate.get_attribute("href")).startswith("geo:")
    assert "设施" in first.inner_text()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.get_by_label("区县、街道或地址").fill("南大街")
    page.get_by_role("button", name="查找").click()
    assert all("南大街" in text for text in page.locator("summary .where").all_inner_texts())
    page.close()


def test_the_phones_location_orders_a_district_search_by_distance(
    browser: Any, live_server: LiveServer
) -> None:
    here = {"latitude": 37.54, "longitude": 121.40}
    context = browser.new_context(viewport=PHONE, geolocation=here, permissions=["geolocation"])
    page = context.new_page()
    page.goto(live_server.url + "/stations/find?q=芝罘区")
    page.get_by_role("button", name="使用我的位置").click()
    page.wait_for_url("**lat=37.54*")
    distances = [
        float(text.split()[0]) for text in page.locator("summary .distance").all_inner_texts()
    ]
    assert distances
    assert distances == sorted(distances)
    assert "由近到远" in page.get_by_test_id("found-what").inner_text()
    context.close()
