"""The headers of every answer: HSTS in production, the security headers and no caching on
pages, JSON and even an unexpected error's 500, `Allow` on a 405."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine

from gonghui.core.settings import Environment, Settings
from gonghui.web.app import create_app
from tests.world import login


def _boom() -> None:
    msg = "an unexpected failure"
    raise RuntimeError(msg)


@pytest.fixture
def fragile(app: FastAPI) -> TestClient:
    app.add_api_route("/api/v1/boom", _boom)
    app.add_api_route("/boom", _boom)
    return TestClient(app, raise_server_exceptions=False)


def test_an_unexpected_error_under_api_is_json_with_the_security_headers(
    fragile: TestClient,
) -> None:
    response = fragile.get("/api/v1/boom")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]["code"] == "internal_error"
    assert response.headers["x-frame-options"] == "DENY"
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-store"
    assert "an unexpected failure" not in response.text


def test_an_unexpected_error_on_a_page_is_a_chinese_page_with_the_headers(
    fragile: TestClient,
) -> None:
    response = fragile.get("/boom")
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("text/html")
    assert "服务器内部错误" in response.text
    assert response.headers["x-content-type-options"] == "nosniff"


def test_pages_and_json_are_never_stored_but_static_files_may_be(client: TestClient) -> None:
    login(client, "unit_officer")
    assert client.get("/members").headers["cache-control"] == "no-store"
    assert client.get("/api/v1/members").headers["cache-control"] == "no-store"
    assert client.get("/exports/members.xlsx").headers["cache-control"] == "no-store"
    assert "no-store" not in client.get("/static/app.css").headers.get("cache-control", "")


def test_the_icon_browsers_ask_for_is_served_by_the_app(client: TestClient) -> None:
    page = client.get("/login").text
    assert '<link rel="icon" href="/static/icon.svg" type="image/svg+xml">' in page
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200
    assert icon.headers["content-type"].startswith("image/svg+xml")
    assert icon.text.startswith("<svg")


def test_a_405_says_which_methods_are_allowed(client: TestClient) -> None:
    page = client.put("/login")
    assert page.status_code == 405
    assert set(page.headers["allow"].replace(" ", "").split(",")) == {"GET", "POST"}
    api = client.delete("/api/v1/health")
    assert api.status_code == 405
    assert api.headers["allow"] == "GET"
    assert api.json()["error"]["code"] == "method_not_allowed"


def test_hsts_is_sent_in_production_only(
    app: FastAPI, client: TestClient, settings: Settings, engine: Engine
) -> None:
    assert "strict-transport-security" not in client.get("/login").headers
    production = settings.model_copy(
        update={
            "environment": Environment.PRODUCTION,
            "secret_key": SecretStr("s" * 40),
            "data_key": SecretStr("d" * 40),
            "cookie_secure": True,
        }
    )
    live = create_app(production, engine=engine)
    live.state.session_factory = app.state.session_factory
    answer = TestClient(live, base_url="https://testserver").get("/login")
    assert answer.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
