"""Requests are counted in `/metrics` under their route as a request reaches it: with the
prefix of the router it belongs to (`/api/v1`), and without a converter such as
`{member_id:int}`, which is how a route parses its parameter, not part of its name."""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.world import World, login


def _count(scraped: str, route: str) -> float:
    pattern = (
        rf'gonghui_request_seconds_count\{{method="GET",route="{re.escape(route)}",'
        r'status="200"\} ([0-9.e+]+)'
    )
    return sum(float(value) for value in re.findall(pattern, scraped))


def _scrape(client: TestClient) -> str:
    return client.get("/metrics").text


def test_a_request_to_a_route_with_a_converter_is_counted_without_it(
    app: FastAPI, world: World
) -> None:
    with TestClient(app, client=("127.0.0.1", 40000)) as local:
        login(local, "federation_staff")
        before = _scrape(local)
        assert local.get(f"/api/v1/members/{world.member_a}").status_code == 200
        after = _scrape(local)
    assert _count(after, "/api/v1/members/{member_id}") == (
        _count(before, "/api/v1/members/{member_id}") + 1
    )
    assert ":int}" not in after


def test_an_api_route_and_a_page_of_the_same_path_are_counted_apart(
    app: FastAPI, world: World
) -> None:
    with TestClient(app, client=("127.0.0.1", 40000)) as local:
        login(local, "federation_staff")
        before = _scrape(local)
        assert local.get("/api/v1/stations/dashboard").status_code == 200
        after = _scrape(local)
    api = "/api/v1/stations/dashboard"
    assert _count(after, api) == _count(before, api) + 1
    assert _count(after, "/stations/dashboard") == _count(before, "/stations/dashboard")
