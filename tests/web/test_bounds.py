"""Integers from outside are bounded: an id or page of 2⁶³ or more is a 422, never a 500
(the drivers raise OverflowError on a 64-bit column)."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from gonghui.core.auth import Role
from gonghui.members.api_moved import MOVED
from tests.web.test_access import ANYONE, POLICY
from tests.world import World, csrf_of, login

HUGE = str(2**63)
_ID = re.compile(r"\{\w+_id\}")


def _client(app: FastAPI, world: World, role: Role | None) -> TestClient:
    client = TestClient(app, raise_server_exceptions=False)
    if role is not None:
        login(client, world.users[role])
    return client


def _someone_allowed(allowed: set[Role] | str) -> Role | None:
    if allowed == ANYONE:
        return None
    assert isinstance(allowed, set)
    return min(allowed)


# The members API's old paths only redirect (308) to the new ones, which are walked here.
_MOVED = {f"/api/v1{old}" for old in MOVED}
ROUTES_WITH_IDS = sorted(key for key in POLICY if _ID.search(key[1]) and key[1] not in _MOVED)


@pytest.mark.parametrize(
    ("method", "template"), ROUTES_WITH_IDS, ids=[f"{m} {t}" for m, t in ROUTES_WITH_IDS]
)
def test_an_id_of_2_to_the_63_is_a_422_on_every_route(
    app: FastAPI, world: World, method: str, template: str
) -> None:
    client = _client(app, world, _someone_allowed(POLICY[(method, template)]))
    path = _ID.sub(HUGE, template)
    token = csrf_of(client, "/login")
    if method == "GET":
        response = client.get(path, follow_redirects=False)
    elif path.startswith("/api/"):
        response = client.post(path, json={}, headers={"X-CSRF-Token": token})
    else:
        response = client.post(path, data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 422, response.text[:300]


PAGED = [
    ("/api/v1/members/units", Role.FEDERATION_STAFF),
    ("/api/v1/members", Role.FEDERATION_STAFF),
    ("/api/v1/members/cards", Role.FEDERATION_STAFF),
    ("/api/v1/insurance/claims", Role.FEDERATION_STAFF),
    ("/api/v1/stations/positions", Role.FEDERATION_STAFF),
    ("/api/v1/wallet/insured", Role.INSURANCE_AGENCY),
    ("/members", Role.FEDERATION_STAFF),
    ("/units", Role.FEDERATION_STAFF),
    ("/cards", Role.FEDERATION_STAFF),
    ("/insurance/claims", Role.FEDERATION_STAFF),
    ("/stations", Role.FEDERATION_STAFF),
    ("/wallet/insured", Role.INSURANCE_AGENCY),
    ("/admin/audit", Role.AUDIT_ADMIN),
]


@pytest.mark.parametrize(("path", "role"), PAGED, ids=[path for path, _ in PAGED])
def test_a_page_of_2_to_the_63_is_a_422(app: FastAPI, world: World, path: str, role: Role) -> None:
    client = _client(app, world, role)
    assert client.get(path, params={"page": HUGE}).status_code == 422
    assert client.get(path, params={"page": "0"}).status_code == 422
    assert client.get(path, params={"page": "2"}).status_code == 200


def test_every_get_route_survives_a_huge_page(app: FastAPI, world: World) -> None:
    client = _client(app, world, Role.ADMIN)
    for method, template in POLICY:
        if method != "GET" or "{" in template or template == "/static":
            continue
        status = client.get(template, params={"page": HUGE}, follow_redirects=False).status_code
        # (/ready may say 503, not ready: that is an answer, not a crash.)
        assert status != 500, template


def test_a_transfer_to_a_huge_recipient_id_is_a_422(app: FastAPI, world: World) -> None:
    client = _client(app, world, Role.MEMBER)
    response = client.post(
        "/api/v1/wallet/transfers",
        json={"recipient_id": 2**63, "amount": "1", "method": "password", "secret": "x"},
        headers={"X-CSRF-Token": csrf_of(client, "/home"), "Idempotency-Key": "k"},
    )
    assert response.status_code == 422
