"""The page and the API refuse bank files and assessments with the same words as the service
(and `test_cli` shows the command line does too)."""

from __future__ import annotations

import html
import io

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gonghui.insurance.models import AssessmentRun, BalanceImport, Plan
from gonghui.insurance.store import BalanceStore
from tests.insurance import bank_rules
from tests.insurance.scenario import close_january, send_file
from tests.insurance.test_api import bank_token
from tests.jobs.tasks import finished_task
from tests.world import World, csrf_of, login, post_form


def _listed(page: str) -> list[str]:
    """The lines in the page's error box."""
    box = page.split('data-testid="import-errors"', 1)[1].split("</div>", 1)[0]
    return [html.unescape(item.split("</li>", 1)[0]) for item in box.split("<li>")[1:]]


def test_the_page_and_the_api_refuse_a_bank_file_line_for_line_alike(
    client: TestClient, db: Session, world: World, plan: Plan
) -> None:
    headers = bank_token(db, world.bank_ytb)
    answer = client.post(
        "/api/v1/insurance/balances",
        json={
            "rows": [
                {"card_no": card, "date": day, "balance": amount}
                for card, day, amount in bank_rules.rows(world.card_a)
            ]
        },
        headers=headers,
    )
    assert answer.status_code == 422
    assert answer.json()["error"]["message"] == bank_rules.HEADLINE
    assert answer.json()["error"]["details"] == bank_rules.expected()

    login(client, "bank_operator")
    content = bank_rules.csv_text(world.card_a).encode("gbk")
    page = client.post(
        "/insurance/balances",
        data={"csrf_token": csrf_of(client, "/insurance/balances"), "bank_id": str(world.bank_ytb)},
        files={"file": ("ytb.csv", io.BytesIO(content), "text/csv")},
    )
    assert page.status_code == 422
    assert bank_rules.HEADLINE in page.text
    assert _listed(page.text) == bank_rules.expected()
    assert db.scalar(select(func.count()).select_from(BalanceImport)) == 0


PERIOD_OPEN = "2025-02 尚未结束，期满后才能考核"
LATE_BANK = (
    "以下银行的余额文件尚未报送至 2025-01-31，暂不能考核 2025-01：齐鲁银行（已报送至 2025-01-20）"
)


def test_the_page_and_the_api_refuse_an_unfinished_or_unreported_month_alike(
    client: TestClient, db: Session, world: World, store: BalanceStore, plan: Plan
) -> None:
    send_file(db, store, world.bank_ytb, [f"{world.card_a},2025-01-31,3000.00"])
    send_file(db, store, world.bank_qlb, [f"{world.card_b},2025-01-20,3000.00"])
    db.commit()
    login(client, "federation_staff")
    token = {"X-CSRF-Token": csrf_of(client, "/home")}
    for period, code, message in (
        ("2025-02", "period_open", PERIOD_OPEN),
        ("2025-01", "balances_incomplete", LATE_BANK),
    ):
        answer = client.post(
            "/api/v1/insurance/assessments", json={"period": period}, headers=token
        )
        assert answer.status_code == 422
        assert answer.json()["error"] == {"code": code, "message": message}
        page = post_form(client, "/insurance/assessments", {"period": period})
        assert page.status_code == 422  # type: ignore[attr-defined]
        assert message in page.text  # type: ignore[attr-defined]
        assert f'value="{period}"' in page.text  # type: ignore[attr-defined]
    assert db.scalar(select(func.count()).select_from(AssessmentRun)) == 0


def test_the_operator_ticks_the_override_and_the_page_says_which_bank_was_late(
    app: FastAPI, client: TestClient, db: Session, world: World, store: BalanceStore, plan: Plan
) -> None:
    send_file(db, store, world.bank_ytb, [f"{world.card_a},2025-01-31,3000.00"])
    db.commit()
    login(client, "federation_staff")
    page = post_form(
        client, "/insurance/assessments", {"period": "2025-01", "allow_missing_banks": "1"}
    )
    task = finished_task(client, app, page)  # type: ignore[arg-type]
    assert "QLB 的余额未报送至期末" in task["summary"]
    listing = client.get("/insurance/assessments").text
    # Run at NOW, 01:00 UTC: the page reads Beijing time.
    assert "1 次，最近 2025-02-10 09:00" in listing
    token = {"X-CSRF-Token": csrf_of(client, "/home")}
    answer = client.post(
        "/api/v1/insurance/assessments",
        json={"period": "2025-01", "allow_missing_banks": True},
        headers=token,
    )
    assert answer.status_code == 202
    assert "QLB 的余额未报送至期末" in finished_task(client, app, answer)["summary"]


def test_a_reported_finished_month_is_assessed_through_the_api(
    app: FastAPI, client: TestClient, db: Session, world: World, store: BalanceStore, plan: Plan
) -> None:
    send_file(db, store, world.bank_ytb, [f"{world.card_a},2024-12-31,3000.00"])
    close_january(db, world, store, a="3000.00")
    db.commit()
    login(client, "federation_staff")
    answer = client.post(
        "/api/v1/insurance/assessments",
        json={"period": "2025-01"},
        headers={"X-CSRF-Token": csrf_of(client, "/home")},
    )
    assert answer.status_code == 202
    assert answer.headers["location"] == answer.json()["url"]
    assert answer.json()["status"] == "queued"
    task = finished_task(client, app, answer)
    assert (task["status"], task["percent"]) == ("succeeded", 100)
    assert task["summary"] == "2025-01 考核完成：2 张卡，达标 1"
    assert task["result_url"] == "/insurance/assessments"
    assert db.scalars(select(AssessmentRun.eligible)).one() == 1
