"""医保钱包 end to end on a phone: the agency issues the relative's activation code, the
relative opens their wallet with it; a member binds a relative in another open province, sends
500 yuan verified with the 医保码 password, the relative accepts and pays a pharmacy; a
transfer at 23:00 is refused; an unaccepted one returns at 06:00 the next morning."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gonghui.core.auth import SYSTEM
from gonghui.core.db import make_engine
from gonghui.core.migrate import upgrade
from gonghui.core.pii import vault_for
from gonghui.core.settings import Environment, Settings
from gonghui.demo import load_demo
from gonghui.members.demo import DEMO_PASSWORD
from gonghui.wallet import people, transfers
from gonghui.wallet.rules import Scheme
from gonghui.web.app import create_app
from tests.browser.conftest import PHONE, LiveServer, _free_port, sign_in
from tests.conftest import NOW
from tests.world import make_id

pytestmark = pytest.mark.browser
SPOUSE_ID = make_id(region="440106", birth="19820714", sequence="528")
SPOUSE_PHONE = "13600000008"
SPOUSE_PASSWORD = "spouse-pass-1"


@dataclass
class MovableClock:
    at: datetime

    def now(self) -> datetime:
        return self.at


@dataclass(frozen=True)
class WalletServer:
    server: LiveServer
    clock: MovableClock
    settings: Settings


def beijing(day: int, hour: int) -> datetime:
    return (
        datetime(2025, 2, day, hour - 8, 0, tzinfo=UTC)
        if hour >= 8
        else datetime(2025, 2, day - 1, hour + 16, 0, tzinfo=UTC)
    )


@pytest.fixture(scope="module")
def wallet_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WalletServer]:
    folder: Path = tmp_path_factory.mktemp("wallet-live")
    settings = Settings(
        environment=Environment.TEST,
        database_url=f"sqlite:///{folder / 'gonghui.db'}",
        storage_dir=folder / "storage",
    )
    upgrade(settings)
    engine: Engine = make_engine(settings.database_url)
    with Session(engine) as session, session.begin():
        load_demo(session, settings, now=NOW, members=300, units=20)
        people.register_insured(
            session, name="赵淑芬", id_number=SPOUSE_ID, scheme=Scheme.RESIDENT,
            region_code="440100", vault=vault_for(settings),
            actor=SYSTEM, now=NOW,
        )  # fmt: skip
    clock = MovableClock(beijing(11, 10))
    port = _free_port()
    app = create_app(settings, clock=clock)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            pytest.fail("the wallet server did not start")
        time.sleep(0.05)
    yield WalletServer(LiveServer(f"http://127.0.0.1:{port}", engine), clock, settings)
    server.should_exit = True
    thread.join(timeout=10)
    engine.dispose()


def spouse_signs_in(browser: Any, server: LiveServer) -> Any:
    page = browser.new_page(viewport=PHONE)
    page.goto(server.url + "/login")
    page.get_by_label("用户名或手机号").fill(SPOUSE_PHONE)
    page.get_by_label("密码").fill(SPOUSE_PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/home")
    return page


def member_sends(page: Any, server: LiveServer, amount: str) -> str:
    page.goto(server.url + "/wallet")
    page.get_by_label("收款人").select_option(label="赵淑芬（配偶）")
    page.get_by_label("转账金额（元，单笔不超过2,000元）").fill(amount)
    page.get_by_label("验证方式").select_option("password")
    page.get_by_label("医保码密码").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="确认并提交").click()
    return str(page.get_by_role("status").first.inner_text())


def test_a_member_binds_sends_and_the_relative_accepts_and_pays(
    browser: Any, wallet_server: WalletServer
) -> None:
    server = wallet_server.server
    agency = sign_in(browser, server, "agency")
    agency.goto(server.url + f"/wallet/insured?q={SPOUSE_ID}")
    agency.get_by_test_id("issue-code").click()
    code = agency.get_by_test_id("activation-code").inner_text()

    relative = browser.new_page(viewport=PHONE)
    relative.goto(server.url + "/wallet/activate")
    relative.get_by_label("姓名").fill("赵淑芬")
    relative.get_by_label("身份证号").fill(SPOUSE_ID)
    relative.get_by_label("实名手机号").fill(SPOUSE_PHONE)
    relative.get_by_label("激活码（向医保经办机构索取）").fill(code)
    relative.get_by_label("使用地").select_option(label="广州市")
    relative.get_by_label("密码（至少8位，同时作为医保码密码）").fill(SPOUSE_PASSWORD)
    relative.get_by_role("button", name="开通").click()
    relative.wait_for_url("**/login")

    member = sign_in(browser, server, "member")
    member.goto(server.url + "/wallet")
    member.get_by_label("亲属姓名").fill("赵淑芬")
    member.get_by_label("亲属身份证号").fill(SPOUSE_ID)
    member.get_by_label("关系").select_option(label="配偶")
    member.locator("form[action='/wallet/relatives'] input[name=commitment]").check()
    member.get_by_role("button", name="提交", exact=True).click()
    assert "待对方确认" in member.get_by_role("status").inner_text()

    relative = spouse_signs_in(browser, server)
    relative.goto(server.url + "/wallet")
    box = relative.get_by_test_id("confirm-box")
    box.locator("input[name=commitment]").check()
    box.locator("input[name=face_sample]").check()
    box.get_by_role("button", name="人脸验证并确认").click()
    assert "共济关系已生效" in relative.get_by_role("status").inner_text()

    # Typed in full width, as a phone's Chinese keyboard may.
    assert "转账成功" in member_sends(member, server, "５００．００")
    assert member.get_by_test_id("held").inner_text() == "¥500.00"

    relative.goto(server.url + "/wallet")
    assert "向您转入 ¥500.00" in relative.get_by_test_id("incoming").inner_text()
    relative.get_by_role("button", name="接收").click()
    assert relative.get_by_test_id("quota").inner_text() == "¥500.00"
    relative.get_by_label("用途").select_option(label="定点零售药店自付费用")
    relative.get_by_label("定点医药机构或缴费项目").fill("广州某大药房")
    relative.get_by_label("支付金额（元）").fill("86.50")
    relative.get_by_role("button", name="支付").click()
    assert relative.get_by_test_id("quota").inner_text() == "¥413.50"

    # 23:00 in Beijing: refused with the rule in words.
    wallet_server.clock.at = beijing(11, 23)
    assert "22:00至次日06:00" in member_sends(member, server, "100")

    # 10:00 the next day: sent, never accepted; at 06:00 after, the job returns it.
    wallet_server.clock.at = beijing(12, 10)
    assert "转账成功" in member_sends(member, server, "100")
    with Session(server.engine) as session, session.begin():
        assert transfers.release_due(session, beijing(13, 6), actor=SYSTEM) == 1
    member.goto(server.url + "/wallet")
    assert "未接收已退回" in member.get_by_test_id("transfer-row").first.inner_text()
    assert member.get_by_test_id("held").inner_text() == "¥0.00"


def test_the_region_list_is_grouped_by_province_and_narrows_as_one_types(
    browser: Any, wallet_server: WalletServer
) -> None:
    server = wallet_server.server
    page = browser.new_page(viewport=PHONE)
    page.goto(server.url + "/wallet/activate")
    regions = page.get_by_label("使用地")
    assert regions.locator("optgroup").count() == 14  # the provinces with an open region
    every = regions.locator("option").count()
    assert every > 100
    search = page.get_by_label("搜索城市、省份或区划代码")
    search.fill("四川")
    assert regions.locator("optgroup").evaluate_all("gs => gs.map(g => g.label)") == ["四川省"]
    assert regions.locator("option").count() > 1
    search.fill("烟台")
    assert regions.locator("option").all_inner_texts() == ["烟台市"]
    assert regions.input_value() == "370600"
    assert "找到 1 个统筹区" in page.locator("[data-region-count]").inner_text()
    search.fill("３７０６")  # a code, in full-width digits
    assert regions.input_value() == "370600"
    search.fill("火星")
    assert regions.locator("option").count() == every, "nothing found: the whole list again"
    assert "没有找到" in page.locator("[data-region-count]").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.close()

    plain = browser.new_page(viewport=PHONE, java_script_enabled=False)
    plain.goto(server.url + "/wallet/activate")
    assert not plain.get_by_label("搜索城市、省份或区划代码").is_visible()
    regions = plain.get_by_label("使用地")
    assert regions.locator("optgroup").count() == 14
    regions.select_option(label="烟台市")
    assert regions.input_value() == "370600"
    plain.close()
