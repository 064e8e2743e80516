"""A request body past the platform's limit is refused as it arrives, in Chinese: a page's
form comes back with the message, the API answers its usual error; nothing is spooled first."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from gonghui.core.clock import FixedClock
from gonghui.core.settings import Settings
from gonghui.core.storage import ContentStore
from gonghui.insurance.store import BalanceStore
from gonghui.members.models import Bank
from gonghui.web import app as web_app
from tests.conftest import app_on
from tests.world import World, csrf_of, login

LIMIT = 4096  # bytes, for these tests; the platform's is the balance file's 200 MB and a MB


@pytest.fixture
def limited(
    monkeypatch: pytest.MonkeyPatch,
    settings: Settings,
    engine: Engine,
    sessions: sessionmaker[Session],
    clock: FixedClock,
    store: BalanceStore,
    documents: ContentStore,
) -> Iterator[TestClient]:
    monkeypatch.setattr(web_app, "MAX_REQUEST_BYTES", LIMIT)
    app = app_on(settings, engine, sessions, clock, store, documents)
    with TestClient(app) as client:
        yield client


def test_an_upload_past_the_limit_brings_its_form_back_with_the_message(
    limited: TestClient,
) -> None:
    login(limited, "federation_staff")
    too_big = io.BytesIO(b"x" * (2 * LIMIT))
    page = limited.post(
        "/imports",
        data={"csrf_token": csrf_of(limited, "/imports")},
        files={"file": ("会员.csv", too_big, "text/csv")},
        headers={"referer": "http://testserver/imports"},
    )
    assert page.status_code == 413, page.text[:3000]
    assert "提交的内容超过平台上限" in page.text
    assert 'role="alert"' in page.text
    assert 'action="/imports"' in page.text  # the form itself, not an error page


def test_the_api_refuses_a_body_past_the_limit_declared_or_sent_in_chunks(
    limited: TestClient, db: Session, world: World
) -> None:
    login(limited, "federation_staff")
    headers = {"X-CSRF-Token": csrf_of(limited, "/home"), "content-type": "application/json"}
    body = b'{"code": "WHB", "name": "' + b"x" * (2 * LIMIT) + b'", "prefixes": ["621777"]}'

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 1000):
            yield body[start : start + 1000]

    for sent in (body, chunks()):
        answer = limited.post("/api/v1/members/banks", content=sent, headers=headers)
        assert answer.status_code == 413
        assert answer.json()["error"]["code"] == "body_too_large"
        assert "提交的内容超过平台上限" in answer.json()["error"]["message"]
    assert db.scalar(select(func.count()).select_from(Bank).where(Bank.code == "WHB")) == 0
    within = limited.post(
        "/api/v1/members/banks",
        json={"code": "WHB", "name": "威海银行", "prefixes": ["621777"]},
        headers={"X-CSRF-Token": headers["X-CSRF-Token"]},
    )
    assert within.status_code == 201, within.text
