"""The member's app on a phone (issue 14): the home tells where the member stands, and a
worker who is not on the roll joins online. Screens of the member pages are saved to
docs/screens/ for the README."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gonghui.insurance.rules import Terms, running_average, running_average_words
from gonghui.members.demo import DEMO_PASSWORD
from gonghui.members.models import Unit, User
from tests.browser.conftest import PHONE, SERVER_NOW, LiveServer, screen, sign_in
from tests.browser.test_insurance import DESKTOP, persona_card
from tests.world import make_id

pytestmark = pytest.mark.browser


def test_the_home_shows_the_running_average_and_the_amount_a_day_the_rules_give(
    browser: Any, live_server: LiveServer, tmp_path: Path
) -> None:
    # The server's day is 2025-03-05 in Beijing: the bank reports the 1st to the 4th.
    today = date(2025, 3, 5)
    assert SERVER_NOW.date() == today
    card = persona_card(live_server)
    balances = tmp_path / "烟台银行-2025-03.csv"
    balances.write_text(
        "卡号,日期,日终余额\n" + "".join(f"{card},2025-03-0{d},1640.00\n" for d in range(1, 5)),
        encoding="utf-8",
    )
    bank = sign_in(browser, live_server, "bank", DESKTOP)
    bank.goto(live_server.url + "/insurance/balances")
    bank.get_by_label("选择余额文件").set_input_files(str(balances))
    bank.get_by_role("button", name="上传").click()
    assert "新增4行" in bank.get_by_role("status").inner_text()
    bank.close()

    expected = running_average(4 * 164_000, today, date(2000, 1, 1), Terms())
    words = running_average_words(expected, Terms().threshold_fen)
    # March has 31 days, 27 of them left: the least d with round_half_up((4 × ¥1,640 + 27 d)
    # / 31) ≥ ¥2,000 is ¥2,053.33.
    assert words == "本月截至昨日日均 ¥1,640.00，月底前每天保持 ¥2,053.33 即可达标"
    member = sign_in(browser, live_server, "member", PHONE)
    assert words in member.get_by_test_id("running-average").all_inner_texts()
    assert member.get_by_test_id("home-retirement").inner_text().endswith("月")
    tabs = member.get_by_test_id("tabs")
    assert tabs.is_visible()
    assert tabs.locator("a").all_inner_texts()[:2] == ["首页", "服务"]
    assert not member.get_by_test_id("nav").is_visible()  # the tab bar replaces it on a phone
    assert member.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screen(member, "member-home")
    tabs.get_by_role("link", name="服务").click()
    member.wait_for_url("**/services")
    member.goto(live_server.url + "/wallet")
    screen(member, "wallet")
    member.goto(live_server.url + "/stations/find")
    member.get_by_label("区县、街道或地址").fill("芝罘区")
    member.get_by_role("button", name="查找").click()
    member.get_by_test_id("place").first.locator("summary").click()
    screen(member, "finder")
    member.close()


def test_a_worker_applies_to_join_online_and_the_officer_approves(
    browser: Any, live_server: LiveServer
) -> None:
    with Session(live_server.engine) as session:
        unit = session.scalars(
            select(Unit).join(User, User.unit_id == Unit.id).where(User.username == "officer")
        ).one()
        unit_name = unit.name
    id_number = make_id("370602", "19960412", "528")
    worker = browser.new_page(viewport=PHONE)
    worker.goto(live_server.url + "/login")
    worker.get_by_role("link", name="网上入会").click()
    worker.get_by_label("查找工作单位").fill(unit_name[2:6])
    worker.get_by_role("button", name="查找单位").click()
    worker.get_by_test_id("employers").get_by_role("link", name=unit_name, exact=True).click()
    assert worker.get_by_label("工作单位（全称").input_value() == unit_name
    worker.get_by_label("姓名").fill("周晓梅")
    worker.get_by_label("身份证号").fill(id_number)
    worker.get_by_label("手机号").fill("1390535052")  # one digit short
    worker.get_by_label("岗位类型").select_option(label="生产操作岗")
    worker.get_by_role("button", name="提交入会申请").click()
    assert "手机号应为11位" in worker.locator(".field-error").inner_text()
    assert worker.get_by_label("姓名").input_value() == "周晓梅"
    worker.get_by_label("手机号").fill("13905350528")
    worker.get_by_role("button", name="提交入会申请").click()
    assert "入会申请已提交" in worker.get_by_test_id("join-sent").inner_text()

    officer = sign_in(browser, live_server, "officer", DESKTOP)
    officer.get_by_test_id("nav").get_by_role("link", name="入会申请").click()
    card = officer.get_by_test_id("application").filter(has_text="周晓梅")
    card.get_by_role("button", name="同意入会").click()
    assert "已同意 周晓梅 入会" in officer.get_by_test_id("approved").inner_text()
    code = officer.get_by_test_id("new-code").inner_text()
    officer.close()

    worker.goto(live_server.url + "/activate")
    for label, value in (("姓名", "周晓梅"), ("身份证号", id_number), ("手机号", "13905350528")):
        worker.get_by_label(label).fill(value)
    worker.get_by_label("激活码").fill(code)
    worker.get_by_label("设置密码（至少8位）").fill(DEMO_PASSWORD + "!x")
    worker.get_by_label("再次输入密码").fill(DEMO_PASSWORD + "!x")
    worker.get_by_role("button", name="开通").click()
    worker.get_by_label("用户名或手机号").fill("13905350528")
    worker.get_by_label("密码").fill(DEMO_PASSWORD + "!x")
    worker.get_by_role("button", name="登录").click()
    worker.wait_for_url("**/home")
    assert worker.get_by_role("heading", level=1).inner_text() == "您好，周晓梅"
    worker.close()
