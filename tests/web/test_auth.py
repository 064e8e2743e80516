"""Logging in and out, throttling, CSRF, sessions, member self-activation."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from gonghui.core.auth import Actor, Role
from gonghui.core.clock import FixedClock
from gonghui.core.pii import IdentityVault
from gonghui.core.settings import Environment, Settings
from gonghui.members import accounts, service
from gonghui.members.models import ActivationCode, LoginAttempt, Member, User, UserSession
from gonghui.members.queries import members_by_hash
from gonghui.members.rules import EmploymentStatus, PostType, parse_id_number
from gonghui.members.service import MemberRecord
from gonghui.web.app import create_app
from tests.conftest import NOW
from tests.world import PASSWORD, SETUP, World, csrf_of, login, make_id, post_form

NAV_BY_ROLE = {
    Role.MEMBER: [
        "首页",
        "我的档案",
        "我的数据",
        "消息",
        "补充医保",
        "理赔",
        "退休测算",
        "医保钱包",
        "附近阵地",
    ],
    Role.UNIT_OFFICER: [
        "首页",
        "理赔",
        "会员",
        "单位",
        "会员卡",
        "入会申请",
        "导入导出",
        "延迟退休影响",
    ],
    Role.FEDERATION_STAFF: [
        "首页",
        "理赔",
        "会员",
        "单位",
        "会员卡",
        "入会申请",
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
    Role.INSURED: ["首页", "我的数据", "医保钱包"],
    Role.ADMIN: [
        "首页",
        "理赔",
        "会员",
        "单位",
        "会员卡",
        "入会申请",
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
        "任务",
    ],
    # 三权分立: the security and audit administrators see their own pages and nothing else.
    Role.SECURITY_ADMIN: ["首页", "安全管理", "接口令牌"],
    Role.AUDIT_ADMIN: ["首页", "审计日志"],
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


def _signed_in(app: FastAPI, username: str, agent: str = "testclient") -> TestClient:
    client = TestClient(app, headers={"User-Agent": agent})
    login(client, username)
    return client


def test_a_cookie_replayed_after_logout_reads_nothing(app: FastAPI) -> None:
    """The outside test saved a cookie before logging out and kept reading /members with it."""
    client = _signed_in(app, "federation_staff")
    saved = client.cookies["gonghui_session"]
    token = csrf_of(client, "/home")
    assert post_form(client, "/logout", {}).status_code == 303

    replay = TestClient(app, cookies={"gonghui_session": saved})
    page = replay.get("/members", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=/members"
    assert replay.get("/api/v1/members").status_code == 401
    changed = replay.post(
        f"/api/v1/members/{1}/status",
        json={"status": "suspended", "reason": "x"},
        headers={"X-CSRF-Token": token},
    )
    assert changed.status_code == 401


def test_the_cookie_holds_a_random_id_the_server_keeps_only_hashed(
    app: FastAPI, db: Session
) -> None:
    client = _signed_in(app, "admin")
    cookie = client.cookies["gonghui_session"]
    payload = json.loads(base64.b64decode(cookie.split(".", 1)[0] + "=="))
    assert "uid" not in payload
    stored = db.scalars(select(UserSession)).all()
    assert len(stored) == 1
    assert stored[0].token_hash == hashlib.sha256(payload["sid"].encode()).hexdigest()
    assert payload["sid"] not in stored[0].token_hash


def test_a_user_lists_their_sessions_and_ends_another_one(app: FastAPI) -> None:
    phone = _signed_in(app, "federation_staff", "Phone-Browser")
    desk = _signed_in(app, "federation_staff", "Office-PC")
    page = desk.get("/account/sessions").text
    assert "Phone-Browser" in page
    assert "Office-PC" in page
    assert page.count("当前会话") == 1
    other = re.search(r'action="(/account/sessions/\d+/end)"', page)
    assert other is not None
    post_form(desk, other.group(1), {})
    assert phone.get("/home", follow_redirects=False).status_code == 303
    assert desk.get("/home").status_code == 200


def test_ending_all_other_sessions_keeps_this_one(app: FastAPI) -> None:
    others = [_signed_in(app, "insurer_adjuster") for _ in range(2)]
    here = _signed_in(app, "insurer_adjuster")
    post_form(here, "/account/sessions/end-others", {})
    assert [c.get("/home", follow_redirects=False).status_code for c in others] == [303, 303]
    assert here.get("/home").status_code == 200


def test_a_password_change_ends_every_other_session(app: FastAPI) -> None:
    elsewhere = _signed_in(app, "station_manager")
    here = _signed_in(app, "station_manager")
    wrong = post_form(
        here,
        "/account/password",
        {
            "current_password": "not-it",
            "new_password": "brand-new-pass-1",
            "new_password_again": "brand-new-pass-1",
        },
    )
    assert wrong.status_code == 422
    assert "当前密码不正确" in wrong.text
    assert elsewhere.get("/home").status_code == 200
    changed = post_form(
        here,
        "/account/password",
        {
            "current_password": PASSWORD,
            "new_password": "brand-new-pass-1",
            "new_password_again": "brand-new-pass-1",
        },
    )
    assert changed.status_code == 303
    assert elsewhere.get("/home", follow_redirects=False).status_code == 303
    assert here.get("/home").status_code == 200
    login(TestClient(app), "station_manager", "brand-new-pass-1")


def test_an_administrator_ends_a_users_sessions(app: FastAPI, db: Session) -> None:
    victim = _signed_in(app, "bank_operator")
    admin = _signed_in(app, "admin")
    user = db.scalars(select(User).where(User.username == "bank_operator")).one()
    assert post_form(admin, f"/admin/users/{user.id}/sessions/end", {}).status_code == 303
    assert victim.get("/home", follow_redirects=False).status_code == 303
    assert "已结束该用户的1个登录会话" in admin.get("/admin/users").text


def test_deactivating_a_user_ends_their_open_sessions(client: TestClient, db: Session) -> None:
    login(client, "federation_staff")
    user = db.scalars(select(User).where(User.username == "federation_staff")).one()
    user.session_version += 1
    db.commit()
    assert client.get("/home", follow_redirects=False).headers["location"] == "/login?next=/home"


def _activate(client: TestClient, **fields: str) -> Response:
    form = {"password": "new-pass-123", "password_again": "new-pass-123", **fields}
    return client.post(
        "/activate",
        data={**form, "csrf_token": csrf_of(client, "/activate")},
        follow_redirects=False,
    )


def _code_for(db: Session, member_id: int) -> str:
    """What the officer would hand over: issued through the service, as the page does."""
    member = db.get(Member, member_id)
    assert member is not None
    code = accounts.issue_member_activation_code(
        db, member, actor=SETUP, settings=Settings(environment=Environment.TEST), now=NOW
    )
    db.commit()
    return code


def _new_member_of_unit_a(db: Session, world: World, vault: IdentityVault) -> tuple[int, str]:
    id_number = make_id(birth="19900607", sequence="357")
    service.save_member(
        db,
        MemberRecord(
            "王新民",
            parse_id_number(id_number, today=NOW.date()),
            "13700000007",
            world.unit_a,
            PostType.PRODUCTION,
            EmploymentStatus.EMPLOYED,
        ),
        actor=SETUP,
        now=NOW,
        vault=vault,
    )
    db.commit()
    return members_by_hash(db, {vault.search_hash(id_number)})[vault.search_hash(id_number)].id, (
        id_number
    )


def test_the_officer_issues_a_code_once_and_the_member_activates_with_it(
    app: FastAPI, client: TestClient, db: Session, world: World, vault: IdentityVault
) -> None:
    member_id, id_number = _new_member_of_unit_a(db, world, vault)
    login(client, world.users[Role.UNIT_OFFICER])
    assert "尚未发放" in client.get(f"/members/{member_id}").text
    issued = post_form(client, f"/members/{member_id}/activation-code", {})
    assert issued.status_code == 200
    code = re.search(r'data-testid="activation-code">([^<]+)<', issued.text)
    assert code is not None
    assert app.state.sms.outbox[-1].phone == "13700000007"
    assert code.group(1) in app.state.sms.outbox[-1].text
    stored = db.scalars(select(ActivationCode)).one()
    assert code.group(1) not in stored.code_hash, "kept only as a hash"
    assert code.group(1) not in client.get(f"/members/{member_id}").text, "shown once"

    member = TestClient(app)
    response = _activate(
        member, name="王新民", id_number=id_number, phone="13700000007", code=code.group(1)
    )
    assert response.status_code == 303
    login(member, "13700000007", "new-pass-123")
    assert "王新民" in member.get("/me").text
    again = _activate(
        TestClient(app), name="王新民", id_number=id_number, phone="13700000007", code=code.group(1)
    )
    assert again.status_code == 422, "a code opens one account once"


def test_an_officer_cannot_issue_a_code_for_another_units_member(
    client: TestClient, world: World
) -> None:
    login(client, world.users[Role.UNIT_OFFICER])
    assert post_form(client, f"/members/{world.member_b}/activation-code", {}).status_code == 404


def test_name_id_and_phone_alone_no_longer_open_an_account(
    client: TestClient, world: World
) -> None:
    response = _activate(
        client, name="周秀英", id_number=world.member_b_id_number, phone="13900000002", code=""
    )
    assert response.status_code == 422
    assert "姓名、身份证号、手机号或激活码不正确" in response.text


@pytest.mark.parametrize(
    ("name", "phone", "code"),
    [
        ("周秀", "13900000002", None),
        ("周秀英", "13900000003", None),
        ("周秀英", "13900000002", "X"),
    ],
    ids=["name", "phone", "code"],
)
def test_activation_refuses_a_mismatch_without_saying_which_field(
    client: TestClient, db: Session, world: World, name: str, phone: str, code: str | None
) -> None:
    right = _code_for(db, world.member_b)
    response = _activate(
        client, name=name, id_number=world.member_b_id_number, phone=phone, code=code or right
    )
    assert response.status_code == 422
    assert "姓名、身份证号、手机号或激活码不正确" in response.text


def test_an_expired_code_is_refused(
    app: FastAPI, client: TestClient, db: Session, world: World
) -> None:
    code = _code_for(db, world.member_b)
    app.state.clock = FixedClock(NOW + timedelta(hours=73))
    response = _activate(
        client, name="周秀英", id_number=world.member_b_id_number, phone="13900000002", code=code
    )
    assert response.status_code == 422


def test_searching_id_numbers_for_one_person_is_stopped_within_a_few_tries(
    client: TestClient, db: Session, world: World
) -> None:
    """The outside test's attack: name and phone known, every plausible ID number tried."""
    _code_for(db, world.member_b)
    statuses = [
        _activate(
            client,
            name="周秀英",
            id_number=make_id(birth=f"197203{day:02d}", sequence="242"),
            phone="13900000002",
            code="AAAA-AAAA",
        ).status_code
        for day in range(1, 10)
    ]
    assert statuses[:5] == [422] * 5
    assert set(statuses[5:]) == {429}
    assert (
        "开通尝试次数过多"
        in _activate(
            client, name="周秀英", id_number=world.member_b_id_number, phone="13900000002", code="x"
        ).text
    )


def test_writing_the_phone_another_way_is_still_the_same_person(app: FastAPI, world: World) -> None:
    for attempt in range(5):
        _activate(
            TestClient(app, client=(f"198.51.100.{attempt}", 5000)),
            name="周秀英",
            id_number=make_id(birth=f"197203{attempt + 1:02d}", sequence="242"),
            phone="13900000002",
            code="AAAA-AAAA",
        )
    again = _activate(
        TestClient(app, client=("198.51.100.99", 5000)),
        name="周秀英",
        id_number=world.member_b_id_number,
        phone="+86 139-0000-0002",
        code="AAAA-AAAA",
    )
    assert again.status_code == 429


def test_logging_in_again_ends_the_earlier_session_of_that_browser(
    app: FastAPI, db: Session
) -> None:
    client = _signed_in(app, "admin")
    login(client, "admin")
    rows = db.scalars(select(UserSession).order_by(UserSession.id)).all()
    assert [row.ended_at is None for row in rows] == [False, True]


def test_one_client_trying_many_people_is_held_back(client: TestClient) -> None:
    statuses = [
        _activate(
            client,
            name="某人",
            id_number=make_id(birth=f"1980{month:02d}15", sequence="111"),
            phone=f"136000000{month:02d}",
            code="AAAA-AAAA",
        ).status_code
        for month in range(1, 23)
    ]
    assert statuses[:20] == [422] * 20
    assert statuses[20:] == [429, 429]


def test_wrong_codes_lock_the_persons_activation_and_tell_their_officer(
    app: FastAPI, db: Session, world: World
) -> None:
    code = _code_for(db, world.member_b)
    # From five addresses and phones: the lock is per person, whoever guesses.
    for attempt in range(5):
        guesser = TestClient(app, client=(f"198.51.100.{attempt}", 5000))
        wrong = _activate(
            guesser,
            name="周秀英",
            id_number=world.member_b_id_number,
            phone=f"1350000000{attempt}",
            code="AAAA-AAAA",
        )
        assert wrong.status_code == 422
    locked = _activate(
        TestClient(app),
        name="周秀英",
        id_number=world.member_b_id_number,
        phone="13900000002",
        code=code,
    )
    assert locked.status_code == 423
    assert "开通已锁定" in locked.text
    officer_b = Actor(
        user_id=None,
        username="o",
        role=Role.UNIT_OFFICER,
        display_name="o",
        unit_id=world.unit_b,
    )
    notices = accounts.work_notices_for(db, officer_b)
    assert [notice.title for notice in notices] == ["会员账号开通已锁定"]
    assert notices[0].link == f"/members/{world.member_b}"
    officer_a = Actor(
        user_id=None, username="o", role=Role.UNIT_OFFICER, display_name="o", unit_id=world.unit_a
    )
    assert accounts.work_notices_for(db, officer_a) == []

    fresh = _code_for(db, world.member_b)  # the officer checks and issues a new one
    opened = _activate(
        TestClient(app),
        name="周秀英",
        id_number=world.member_b_id_number,
        phone="13900000002",
        code=fresh.lower().replace("-", ""),
    )
    assert opened.status_code == 303


def test_the_officer_sees_the_lock_notice_on_their_home_page(
    app: FastAPI, client: TestClient, db: Session, world: World, vault: IdentityVault
) -> None:
    member_id, id_number = _new_member_of_unit_a(db, world, vault)
    _code_for(db, member_id)
    for attempt in range(5):
        _activate(
            TestClient(app, client=(f"198.51.100.{attempt}", 5000)),
            name="王新民",
            id_number=id_number,
            phone="13700000007",
            code="AAAA-AAAA",
        )
    login(client, world.users[Role.UNIT_OFFICER])
    notices = client.get("/home").text.split('data-testid="work-notices"', 1)[1]
    assert "王新民" in notices
    assert "激活码多次输错已锁定" in notices


def test_a_member_cannot_activate_twice(client: TestClient, db: Session, world: World) -> None:
    login(client, world.users[Role.UNIT_OFFICER])
    refused = post_form(client, f"/members/{world.member_a}/activation-code", {})
    assert refused.status_code == 409
    assert "已开通账号" in refused.text


def test_unknown_pages_answer_in_chinese(client: TestClient, app: FastAPI) -> None:
    assert "页面不存在" in client.get("/no/such/page").text
    api = client.get("/api/v1/no/such")
    assert api.status_code == 404
    assert api.json()["error"]["message"] == "页面不存在"


def _failing_logins_from(client: TestClient, count: int, forwarded: str = "") -> list[int]:
    statuses = []
    for n in range(count):
        headers = {"X-Forwarded-For": forwarded or f"203.0.113.{n}"}
        token = csrf_of(client)
        response = client.post(
            "/login",
            data={"username": f"nobody{n}", "password": "x", "csrf_token": token},
            headers=headers,
        )
        statuses.append(response.status_code)
    return statuses


def test_x_forwarded_for_from_an_untrusted_peer_does_not_dodge_the_address_throttle(
    app: FastAPI, db: Session
) -> None:
    """The outside test sat behind a local proxy and named a new address on every try."""
    client = TestClient(app, client=("127.0.0.1", 5000))
    statuses = _failing_logins_from(client, 21)
    assert statuses[-1] == 429
    clients = set(db.scalars(select(LoginAttempt.client)))
    assert clients == {"127.0.0.1"}


def _app_behind_proxy(app: FastAPI, settings: Settings, proxies: str) -> FastAPI:
    proxied = create_app(
        settings.model_copy(update={"trusted_proxies": proxies}),
        engine=app.state.engine,
        clock=app.state.clock,
    )
    proxied.state.session_factory = app.state.session_factory
    return proxied


def test_a_configured_proxy_reports_the_client_address(
    app: FastAPI, settings: Settings, db: Session
) -> None:
    proxied = _app_behind_proxy(app, settings, "10.0.0.0/8, 127.0.0.1")
    client = TestClient(proxied, client=("10.1.2.3", 5000))
    # The client wrote the first address itself; the proxies appended the rest.
    _failing_logins_from(client, 1, "192.0.2.66, 198.51.100.7, 10.9.9.9")
    assert set(db.scalars(select(LoginAttempt.client))) == {"198.51.100.7"}
    stranger = TestClient(proxied, client=("192.0.2.1", 5000))
    _failing_logins_from(stranger, 1, "198.51.100.8")
    assert "198.51.100.8" not in set(db.scalars(select(LoginAttempt.client)))


def test_bad_trusted_proxies_stop_the_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GONGHUI_TRUSTED_PROXIES", "10.0.0.0/8, not-an-address")
    with pytest.raises(ValueError, match="GONGHUI_TRUSTED_PROXIES"):
        Settings()
