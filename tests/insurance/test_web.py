"""The insurance pages through the web layer: what people see when something is wrong."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from fastapi import FastAPI
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gonghui.core.clock import FixedClock
from gonghui.insurance.models import BalanceImport, Claim, Plan
from gonghui.insurance.store import BalanceStore
from tests.captions import captions_of_charts
from tests.jobs.tasks import finished_task, run_tasks
from tests.world import World, csrf_of, login, post_form


def test_a_bad_balance_file_on_the_page_lists_every_line_and_stores_nothing(
    client: TestClient, db: Session, world: World, plan: Plan, store: BalanceStore
) -> None:
    login(client, "bank_operator")
    content = f"卡号,日期,日终余额\n{world.card_a},2025-01-01,1.005\n{world.card_b},2025-01-01,5\n"
    page = client.post(
        "/insurance/balances",
        data={"csrf_token": csrf_of(client, "/insurance/balances"), "bank_id": str(world.bank_ytb)},
        files={"file": ("ytb.csv", io.BytesIO(content.encode("gbk")), "text/csv")},
    )
    assert page.status_code == 422
    assert "第2行：日终余额最多两位小数：1.005" in page.text
    assert "第3行：卡号 6231680000000000022 不是本行（烟台银行）已登记的会员卡" in page.text
    assert db.scalar(select(func.count()).select_from(BalanceImport)) == 0
    assert not list(store.root.rglob("*.parquet"))


def test_a_bank_may_not_upload_for_another_bank(
    client: TestClient, world: World, plan: Plan
) -> None:
    login(client, "bank_operator")
    page = client.post(
        "/insurance/balances",
        data={"csrf_token": csrf_of(client, "/insurance/balances"), "bank_id": str(world.bank_qlb)},
        files={"file": ("q.csv", io.BytesIO(b"x"), "text/csv")},
    )
    assert page.status_code == 404


def test_staff_run_an_assessment_and_a_bad_period_is_explained(
    app: FastAPI, client: TestClient, world: World, covered: Plan
) -> None:
    login(client, "federation_staff")
    done = post_form(client, "/insurance/assessments", {"period": "2025-01"})
    assert done.status_code == 303  # type: ignore[attr-defined]
    task = finished_task(client, app, done)  # type: ignore[arg-type]
    assert task["summary"] == "2025-01 考核完成：2 张卡，达标 1"
    assert "2025-01" in client.get("/insurance/assessments").text
    refused = post_form(client, "/insurance/assessments", {"period": "2025/01"})
    assert refused.status_code == 422
    assert "应为 YYYY-MM" in refused.text


def test_a_bank_sees_its_own_pass_rates_and_not_the_federation_figures(
    app: FastAPI, client: TestClient, world: World, covered: Plan
) -> None:
    """Issue 13.5: the bank operator saw the federation-wide dashboard (payouts by unit)."""
    login(client, "federation_staff")
    post_form(client, "/insurance/assessments", {"period": "2025-01"})
    run_tasks(app)
    client.post("/logout", data={"csrf_token": csrf_of(client, "/home")})
    login(client, "bank_operator")
    assert client.get("/insurance/dashboard").status_code == 403
    assert client.get("/insurance/dashboard.xlsx").status_code == 403
    assert "医保数据" not in client.get("/home").text
    runs = client.get("/insurance/assessments").text
    # Its own card only (the other bank's card is not counted), and no other bank named; banks
    # by name, never by code (issue 14).
    assert "烟台银行 100.0%（1/1）" in runs
    assert "齐鲁银行" not in runs
    assert "YTB" not in runs
    assert '<td data-label="考核卡数">1</td>' in runs


def test_the_claim_form_explains_every_mistake_at_once(
    client: TestClient, db: Session, covered: Plan
) -> None:
    login(client, "member")
    page = post_form(
        client,
        "/insurance/claims",
        {
            "action": "create",
            "hospital": "",
            "admitted_on": "2025-02-30",
            "discharged_on": "2025-02-08",
            "diagnosis": "",
            "invoice_no": "",
            "total": "abc",
            "policy_self_pay": "",
            "card_id": "",
        },
    )
    assert page.status_code == 422
    for message in (
        "入院日期“2025-02-30”不存在",
        "医疗费用总额“abc”格式不正确",
        "请填写政策范围内个人自付",
        "请选择收款会员卡",
    ):
        assert message in page.text
    assert db.scalar(select(func.count()).select_from(Claim)) == 0


def test_a_member_sees_why_and_whether_they_are_covered(client: TestClient, covered: Plan) -> None:
    login(client, "member")
    page = client.get("/insurance/me").text
    assert "您2025年1月日均余额为¥3,000.00，已达到¥2,000.00" in page
    # 10 February: nine days have ended, each carrying January's closing ¥3,000; 28 × 2,000
    # needs 29,000 more yuan-days over the 19 days left, ¥1,526.32 a day (rounded up).
    assert (
        "本月截至2月9日日均余额为¥3,000.00；剩余19天每日余额保持¥1,526.32及以上，"
        "本月日均即可达到¥2,000.00"
    ) in page
    assert "本月已获赠补充住院医疗保险" in page
    assert "2025-02-01 至 2025-02-28" in page


def test_the_figures_export_to_a_workbook(app: FastAPI, client: TestClient, covered: Plan) -> None:
    # 09:00 on 1 March in Beijing: February, the month member A was covered from, has ended.
    app.state.clock = FixedClock(datetime(2025, 3, 1, 1, 0, tzinfo=UTC))
    login(client, "federation_staff")
    response = client.get("/insurance/dashboard.xlsx")
    rows = list(load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))
    assert rows[1][:2] == ("参保单位", 1)
    assert rows[2][:2] == ("累计赠送保险人次", 1)
    assert rows[7] == ("2025-02", 1, 0, 0)
    dashboard = client.get("/insurance/dashboard").text
    assert dashboard.count('<rect class="bar"') == 1  # February's one cover
    captions = captions_of_charts(dashboard)
    assert len(captions) == 2
    assert captions[1].startswith("来源：理赔记录中已赔付的案件")
    assert '<td data-label="银行">烟台银行</td>' in dashboard  # banks by name, not code


def test_a_unit_officer_files_a_claim_for_a_member_from_the_roll(
    client: TestClient, db: Session, world: World, covered: Plan
) -> None:
    login(client, "unit_officer")
    detail = client.get(f"/members/{world.member_a}").text
    assert f"/insurance/claims/new?member_id={world.member_a}" in detail
    form = client.get(f"/insurance/claims/new?member_id={world.member_a}")
    assert "申请理赔 · 林建国" in form.text
    card_id = form.text.split('name="card_id"><option value="', 1)[1].split('"', 1)[0]
    created = post_form(
        client,
        "/insurance/claims",
        {
            "action": "create",
            "member_id": str(world.member_a),
            "hospital": "烟台山医院",
            "admitted_on": "2025-02-02",
            "discharged_on": "2025-02-06",
            "diagnosis": "骨折",
            "invoice_no": "OFF-9",
            "total": "8000",
            "fund_paid": "5000",
            "policy_self_pay": "3000",
            "card_id": card_id,
        },
    )
    assert created.status_code == 303
    claim = db.scalars(select(Claim).where(Claim.invoice_no == "OFF-9")).one()
    assert (claim.member_id, claim.estimated_fen) == (world.member_a, 300_000)
    assert client.get(f"/members/{world.member_b}").status_code == 404
