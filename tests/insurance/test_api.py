"""The insurance API: banks push balances with their token; trial calculation; standings."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gonghui.insurance.models import BalanceImport, Plan
from gonghui.members import accounts
from gonghui.members.models import Bank
from tests.conftest import NOW
from tests.world import SECURITY_SETUP, World, csrf_of, login


def bank_token(db: Session, bank_id: int) -> dict[str, str]:
    bank = db.get(Bank, bank_id)
    assert bank is not None
    clear, _token = accounts.issue_api_token(db, bank, "余额推送", actor=SECURITY_SETUP, now=NOW)
    db.commit()
    return {"Authorization": f"Bearer {clear}"}


def test_a_bank_pushes_a_batch_and_the_same_batch_again_changes_nothing(
    client: TestClient, db: Session, world: World, plan: Plan
) -> None:
    headers = bank_token(db, world.bank_ytb)
    batch = {
        "rows": [
            {"card_no": world.card_a, "date": "2025-01-0" + str(d), "balance": "2100"}
            for d in range(1, 4)
        ]
    }
    first = client.post("/api/v1/insurance/balances", json=batch, headers=headers)
    assert first.json() == {
        "rows": 3,
        "new_rows": 3,
        "already_known": False,
        "summary": first.json()["summary"],
    }
    again = client.post("/api/v1/insurance/balances", json=batch, headers=headers)
    assert (again.json()["new_rows"], again.json()["already_known"]) == (0, True)
    assert db.scalar(select(func.count()).select_from(BalanceImport)) == 1


def test_a_bad_batch_is_refused_with_every_row_and_nothing_stored(
    client: TestClient, db: Session, world: World, plan: Plan
) -> None:
    headers = bank_token(db, world.bank_ytb)
    batch = {
        "rows": [
            {"card_no": world.card_a, "date": "2025-01-01", "balance": "100"},
            {"card_no": world.card_b, "date": "2025-01-01", "balance": "100"},
            {"card_no": world.card_a, "date": "20250132", "balance": "100"},
            {"card_no": world.card_a, "date": "2025-01-02", "balance": "-1"},
        ]
    }
    refused = client.post("/api/v1/insurance/balances", json=batch, headers=headers)
    assert refused.status_code == 422
    assert refused.json()["error"]["details"] == [
        "第3行：卡号 6231680000000000022 不是本行（烟台银行）已登记的会员卡",
        "第4行：日期“20250132”不存在",
        "第5行：日终余额不能为负数：-1",
    ]
    assert db.scalar(select(func.count()).select_from(BalanceImport)) == 0


def test_staff_name_the_bank_of_a_batch(client: TestClient, world: World, plan: Plan) -> None:
    login(client, "federation_staff")
    headers = {"X-CSRF-Token": csrf_of(client, "/home")}
    batch = {"rows": [{"card_no": world.card_b, "date": "2025-01-01", "balance": "1"}]}
    assert client.post("/api/v1/insurance/balances", json=batch, headers=headers).status_code == 422
    named = client.post(
        "/api/v1/insurance/balances", json={**batch, "bank_code": "QLB"}, headers=headers
    )
    assert named.json()["new_rows"] == 1


def test_a_member_tries_the_calculation_for_their_own_card_only(
    client: TestClient, world: World, covered: Plan
) -> None:
    login(client, "member")
    headers = {"X-CSRF-Token": csrf_of(client, "/home")}
    mine = client.post(
        "/api/v1/insurance/estimate",
        json={"card_no": world.card_a, "admission": "2025-02-03", "eligible_amount": "12345.67"},
        headers=headers,
    )
    assert mine.json() == {
        "payable": "12345.67",
        "remaining_before": "50000.00",
        "remaining_after": "37654.33",
        "covered": True,
        "not_covered_reason": None,
    }
    # Issue 13.3: no promise for a stay that no cover includes, and the reason why.
    uncovered = client.post(
        "/api/v1/insurance/estimate",
        json={"card_no": world.card_a, "admission": "2025-01-30", "eligible_amount": "2500"},
        headers=headers,
    ).json()
    assert (uncovered["covered"], uncovered["payable"]) == (False, "0.00")
    assert "入院日期 2025-01-30 不在您的补充医保保障期内" in uncovered["not_covered_reason"]
    theirs = client.post(
        "/api/v1/insurance/estimate",
        json={"card_no": world.card_b, "admission": "2025-02-03", "eligible_amount": "1"},
        headers=headers,
    )
    assert theirs.status_code == 404


def test_a_card_standing_in_numbers_and_words(
    client: TestClient, db: Session, world: World, covered: Plan
) -> None:
    headers = bank_token(db, world.bank_ytb)
    standing = client.get(
        f"/api/v1/insurance/cards/{world.card_a}/standing?period=2025-01", headers=headers
    ).json()
    assert standing == {
        "card_no": world.card_a,
        "period": "2025-01",
        "average_daily_balance": "3000.00",
        "days": 31,
        "eligible": True,
        "explanation": "您2025年1月日均余额为¥3,000.00，已达到¥2,000.00",
    }
    other_bank = client.get(
        f"/api/v1/insurance/cards/{world.card_b}/standing?period=2025-01", headers=headers
    )
    assert other_bank.status_code == 404
    bad = client.get(
        f"/api/v1/insurance/cards/{world.card_a}/standing?period=2025-1", headers=headers
    )
    assert bad.json()["error"]["code"] == "bad_period"


def test_the_four_figures_for_staff_not_for_members(client: TestClient, covered: Plan) -> None:
    login(client, "federation_staff")
    assert client.get("/api/v1/insurance/figures").json() == {
        "participating_units": 1,
        "person_times": 1,
        "claims_concluded": 0,
        "paid": "0.00",
    }
    client.cookies.clear()
    login(client, "member")
    assert client.get("/api/v1/insurance/figures").status_code == 403
