"""Two-factor sign-in in a real browser on a phone: enrol by the secret shown beside the QR
code (as a person types it into an authenticator app), then sign in with a code."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pyotp
import pytest
from sqlalchemy.orm import Session

from gonghui.core.auth import Actor, Role
from gonghui.members import accounts
from gonghui.members.demo import DEMO_PASSWORD
from tests.browser.conftest import PHONE, LiveServer, sign_in
from tests.conftest import NOW

pytestmark = pytest.mark.browser

OPENER = Actor(user_id=None, username="test", role=Role.ADMIN, display_name="测试")


def test_a_staff_member_enrols_in_totp_and_signs_in_with_a_code(
    browser: Any, live_server: LiveServer
) -> None:
    # An account of its own: the demo personas stay without a second factor for other tests.
    with Session(live_server.engine) as session, session.begin():
        accounts.create_user(
            session, username="tfa-staff", password=DEMO_PASSWORD,
            role=Role.FEDERATION_STAFF, display_name="两步验证测试", password_is_initial=False,
            actor=OPENER, now=NOW,
        )  # fmt: skip
    page = sign_in(browser, live_server, "tfa-staff")
    page.goto(live_server.url + "/account/2fa")
    page.get_by_role("button", name="开始设置").click()
    assert page.locator("svg.qr").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    totp = pyotp.TOTP(page.get_by_test_id("totp-secret").inner_text().replace(" ", ""))
    page.get_by_label("验证码").fill("000000")
    page.get_by_role("button", name="启用两步验证").click()
    assert "验证码不正确" in page.get_by_role("alert").inner_text()
    page.get_by_label("验证码").fill(totp.now())
    page.get_by_role("button", name="启用两步验证").click()
    assert len(page.get_by_test_id("recovery-codes").locator("li").all()) == 10
    page.get_by_role("button", name="退出").click()
    page.wait_for_url("**/login")

    page.get_by_label("用户名或手机号").fill("tfa-staff")
    page.get_by_label("密码").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/login/2fa")
    # The next step's code: the one used at enrolment may still be showing, and is spent.
    page.get_by_label("验证码或恢复码").fill(totp.at(datetime.now(UTC) + timedelta(seconds=30)))
    page.get_by_role("button", name="验证并登录").click()
    page.wait_for_url("**/home")
    assert "两步验证测试" in page.get_by_test_id("who").inner_text()
    assert page.viewport_size == PHONE
    page.close()
