"""Pages in a real browser on a phone-sized screen."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gonghui.members.demo import PERSONAS, Persona
from gonghui.members.models import Member, Unit
from tests.browser.conftest import PHONE, LiveServer, sign_in
from tests.web.test_auth import NAV_BY_ROLE

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("persona", PERSONAS, ids=lambda persona: persona.username)
def test_each_persona_logs_in_on_a_phone_and_sees_its_navigation(
    browser: Any, live_server: LiveServer, persona: Persona
) -> None:
    page = sign_in(browser, live_server, persona.username)
    # Each link's own label, without the unread badge the 消息 link may carry.
    labels = page.locator('[data-testid="nav"] a').evaluate_all(
        "links => links.map(link => link.firstChild.textContent.trim())"
    )
    assert labels == NAV_BY_ROLE[persona.role]
    assert persona.role.label in page.get_by_test_id("who").inner_text()
    # Nothing overflows the phone's width: the page never scrolls sideways.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.close()


def test_a_member_import_with_errors_shows_every_error_and_changes_nothing(
    browser: Any, live_server: LiveServer, tmp_path: Any
) -> None:
    with Session(live_server.engine) as session:
        unit_code = session.scalars(select(Unit.credit_code).limit(1)).one()
        before = session.scalar(select(func.count()).select_from(Member))
    bad_file = tmp_path / "会员.csv"
    bad_file.write_text(
        "姓名,身份证号,手机号,统一社会信用代码,岗位类型,在职状态\n"
        f"张三,110105194912310021,13700000001,{unit_code},生产操作岗,在职\n"
        f"李四,11010519491231002X,1370000,{unit_code},生产操作岗,在职\n"
        f"王五,11010519491231002X,13700000003,91370602MA3C00000X,管理,在职\n",
        encoding="gbk",
    )
    page = sign_in(browser, live_server, "staff")
    page.goto(live_server.url + "/imports")
    page.get_by_label("选择文件").set_input_files(str(bad_file))
    page.get_by_role("button", name="导入").click()
    errors = page.get_by_test_id("import-errors").locator("li").all_inner_texts()
    assert errors[0] == "第2行：身份证号校验位错误"
    assert errors[1] == "第3行：手机号应为11位中国大陆手机号码"
    assert errors[2].startswith("第4行：统一社会信用代码校验位错误；岗位类型“管理”不正确")
    assert "身份证号与第3行重复" in errors[2]
    assert len(errors) == 3
    with Session(live_server.engine) as session:
        assert session.scalar(select(func.count()).select_from(Member)) == before
    page.close()


def test_the_public_calculator_shows_the_date_and_the_chart_on_a_phone(
    browser: Any, live_server: LiveServer
) -> None:
    page = browser.new_page(viewport=PHONE)
    page.goto(live_server.url + "/login")
    page.get_by_role("link", name="退休年龄与养老金测算").click()
    page.get_by_label("人员类别").select_option("male")
    page.get_by_label("出生年份").select_option("1980")
    page.get_by_label("出生月份").select_option("1")
    for label, value in (
        ("计发基数", "10000"),
        ("已缴费年限", "20"),
        ("个人账户储存额", "100000"),
        ("每月记入个人账户的缴费", "800"),
        ("记账利率", "2.5"),
    ):
        page.get_by_label(label).fill(value)
    page.get_by_role("button", name="测算").click()
    assert page.get_by_test_id("retirement-month").inner_text() == "2043年1月"
    chart = page.get_by_test_id("pension-chart").locator("svg")
    # A man born 1980-01 may retire from 2040-01 (60岁) to 2046-01 (66岁): 73 months, all ahead.
    assert chart.locator("circle.point").count() == 73
    assert chart.bounding_box()["width"] <= PHONE["width"]
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.close()


# Pages reached from buttons rather than the navigation, per persona.
EXTRA_PAGES = {
    "staff": [
        "/stations/new",
        "/stations/imports",
        "/stations/rules",
        "/stations/appeals",
        "/stations/vehicles",
    ],
    "station": ["/stations/vehicles"],
}


@pytest.mark.parametrize("persona", PERSONAS, ids=lambda persona: persona.username)
def test_every_page_of_a_persona_fits_a_phone(
    browser: Any, live_server: LiveServer, persona: Persona
) -> None:
    page = sign_in(browser, live_server, persona.username)
    links = page.locator('[data-testid="nav"] a').evaluate_all("links => links.map(a => a.href)")
    paths = [*links, *(live_server.url + path for path in EXTRA_PAGES.get(persona.username, []))]
    if persona.username == "station":  # the work and complaints pages of a managed position
        page.goto(live_server.url + "/stations")
        first = page.locator('a[href^="/stations/positions/"]').first.get_attribute("href")
        paths += [live_server.url + first + "/work", live_server.url + first + "/complaints"]
    too_wide = []
    for url in paths:
        response = page.goto(url)
        assert response is not None
        assert response.status == 200, url
        if not page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"):
            too_wide.append(url.removeprefix(live_server.url))
    page.close()
    assert too_wide == [], "these pages scroll sideways on a phone"
