"""三权分立, staff passwords (rules, history, the initial one, expiry), the idle timeout for
staff sessions, and the sign-in events in the audit log."""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from gonghui.core.audit import AuditEntry
from gonghui.core.auth import Role
from gonghui.core.clock import machine_now
from gonghui.core.errors import Conflict, Forbidden, InvalidInput
from gonghui.members import accounts
from gonghui.members.models import PasswordHistory, User, UserSession
from tests.conftest import NOW
from tests.world import PASSWORD, SECURITY_SETUP, SETUP, csrf_of, login, post_form

STAFF = "federation_staff"


def _change(client: TestClient, current: str, new: str) -> object:
    return post_form(
        client,
        "/account/password",
        {"current_password": current, "new_password": new, "new_password_again": new},
    )


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("Short-1", "工作人员密码至少10位"),
        ("alllowercase-letters", "至少三类"),
        ("lowercase123456", "至少三类"),
    ],
)
def test_a_weak_staff_password_is_refused_on_the_form(
    client: TestClient, password: str, message: str
) -> None:
    login(client, STAFF)
    refused = _change(client, PASSWORD, password)
    assert refused.status_code == 422  # type: ignore[attr-defined]
    assert message in refused.text  # type: ignore[attr-defined]
    assert 'action="/account/password"' in refused.text  # type: ignore[attr-defined]


def test_a_member_keeps_the_shorter_rule(client: TestClient) -> None:
    login(client, "member")
    assert _change(client, PASSWORD, "plainword").status_code == 303  # type: ignore[attr-defined]


def test_none_of_the_last_five_passwords_comes_back(client: TestClient, db: Session) -> None:
    login(client, STAFF)
    chain = [PASSWORD, *(f"Rotation-{n}-pass" for n in range(1, 6))]
    for current, new in pairwise(chain):
        assert _change(client, current, new).status_code == 303  # type: ignore[attr-defined]
    # The last five (Rotation-1 … 5) are refused; the first one has dropped out of the window.
    refused = _change(client, chain[-1], "Rotation-2-pass")
    assert refused.status_code == 422  # type: ignore[attr-defined]
    assert "最近5次" in refused.text  # type: ignore[attr-defined]
    assert _change(client, chain[-1], PASSWORD).status_code == 303  # type: ignore[attr-defined]
    user_id = db.scalars(select(User.id).where(User.username == STAFF)).one()
    kept = db.scalars(select(PasswordHistory).where(PasswordHistory.user_id == user_id)).all()
    assert len(kept) == 7  # the first, five changes and the last


def test_an_account_an_administrator_opens_changes_its_password_first(
    client: TestClient, db: Session
) -> None:
    login(client, "admin")
    created = post_form(
        client,
        "/admin/users",
        {"username": "newclerk", "password": "Initial-pass-1", "role": "federation_staff"},
    )
    assert created.status_code == 303  # type: ignore[attr-defined]
    clerk = TestClient(client.app)
    login(clerk, "newclerk", "Initial-pass-1")
    sent = clerk.get("/members", follow_redirects=False)
    assert sent.headers["location"] == "/account/password"
    assert "请先修改初始密码" in clerk.get("/account/password").text
    assert _change(clerk, "Initial-pass-1", "Own-choice-22").status_code == 303  # type: ignore[attr-defined]
    assert clerk.get("/members").status_code == 200


def test_a_privileged_password_expires_and_a_members_does_not(
    client: TestClient, db: Session
) -> None:
    long_ago = machine_now() - timedelta(days=91)
    db.execute(update(User).values(password_changed_at=long_ago))
    db.commit()
    login(client, "insurer_adjuster")
    sent = client.get("/insurance/claims", follow_redirects=False)
    assert sent.headers["location"] == "/account/password"
    assert "密码已过期" in client.get("/account/password").text
    member = TestClient(client.app)
    login(member, "member")
    assert member.get("/home").status_code == 200


def test_a_staff_session_ends_after_thirty_idle_minutes(client: TestClient, db: Session) -> None:
    login(client, STAFF)
    member = TestClient(client.app)
    login(member, "member")
    db.execute(update(UserSession).values(last_seen_at=machine_now() - timedelta(minutes=31)))
    db.commit()
    sent = client.get("/home", follow_redirects=False)
    assert sent.headers["location"].startswith("/login")
    # Members are not staff: only the absolute lifetime applies to them.
    assert member.get("/home").status_code == 200


def test_a_request_keeps_a_staff_session_alive(client: TestClient, db: Session) -> None:
    login(client, STAFF)
    db.execute(update(UserSession).values(last_seen_at=machine_now() - timedelta(minutes=20)))
    db.commit()
    assert client.get("/home").status_code == 200
    db.expire_all()
    seen = db.scalars(select(UserSession.last_seen_at).where(UserSession.ended_at.is_(None)))
    assert all(moment and moment > machine_now() - timedelta(minutes=1) for moment in seen)


def test_only_the_security_administrator_opens_an_administrators_account(
    client: TestClient, db: Session
) -> None:
    with pytest.raises(Forbidden):
        accounts.create_user(
            db, username="a2", password="Strong-pass-1", role=Role.AUDIT_ADMIN,
            display_name="", actor=SETUP, now=NOW,
        )  # fmt: skip
    login(client, "security_admin")
    opened = post_form(
        client,
        "/admin/security/users",
        {"username": "auditor2", "password": "Strong-pass-1", "role": "audit_admin"},
    )
    assert opened.status_code == 303  # type: ignore[attr-defined]
    auditor = db.scalars(select(User).where(User.username == "auditor2")).one()
    assert auditor.role is Role.AUDIT_ADMIN
    assert auditor.must_change_password


def test_an_administrator_never_takes_a_second_duty(db: Session) -> None:
    admin = db.scalars(select(User).where(User.username == "admin")).one()
    with pytest.raises(InvalidInput, match="三权分立"):
        accounts.change_role(db, admin.id, Role.AUDIT_ADMIN, actor=SECURITY_SETUP, now=NOW)
    # Nor behind the service's back.
    with pytest.raises(DBAPIError, match="one duty"):
        db.execute(text("UPDATE users SET role = 'audit_admin' WHERE username = 'admin'"))


def test_the_security_administrator_moves_a_staff_account_to_another_role(
    client: TestClient, db: Session
) -> None:
    staff = TestClient(client.app)
    login(staff, STAFF)
    user = db.scalars(select(User).where(User.username == STAFF)).one()
    login(client, "security_admin")
    moved = post_form(client, f"/admin/security/users/{user.id}/role", {"role": "insurer_adjuster"})
    assert moved.status_code == 303  # type: ignore[attr-defined]
    db.expire_all()
    assert user.role is Role.INSURER_ADJUSTER
    # The old session ends: the new rights apply from the next sign-in.
    assert staff.get("/home", follow_redirects=False).status_code == 303
    entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "user.role_changed")).one()
    assert (entry.before, entry.after) == (
        {"role": "federation_staff"},
        {"role": "insurer_adjuster"},
    )


def test_password_history_cannot_be_rewritten(db: Session) -> None:
    with pytest.raises(DBAPIError, match="append-only"):
        db.execute(text("UPDATE password_history SET password_hash = 'x'"))


def test_sign_in_failures_and_sign_outs_are_audited(client: TestClient, db: Session) -> None:
    client.post(
        "/login",
        data={"username": STAFF, "password": "wrong", "csrf_token": csrf_of(client)},
    )
    login(client, STAFF)
    post_form(client, "/logout", {})
    user_id = db.scalars(select(User.id).where(User.username == STAFF)).one()
    rows = db.scalars(
        select(AuditEntry).where(AuditEntry.target_id == str(user_id)).order_by(AuditEntry.id)
    ).all()
    assert [row.action for row in rows][-3:] == [
        "auth.signin_failed",
        "auth.signed_in",
        "auth.signed_out",
    ]
    assert rows[-3].after == {"reason": "wrong_password", "client": "testclient"}


def test_a_username_is_a_login_name_and_unique_whatever_its_case_or_width(
    db: Session,
) -> None:
    # "Clerk" beside "clerk", "ｃｌｅｒｋ" (full-width) beside both, "cl erk" and "<b>clerk</b>"
    # were all opened as distinct accounts: names an audit trail or a colleague cannot tell
    # apart, or that no one types at the login.
    def open_account(username: str) -> User:
        return accounts.create_user(
            db, username=username, password="Strong-pass-1", role=Role.FEDERATION_STAFF,
            display_name="", actor=SETUP, now=NOW,
        )  # fmt: skip

    assert open_account("clerk").username == "clerk"
    assert open_account("ｃｌｅｒｋ２").username == "clerk2"
    for taken in ("Clerk", "CLERK2", "ｃｌｅｒｋ"):
        with pytest.raises(Conflict, match="已被使用"):
            open_account(taken)
    for unusable in ("cl erk", "<b>clerk</b>", "张三", "-clerk"):
        with pytest.raises(InvalidInput, match="用户名"):
            open_account(unusable)
