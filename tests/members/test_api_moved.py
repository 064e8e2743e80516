"""The members API moved under /api/v1/members; for one release its old paths answer 308 to the
new ones, so a client that follows redirects keeps working (method, body and token included)."""

from __future__ import annotations

import io
import tomllib
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from gonghui.members import accounts
from gonghui.members.api_moved import MOVED, REMOVED_IN
from gonghui.members.models import Bank
from tests.conftest import NOW
from tests.world import SECURITY_SETUP, World, csrf_of, login

OLD_AND_NEW = [
    ("GET", "/api/v1/units", "/api/v1/members/units"),
    ("GET", "/api/v1/units/7?q=x", "/api/v1/members/units/7?q=x"),
    ("GET", "/api/v1/cards?q=6223&page=2", "/api/v1/members/cards?q=6223&page=2"),
    ("POST", "/api/v1/imports", "/api/v1/members/imports"),
    ("GET", "/api/v1/banks", "/api/v1/members/banks"),
    ("POST", "/api/v1/banks", "/api/v1/members/banks"),
    ("POST", "/api/v1/banks/3", "/api/v1/members/banks/3"),
    ("POST", "/api/v1/banks/3/retire", "/api/v1/members/banks/3/retire"),
]


def test_the_table_below_names_every_moved_path() -> None:
    assert len(OLD_AND_NEW) == sum(len(methods) for methods in MOVED.values())


@pytest.mark.parametrize(("method", "old", "new"), OLD_AND_NEW)
def test_an_old_path_answers_308_to_its_new_path_with_the_query(
    client: TestClient, method: str, old: str, new: str
) -> None:
    answer = client.request(method, old, follow_redirects=False)
    assert answer.status_code == 308
    assert answer.headers["location"] == new


def test_a_post_to_an_old_path_arrives_with_its_body(client: TestClient, world: World) -> None:
    login(client, "federation_staff")
    created = client.post(
        "/api/v1/banks",
        json={"code": "WHB", "name": "威海银行", "prefixes": ["621777"]},
        headers={"X-CSRF-Token": csrf_of(client, "/home")},
    )
    assert created.status_code == 201, created.text
    assert created.url.path == "/api/v1/members/banks"
    assert created.json()["name"] == "威海银行"


def test_an_upload_to_the_old_import_path_is_imported(client: TestClient, world: World) -> None:
    login(client, "federation_staff")
    content = (
        "姓名,身份证号,手机号,统一社会信用代码,岗位类型,在职状态\n某人,1,1,1,生产操作岗,在职\n"
    )
    refused = client.post(
        "/api/v1/imports",
        headers={"X-CSRF-Token": csrf_of(client, "/home")},
        files={"file": ("m.csv", io.BytesIO(content.encode()), "text/csv")},
    )
    assert (refused.url.path, refused.status_code) == ("/api/v1/members/imports", 422)
    assert refused.json()["error"]["details"]


def test_a_bank_token_follows_the_old_cards_path(
    client: TestClient, db: Session, world: World
) -> None:
    bank = db.get(Bank, world.bank_ytb)
    assert bank is not None
    clear, _token = accounts.issue_api_token(db, bank, "旧地址", actor=SECURITY_SETUP, now=NOW)
    db.commit()
    cards = client.get("/api/v1/cards", headers={"Authorization": f"Bearer {clear}"})
    assert cards.url.path == "/api/v1/members/cards"
    assert [card["card_no"] for card in cards.json()["items"]] == [world.card_a]


def test_the_schema_shows_the_new_paths_only(client: TestClient) -> None:
    paths = set(client.get("/api/v1/openapi.json").json()["paths"])
    assert {"/api/v1/members/units", "/api/v1/members/cards", "/api/v1/members/banks"} <= paths
    assert paths.isdisjoint(f"/api/v1{old}" for old in MOVED)


def test_the_old_paths_are_gone_by_the_release_that_removes_them() -> None:
    pyproject = Path(__file__).parents[2] / "pyproject.toml"
    version = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["version"]
    released = tuple(int(part) for part in version.split(".")[:2])
    assert released < REMOVED_IN, "delete members/api_moved.py and its README lines"
