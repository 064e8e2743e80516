"""The wallet through the API and the pages: idempotency keys, accepting, paying, the agency."""

from __future__ import annotations

import io
import re

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response
from openpyxl import load_workbook
from sqlalchemy import update
from sqlalchemy.orm import Session

from gonghui.core.auth import Role, hash_password
from gonghui.core.pii import IdentityVault
from gonghui.members.models import User
from tests.conftest import NOW
from tests.wallet.scenario import MOTHER_ID, Family, build_family, fund
from tests.world import PASSWORD, World, csrf_of, login, post_form


@pytest.fixture
def family(db: Session, world: World, vault: IdentityVault) -> Family:
    family = build_family(db, world, vault, NOW)
    fund(db, family, 300_000, NOW)
    db.execute(
        update(User).where(User.username == "mother").values(password_hash=hash_password(PASSWORD))
    )
    db.commit()
    return family


def _api_send(client: TestClient, family: Family, key: str, amount: str = "500") -> object:
    body = {
        "recipient_id": family.mother.id,
        "amount": amount,
        "method": "password",
        "secret": "135790",
    }
    headers = {"X-CSRF-Token": csrf_of(client, "/home"), "Idempotency-Key": key}
    return client.post("/api/v1/wallet/transfers", json=body, headers=headers)


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("1,0,0", "金额“1,0,0”格式不正确，应为如 2500 或 2,500.00 的金额"),
        ("1e3", "金额“1e3”格式不正确，应为如 2500 或 2,500.00 的金额"),
        ("1e30", "金额“1e30”格式不正确，应为如 2500 或 2,500.00 的金额"),
        ("NaN", "金额“NaN”格式不正确，应为如 2500 或 2,500.00 的金额"),
        ("9" * 31, "金额超出上限（最多 ¥10,000,000,000.00）"),
    ],
)
def test_the_api_refuses_amounts_it_would_misread_with_a_422_and_a_message(
    client: TestClient, world: World, family: Family, amount: str, message: str
) -> None:
    login(client, world.users[Role.MEMBER])
    answer = _api_send(client, family, f"bad-{amount[:8]}", amount=amount)
    assert answer.status_code == 422  # type: ignore[attr-defined]
    assert answer.json()["error"] == {"code": "bad_amount", "message": message}  # type: ignore[attr-defined]


def test_the_api_says_not_found_for_a_recipient_that_does_not_exist(
    client: TestClient, world: World, family: Family
) -> None:
    login(client, world.users[Role.MEMBER])
    headers = {"X-CSRF-Token": csrf_of(client, "/home"), "Idempotency-Key": "nobody"}
    body = {"recipient_id": 999_999, "amount": "100", "method": "password", "secret": "135790"}
    answer = client.post("/api/v1/wallet/transfers", json=body, headers=headers)
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"
    past_bigint = client.post(
        "/api/v1/wallet/transfers", json={**body, "recipient_id": 10**30}, headers=headers
    )
    assert past_bigint.status_code == 422


def test_the_api_applies_a_key_once_and_refuses_it_for_another_body(
    client: TestClient, world: World, family: Family
) -> None:
    login(client, world.users[Role.MEMBER])
    first = _api_send(client, family, "k-1")
    assert first.status_code == 200, first.text  # type: ignore[attr-defined]
    assert first.json()["amount"] == "500.00"  # type: ignore[attr-defined]
    again = _api_send(client, family, "k-1")
    assert again.json() == first.json()  # type: ignore[attr-defined]
    other = _api_send(client, family, "k-1", amount="501")
    assert other.status_code == 409  # type: ignore[attr-defined]
    assert other.json()["error"]["code"] == "idempotency_key_reused"  # type: ignore[attr-defined]
    me = client.get("/api/v1/wallet/me").json()
    assert (me["personal"], me["held"]) == ("2500.00", "500.00")
    headers = {"X-CSRF-Token": csrf_of(client, "/home")}
    missing = client.post("/api/v1/wallet/transfers", json={}, headers=headers)
    assert missing.status_code == 422


def test_the_relative_accepts_and_pays_on_the_page(
    client: TestClient, world: World, family: Family
) -> None:
    login(client, world.users[Role.MEMBER])
    assert _api_send(client, family, "k-2").status_code == 200  # type: ignore[attr-defined]
    client.post("/logout", data={"csrf_token": csrf_of(client, "/home")})
    login(client, "mother")
    page = client.get("/wallet").text
    assert "向您转入 ¥500.00" in page
    transfer_id = page.split('action="/wallet/transfers/', 1)[1].split("/", 1)[0]
    post_form(client, f"/wallet/transfers/{transfer_id}/accept", {"idempotency_key": "acc"})
    post_form(client, f"/wallet/transfers/{transfer_id}/accept", {"idempotency_key": "acc"})
    data = {"amount": "80", "purpose": "pharmacy", "payee": "成都大药房", "idempotency_key": "p1"}
    post_form(client, "/wallet/payments", data)
    post_form(client, "/wallet/payments", data)  # a double click: applied once
    page = client.get("/wallet").text
    assert 'data-testid="quota">¥420.00<' in page


def test_a_wrong_password_keeps_the_amount_and_says_how_many_tries_are_left(
    client: TestClient, world: World, family: Family
) -> None:
    login(client, world.users[Role.MEMBER])
    form = {
        "recipient_id": str(family.mother.id),
        "amount": "300",
        "method": "password",
        "password": "000000",
        "idempotency_key": "wrong-1",
    }
    refused = post_form(client, "/wallet/transfers", form)
    assert refused.headers["location"].startswith("/wallet?amount=300")  # type: ignore[attr-defined]
    page = client.get(refused.headers["location"]).text  # type: ignore[attr-defined]
    assert "医保码密码错误，还可再试4次（连续输错5次将锁定30分钟）" in page
    assert 'name="amount" inputmode="decimal" value="300"' in page
    again = post_form(client, "/wallet/transfers", {**form, "idempotency_key": "wrong-2"})
    assert "还可再试3次" in client.get(again.headers["location"]).text  # type: ignore[attr-defined]


def test_the_wallet_groups_the_usage_regions_and_puts_each_checkbox_beside_its_words(
    client: TestClient, world: World, family: Family
) -> None:
    login(client, "mother")
    page = client.get("/wallet").text
    usage = page.split('<select id="usage"', 1)[1].split("</select>", 1)[0]
    assert '<optgroup label="四川省">' in usage
    assert '<option value="510100" selected>成都市</option>' in usage  # her usage region
    assert usage.count("<optgroup") == 14
    assert "data-region-filter" in page  # narrowed by /static/wallet.js, shown by it
    assert '<script src="/static/wallet.js"></script>' in page
    client.cookies.clear()
    login(client, world.users[Role.MEMBER])
    page = client.get("/wallet").text
    assert 'name="confirm"' in page  # the confirmed relationship can be ended
    # A label lays its checkbox above its words unless it is a `check` label.
    checkboxes = re.findall(r'<label( class="check")?><input type="checkbox"', page)
    assert checkboxes
    assert all(checkboxes)
    assert page.count('type="checkbox"') == len(checkboxes)


def test_the_agency_sees_the_rollout_and_exports_the_settlement(
    client: TestClient, world: World
) -> None:
    login(client, world.users[Role.INSURANCE_AGENCY])
    page = client.get("/wallet/regions").text
    assert 'data-testid="opened">117<' in page
    assert 'data-testid="wide">6<' in page
    assert "<svg" in page
    workbook = client.get("/wallet/settlement.xlsx?month=2025-01")
    assert workbook.status_code == 200
    book = load_workbook(io.BytesIO(workbook.content))
    assert book.sheetnames == ["统筹区之间", "省之间"]
    for sheet in book.worksheets:
        assert sheet["A1"].value.startswith("2025年01月统筹区间清算 · 测试医保经办 导出于 ")
        assert [cell.value for cell in sheet[2]][:2] == ["使用地代码", "使用地"]


def test_relatives_are_declared_confirmed_and_dissolved_through_the_api(
    client: TestClient, db: Session, world: World, vault: IdentityVault
) -> None:
    family = build_family(db, world, vault, NOW, bind=False)
    fund(db, family, 100_000, NOW)
    db.execute(
        update(User).where(User.username == "mother").values(password_hash=hash_password(PASSWORD))
    )
    db.commit()
    login(client, world.users[Role.MEMBER])
    headers = {"X-CSRF-Token": csrf_of(client, "/home")}
    body = {"name": "王桂兰", "id_number": MOTHER_ID, "kinship": "parent", "commitment": False}
    unsigned = client.post("/api/v1/wallet/relatives", json=body, headers=headers)
    assert unsigned.status_code == 409, unsigned.text
    declared = client.post(
        "/api/v1/wallet/relatives", json={**body, "commitment": True}, headers=headers
    )
    assert declared.status_code == 201, declared.text
    assert declared.json()["status"] == "proposed"  # an adult confirms with her face
    assert declared.json()["direction"] == "give"
    relationship = declared.json()["relationship_id"]
    history = client.get("/api/v1/wallet/history").json()
    assert [(line["label"], line["amount"]) for line in history] == [("个人账户划入", "1000.00")]
    client.post("/logout", data={"csrf_token": csrf_of(client, "/home")})

    login(client, "mother")
    headers = {"X-CSRF-Token": csrf_of(client, "/home")}
    path = f"/api/v1/wallet/relatives/{relationship}"
    face = {"commitment": True, "face_sample": "not-her-face"}
    refused = client.post(path + "/confirm", json=face, headers=headers)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "verification_failed"
    confirmed = client.post(
        path + "/confirm", json={**face, "face_sample": "fake-face-pass"}, headers=headers
    )
    assert (confirmed.json()["status"], confirmed.json()["direction"]) == ("active", "receive")
    mine = client.get("/api/v1/wallet/relatives").json()
    assert [(r["name"], r["status"]) for r in mine] == [("林建国", "active")]
    ended = client.post(path + "/dissolve", json={"reason": "不再需要"}, headers=headers)
    assert ended.json() == {"relationship_id": relationship, "returned": "0.00"}
    again = client.post(path + "/dissolve", json={}, headers=headers)
    assert again.status_code == 409


def test_opening_a_region_refused_brings_the_form_back_at_the_foot_of_the_page(
    client: TestClient, world: World
) -> None:
    login(client, world.users[Role.INSURANCE_AGENCY])
    answer = post_form(
        client,
        "/wallet/regions",
        {"code": "110000", "opened_on": "", "form_page": "/wallet/regions"},
    )
    assert isinstance(answer, Response)
    assert answer.status_code == 422
    assert "<title>医保钱包开通情况" in answer.text
    form = answer.text.split('action="/wallet/regions"', 1)[1].split("</form>", 1)[0]
    assert 'role="alert">请填写开通日期</p>' in form
    assert '<option value="110000" selected>110000 北京市</option>' in form
