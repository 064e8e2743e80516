"""Two-factor sign-in (TOTP): enrolment, the second step, replay, throttling, recovery codes,
the production requirement and the security administrator's reset."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pyotp
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from gonghui.core.audit import AuditEntry
from gonghui.core.pii import IdentityVault
from gonghui.core.settings import Settings
from gonghui.members.models import User, UserSession
from gonghui.web.app import create_app
from tests.world import PASSWORD, World, csrf_of, login, post_form

STAFF = "federation_staff"


def _next_code(secret: str) -> str:
    # The code of the next time step: accepted (one step of drift), and never the one the
    # enrolment just used, whatever the second.
    return pyotp.TOTP(secret).at(datetime.now(UTC) + timedelta(seconds=30))


def _enrol(client: TestClient, username: str = STAFF) -> tuple[str, list[str]]:
    login(client, username)
    assert post_form(client, "/account/2fa/start", {}).status_code == 303
    page = client.get("/account/2fa").text
    assert "<svg" in page
    found = re.search(r'data-testid="totp-secret">([A-Z2-7 ]+)<', page)
    assert found
    secret = found.group(1).replace(" ", "")
    confirmed = post_form(client, "/account/2fa/confirm", {"code": pyotp.TOTP(secret).now()})
    assert confirmed.status_code == 200, confirmed.text  # type: ignore[attr-defined]
    codes = re.findall(r"<li><code>([A-Z2-9-]+)</code></li>", confirmed.text)  # type: ignore[attr-defined]
    return secret, codes


def _password_step(client: TestClient, username: str = STAFF) -> None:
    client.cookies.clear()
    response = client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf_token": csrf_of(client)},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/login/2fa"


def _second_step(client: TestClient, code: str) -> object:
    token = csrf_of(client, "/login/2fa")
    return client.post(
        "/login/2fa", data={"code": code, "csrf_token": token}, follow_redirects=False
    )


def test_enrolment_keeps_the_secret_encrypted_and_hands_out_ten_recovery_codes(
    client: TestClient, db: Session, vault: IdentityVault
) -> None:
    secret, codes = _enrol(client)
    assert len(codes) == 10
    assert len(set(codes)) == 10
    user = db.scalars(select(User).where(User.username == STAFF)).one()
    assert user.totp_enabled_at is not None
    assert user.totp_secret is not None
    assert secret not in user.totp_secret
    assert vault.decrypt(user.totp_secret) == secret
    # Shown once: the page does not show them again.
    assert codes[0] not in client.get("/account/2fa").text


def test_a_wrong_code_at_enrolment_comes_back_on_the_same_form(client: TestClient) -> None:
    login(client, STAFF)
    post_form(client, "/account/2fa/start", {})
    refused = post_form(client, "/account/2fa/confirm", {"code": "12345"})
    assert refused.status_code == 422  # type: ignore[attr-defined]
    assert "验证码不正确" in refused.text  # type: ignore[attr-defined]
    assert 'data-testid="totp-secret"' in refused.text  # type: ignore[attr-defined]


def test_an_enrolled_user_signs_in_with_a_code_and_not_without(
    client: TestClient, db: Session
) -> None:
    secret, _codes = _enrol(client)
    _password_step(client)
    # Half signed in: nothing opens yet.
    assert client.get("/home", follow_redirects=False).headers["location"].startswith("/login")
    wrong = _second_step(client, "000000")
    assert wrong.status_code == 422  # type: ignore[attr-defined]
    assert "验证码不正确" in wrong.text  # type: ignore[attr-defined]
    right = _second_step(client, _next_code(secret))
    assert right.status_code == 303  # type: ignore[attr-defined]
    assert client.get("/home").status_code == 200
    actions = db.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions[-3:] == ["auth.2fa_enabled", "auth.2fa_failed", "auth.signed_in"]
    signed_in = db.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)).one()
    assert signed_in.after == {"client": "testclient", "second_factor": "totp"}


def test_a_code_accepted_once_is_refused_the_second_time(client: TestClient) -> None:
    secret, _codes = _enrol(client)
    code = _next_code(secret)
    _password_step(client)
    assert _second_step(client, code).status_code == 303  # type: ignore[attr-defined]
    _password_step(client)
    replayed = _second_step(client, code)
    assert replayed.status_code == 422  # type: ignore[attr-defined]
    assert "已使用过" in replayed.text  # type: ignore[attr-defined]


def test_wrong_codes_are_throttled_even_once_the_right_one_comes(client: TestClient) -> None:
    secret, _codes = _enrol(client)
    _password_step(client)
    for _ in range(5):
        assert _second_step(client, "000000").status_code == 422  # type: ignore[attr-defined]
    # A right password again does not wipe the count of wrong codes.
    _password_step(client)
    throttled = _second_step(client, _next_code(secret))
    assert throttled.status_code == 429  # type: ignore[attr-defined]
    assert "验证码错误次数过多" in throttled.text  # type: ignore[attr-defined]


def test_a_recovery_code_stands_in_for_the_phone_once(client: TestClient) -> None:
    _secret, codes = _enrol(client)
    _password_step(client)
    assert _second_step(client, codes[3].lower()).status_code == 303  # type: ignore[attr-defined]
    assert "剩余恢复码 9 个" in client.get("/account/2fa").text
    _password_step(client)
    assert _second_step(client, codes[3]).status_code == 422  # type: ignore[attr-defined]


def _requiring_app(app: FastAPI, settings: Settings) -> FastAPI:
    strict = create_app(
        settings.model_copy(update={"require_2fa": True}),
        engine=app.state.engine,
        clock=app.state.clock,
    )
    strict.state.session_factory = app.state.session_factory
    return strict


def test_where_required_a_privileged_user_enrols_before_anything_else(
    app: FastAPI, settings: Settings, world: World
) -> None:
    client = TestClient(_requiring_app(app, settings))
    login(client, world.users[next(r for r in world.users if r.value == "insurer_adjuster")])
    sent = client.get("/insurance/claims", follow_redirects=False)
    assert sent.status_code == 303
    assert sent.headers["location"] == "/account/2fa"
    assert "必须启用两步验证" in client.get("/account/2fa").text
    api = client.get("/api/v1/me")
    assert api.status_code == 403
    assert api.json()["error"]["code"] == "enrol_second_factor_required"
    # A member is not asked.
    member = TestClient(client.app)
    login(member, "member")
    assert member.get("/home").status_code == 200


def test_the_security_administrator_resets_a_lost_second_factor(
    client: TestClient, db: Session
) -> None:
    _enrol(client)
    staff = db.scalars(select(User).where(User.username == STAFF)).one()
    admin = TestClient(client.app)
    login(admin, "security_admin")
    page = admin.get("/admin/security").text
    assert "已启用" in page
    response = post_form(admin, f"/admin/security/users/{staff.id}/2fa/reset", {})
    assert response.status_code == 303  # type: ignore[attr-defined]
    db.expire_all()
    assert staff.totp_enabled_at is None
    assert staff.totp_secret is None
    # The staff member's browser is signed out, and the next login needs no code.
    assert client.get("/home", follow_redirects=False).status_code == 303
    open_sessions = db.scalars(
        select(UserSession).where(UserSession.user_id == staff.id, UserSession.ended_at.is_(None))
    ).all()
    assert open_sessions == []
    login(client, STAFF)
    assert client.get("/home").status_code == 200
    assert "auth.2fa_reset" in db.scalars(select(AuditEntry.action)).all()


def test_a_security_administrator_cannot_reset_their_own(client: TestClient, db: Session) -> None:
    _enrol(client, "security_admin")
    me = db.scalars(select(User).where(User.username == "security_admin")).one()
    refused = post_form(client, f"/admin/security/users/{me.id}/2fa/reset", {})
    assert refused.status_code == 422  # type: ignore[attr-defined]
    assert "不能重置自己的两步验证" in refused.text  # type: ignore[attr-defined]
