"""The federation's insurance figures by month: Beijing calendar months, and only those that
have ended (a payment made this month is not a month's figure until the month is over)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from gonghui.core.clock import FixedClock, business_date
from gonghui.core.storage import ContentStore
from gonghui.insurance import claims, figures
from gonghui.insurance.claims_rules import DocumentKind
from gonghui.insurance.models import Plan
from tests.captions import captions_of_charts
from tests.conftest import NOW
from tests.insurance.test_claims import ADJUSTER, attach_all, member_a, new_claim
from tests.stations.helpers import STAFF
from tests.world import World, login

# 00:30 on 1 March in Beijing: a payment of March, though it is still February in UTC.
PAID_AT = datetime(2025, 2, 28, 16, 30, tzinfo=UTC)
MID_MARCH = datetime(2025, 3, 15, 4, 0, tzinfo=UTC)  # 12:00 on 15 March in Beijing
APRIL_BEGUN = datetime(2025, 3, 31, 16, 0, 30, tzinfo=UTC)  # 00:00:30 on 1 April in Beijing


def _paid_claim(db: Session, world: World, plan: Plan, documents: ContentStore) -> int:
    claim = new_claim(db, world, plan)
    attach_all(db, claim, world, documents, kinds=tuple(DocumentKind))
    claims.submit_claim(db, claim, actor=member_a(world), now=NOW)
    claims.approve_claim(db, claim, actor=ADJUSTER, now=NOW)
    claims.record_payment(db, claim, "YTB20250301001", actor=ADJUSTER, now=PAID_AT)
    assert claim.approved_fen
    return claim.approved_fen


def _series(trend: figures.Trends) -> list[tuple[str, int, int, int]]:
    return list(
        zip(
            trend.months,
            trend.covered_by_month,
            trend.claims_by_month,
            trend.paid_by_month,
            strict=True,
        )
    )


def test_the_monthly_series_end_at_the_last_month_that_has_ended(
    db: Session, world: World, covered: Plan, documents: ContentStore
) -> None:
    paid = _paid_claim(db, world, covered, documents)
    # Covered from 1 February; on 10 February no month with a figure has ended yet.
    assert _series(figures.trends(db, STAFF, business_date(NOW))) == []
    # Mid-March: February is shown; March, with the payment, is not a month of its own yet,
    # nor is the payment counted in February, where UTC would have put it.
    assert _series(figures.trends(db, STAFF, business_date(MID_MARCH))) == [("2025-02", 1, 0, 0)]
    assert _series(figures.trends(db, STAFF, business_date(APRIL_BEGUN))) == [
        ("2025-02", 1, 0, 0),
        ("2025-03", 0, 1, paid),
    ]


def test_the_page_and_its_export_say_which_months_are_shown(
    app: FastAPI,
    client: TestClient,
    db: Session,
    world: World,
    covered: Plan,
    documents: ContentStore,
) -> None:
    _paid_claim(db, world, covered, documents)
    db.commit()
    app.state.clock = FixedClock(MID_MARCH)
    login(client, "federation_staff")
    captions = captions_of_charts(client.get("/insurance/dashboard").text)
    shown = "2025-02 至 2025-02 各整月（北京时间；2025-03 尚未结束，不计入）"
    assert captions == [
        f"来源：每月余额考核赠送的保障，按保障起始月 · {shown}",
        f"来源：理赔记录中已赔付的案件，按赔付月 · {shown}",
    ]
    app.state.clock = FixedClock(APRIL_BEGUN)
    page = client.get("/insurance/dashboard").text
    assert "2025-02 至 2025-03 各整月（北京时间；2025-04 尚未结束，不计入）" in page
