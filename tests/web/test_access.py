"""Every route × every role: who may see and change what.

The table below is the access policy written out. The first test fails when a route is added
without a line here, so the policy never falls behind the code.
"""

from __future__ import annotations

import io

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy.orm import Session

from gonghui.core.auth import Role
from gonghui.members import accounts
from gonghui.members.models import Bank
from tests.conftest import NOW
from tests.web.routes import all_routes
from tests.world import PASSWORD, SETUP, World, csrf_of, login

ANYONE = "anyone"  # public, no login needed
R = Role
STAFF = {R.FEDERATION_STAFF, R.ADMIN}
ROLL_KEEPERS = {R.UNIT_OFFICER, *STAFF}
CARD_VIEWERS = {*ROLL_KEEPERS, R.BANK_OPERATOR}
IMPORTERS = CARD_VIEWERS
ALL_ROLES = set(Role)

POLICY: dict[tuple[str, str], set[Role] | str] = {
    ("GET", "/"): ANYONE,
    ("GET", "/login"): ANYONE,
    ("POST", "/login"): ANYONE,
    ("POST", "/logout"): ANYONE,
    ("GET", "/activate"): ANYONE,
    ("POST", "/activate"): ANYONE,
    ("GET", "/health"): ANYONE,
    ("GET", "/static"): ANYONE,
    ("GET", "/home"): ALL_ROLES,
    ("GET", "/me"): {R.MEMBER},
    ("GET", "/members"): ROLL_KEEPERS,
    ("GET", "/members/{member_id}"): ROLL_KEEPERS,
    ("POST", "/members/{member_id}/status"): ROLL_KEEPERS,
    ("GET", "/units"): ROLL_KEEPERS,
    ("GET", "/units/{unit_id}"): ROLL_KEEPERS,
    ("GET", "/cards"): CARD_VIEWERS,
    ("GET", "/imports"): IMPORTERS,
    ("POST", "/imports"): IMPORTERS,
    ("GET", "/imports/templates/{kind}.xlsx"): IMPORTERS,
    ("GET", "/exports/{kind}.xlsx"): IMPORTERS,
    ("GET", "/admin/users"): {R.ADMIN},
    ("POST", "/admin/users"): {R.ADMIN},
    ("GET", "/admin/tokens"): {R.ADMIN},
    ("POST", "/admin/tokens"): {R.ADMIN},
    ("POST", "/admin/tokens/{token_id}/revoke"): {R.ADMIN},
    ("GET", "/admin/audit"): {R.ADMIN},
    ("GET", "/api/v1/openapi.json"): ANYONE,
    ("GET", "/api/v1/health"): ANYONE,
    ("GET", "/api/v1/me"): ALL_ROLES,
    ("GET", "/api/v1/units"): ROLL_KEEPERS,
    ("GET", "/api/v1/units/{unit_id}"): ROLL_KEEPERS,
    ("GET", "/api/v1/members"): ROLL_KEEPERS,
    ("GET", "/api/v1/members/me"): {R.MEMBER},
    ("GET", "/api/v1/members/{member_id}"): ROLL_KEEPERS,
    ("POST", "/api/v1/members/{member_id}/status"): ROLL_KEEPERS,
    ("GET", "/api/v1/cards"): CARD_VIEWERS,
    ("POST", "/api/v1/imports"): IMPORTERS,
}


def test_the_policy_covers_every_route_that_exists(app: FastAPI) -> None:
    assert all_routes(app) == set(POLICY)


def _concrete(path: str, world: World, token_id: int) -> str:
    return (
        path.replace("{member_id}", str(world.member_a))
        .replace("{unit_id}", str(world.unit_a))
        .replace("{token_id}", str(token_id))
        .replace("{kind}", "cards")
        .replace("/static", "/static/app.css")
    )


def _refused(response: Response) -> bool:
    sent_to_login = response.status_code == 303 and response.headers["location"].startswith(
        "/login?next="
    )
    return response.status_code in {401, 403} or sent_to_login


def _request(client: TestClient, method: str, path: str, token: str) -> Response:
    if method == "GET":
        return client.get(path, follow_redirects=False)
    is_api = path.startswith("/api/")
    headers = {"X-CSRF-Token": token} if is_api else {}
    form = {} if is_api else {"csrf_token": token}
    if path.endswith("/imports"):
        # A file no template matches: allowed callers get a 422 listing the problem.
        files = {"file": ("x.csv", io.BytesIO("甲,乙\n1,2\n".encode()), "text/csv")}
        return client.post(path, data=form, files=files, headers=headers, follow_redirects=False)
    if path.endswith("/status"):
        body = {"status": "suspended", "reason": "测试"}
        if is_api:
            return client.post(path, json=body, headers=headers, follow_redirects=False)
        return client.post(path, data={**form, **body}, follow_redirects=False)
    if path == "/login":
        body = {"username": Role.ADMIN.value, "password": PASSWORD}
        return client.post(path, data={**form, **body}, follow_redirects=False)
    body = {
        "username": "newbie",
        "password": "long-enough-1",
        "role": "federation_staff",
        "bank_id": "1",
        "name": "推送",
    }
    return client.post(path, data={**form, **body}, headers=headers, follow_redirects=False)


@pytest.mark.parametrize(
    "role", [None, *Role], ids=lambda role: role.value if role else "anonymous"
)
def test_each_role_reaches_exactly_the_routes_the_policy_grants(
    app: FastAPI, db: Session, world: World, role: Role | None
) -> None:
    bank = db.get(Bank, world.bank_ytb)
    assert bank is not None
    _clear, token = accounts.issue_api_token(db, bank, "walk", actor=SETUP, now=NOW)
    db.commit()
    wrong: list[str] = []
    signed_in = _client_for(app, world, role)
    for (method, template), allowed in sorted(POLICY.items()):
        # Logging in or out changes the session: those two get a client of their own.
        fresh = template in {"/login", "/logout"}
        client = _client_for(app, world, role) if fresh else signed_in
        token_value = csrf_of(client, "/home" if role else "/login")
        response = _request(client, method, _concrete(template, world, token.id), token_value)
        granted = allowed == ANYONE or (role is not None and role in allowed)
        if granted and _refused(response):
            wrong.append(f"{method} {template}: refused ({response.status_code}), policy grants it")
        if not granted and not _refused(response):
            wrong.append(f"{method} {template}: answered {response.status_code}, policy refuses it")
    assert wrong == []


def _client_for(app: FastAPI, world: World, role: Role | None) -> TestClient:
    client = TestClient(app)
    if role is not None:
        login(client, world.users[role])
    return client
