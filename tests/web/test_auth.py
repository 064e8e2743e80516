"""Logging in and out, throttling, CSRF, sessions, member self-activation."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from gonghui.core.auth import Role
from gonghui.members.models import User
from tests.world import PASSWORD, World, csrf_of, login, post_form

NAV_BY_ROLE = {
    Role.MEMBER: ["首页", "我的档案", "补充医保", "理赔", "退休测算", "医保钱包", "附近阵地"],
    Role.UNIT_OFFICER: ["首页", "理赔", "会员", "单位", "会员卡", "导入导出", "延迟退休影响"],
    Role.FEDERATION_STAFF: [
        "首页",
        "理赔",
        "会员",
        "单位",
        "会员卡",
        "导入导出",
        "保险计划",
        "余额文件",
        "余额考核",
        "医保数据",
        "服务阵地",
        "阵地考核",
        "阵地概览",
        "延迟退休影响",
        "合作银行",
        "系统设置",
    ],
    Role.BANK_OPERATOR: ["首页", "会员卡", "导入导出", "余额文件", "余额考核"],
    Role.INSURER_ADJUSTER: ["首页", "理赔", "余额考核", "医保数据"],
    Role.STATION_MANAGER: ["首页", "服务阵地", "阵地考核", "阵地概览"],
    Role.INSURANCE_AGENCY: ["首页", "钱包开通", "参保登记", "钱包监测", "统筹区清算"],
    Role.INSURED: ["首页", "医保钱包"],
    Role.ADMIN: [
        "首页",
        "理赔",
        "会员",
        "单位",
        "会员卡",
        "导入导出",
        "保险计划",
        "余额文件",
        "余额考核",
        "医保数据",
        "服务阵地",
        "阵地考核",
        "阵地概览",
        "延迟退休影响",
        "钱包开通",
        "参保登记",
        "钱包监测",
        "统筹区清算",
        "合作银行",
        "系统设置",
        "用户",
        "接口令牌",
        "审计日志",
        "任务",
    ],
}


def nav_labels(html: str) -> list[str]:
    nav = html.split('data-testid="nav"', 1)[1].split("</nav>", 1)[0]
    return re.findall(r">([^<>]+)</a>", nav)


@pytest.mark.parametrize("role", list(Role), ids=lambda role: role.value)
def test_each_persona_logs_in_and_sees_its_own_navigation(
    client: TestClient, world: World, role: Role
) -> None:
    login(client, world.users[role])
    home = client.get("/home")
    assert home.status_code == 200
    assert f"测试{role.label}" in home.text
    assert nav_labels(home.text) == NAV_BY_ROLE[role]


def test_the_session_cookie_is_signed_httponly_and_samesite(client: TestClient) -> None:
    cookie = client.get("/login").headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    client.cookies.set("gonghui_session", "forged.value.sig")
    assert client.get("/home", follow_redirects=False).headers["location"] == "/login?next=/home"


def test_a_wrong_password_is_refused_in_chinese(client: TestClient) -> None:
    response = client.post(
        "/login", data={"username": "admin", "password": "nope", "csrf_token": csrf_of(client)}
    )
    assert response.status_code == 401
    assert "用户名或密码错误" in response.text


def test_login_is_throttled_after_repeated_failures(client: TestClient) -> None:
    for _ in range(5):
        client.post(
            "/login", data={"username": "admin", "password": "x", "csrf_token": csrf_of(client)}
        )
    response = client.post(
        "/login", data={"username": "admin", "password": PASSWORD, "csrf_token": csrf_of(client)}
    )
    assert response.status_code == 429
    assert "登录失败次数过多" in response.text


def test_a_success_resets_the_failure_count(client: TestClient) -> None:
    for _ in range(4):
        client.post(
            "/login", data={"username": "admin", "password": "x", "csrf_token": csrf_of(client)}
        )
    login(client, "admin")
    client.cookies.clear()
    for _ in range(4):
        client.post(
            "/login", data={"username": "admin", "password": "x", "csrf_token": csrf_of(client)}
        )
    login(client, "admin")


def test_a_form_without_the_csrf_token_is_refused(client: TestClient) -> None:
    login(client, "admin")
    response = client.post("/admin/tokens", data={"bank_id": "1", "name": "x"})
    assert response.status_code == 403
    assert "CSRF" in response.text


def test_login_never_redirects_off_the_site(client: TestClient) -> None:
    response = client.post(
        "/login",
        data={
            "username": "admin",
            "password": PASSWORD,
            "next": "//evil.example/",
            "csrf_token": csrf_of(client),
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/home"


def test_logout_ends_the_session(client: TestClient) -> None:
    login(client, "admin")
    assert post_form(client, "/logout", {}).status_code == 303
    assert client.get("/home", follow_redirects=False).status_code == 303


def test_deactivating_a_user_ends_their_open_sessions(client: TestClient, db: Session) -> None:
    login(client, "federation_staff")
    user = db.scalars(select(User).where(User.username == "federation_staff")).one()
    user.session_version += 1
    db.commit()
    assert client.get("/home", follow_redirects=False).headers["location"] == "/login?next=/home"


def _activate(client: TestClient, **fields: str) -> object:
    form = {"password": "new-pass-123", "password_again": "new-pass-123", **fields}
    return client.post(
        "/activate",
        data={**form, "csrf_token": csrf_of(client, "/activate")},
        follow_redirects=False,
    )


def test_a_member_activates_with_name_id_and_phone_then_logs_in_by_phone(
    client: TestClient, world: World
) -> None:
    response = _activate(
        client, name="周秀英", id_number=world.member_b_id_number, phone="13900000002"
    )
    assert response.status_code == 303
    login(client, "13900000002", "new-pass-123")
    me = client.get("/me")
    assert "周秀英" in me.text
    assert world.member_b_id_number not in me.text, "a member sees their own ID masked"
    assert world.member_b_id_number[:6] + "********" + world.member_b_id_number[-4:] in me.text


@pytest.mark.parametrize(
    ("name", "phone"), [("周秀", "13900000002"), ("周秀英", "13900000003")], ids=["name", "phone"]
)
def test_activation_refuses_a_mismatch_without_saying_which_field(
    client: TestClient, world: World, name: str, phone: str
) -> None:
    response = _activate(client, name=name, id_number=world.member_b_id_number, phone=phone)
    assert response.status_code == 422
    assert "姓名、身份证号或手机号与会员名册不一致" in response.text


def test_a_member_cannot_activate_twice(client: TestClient, world: World) -> None:
    response = _activate(
        client, name="林建国", id_number=world.member_a_id_number, phone="13800000001"
    )
    assert response.status_code == 409
    assert "已开通账号" in response.text


def test_unknown_pages_answer_in_chinese(client: TestClient, app: FastAPI) -> None:
    assert "页面不存在" in client.get("/no/such/page").text
    api = client.get("/api/v1/no/such")
    assert api.status_code == 404
    assert api.json()["error"]["message"] == "页面不存在"
