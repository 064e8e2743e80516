"""The agency's monitoring page and the settlement between regions: the flows of a day or a
month are shown once it has ended (Beijing time), never a day or month still running."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from gonghui.core.auth import Actor, Role
from gonghui.core.clock import FixedClock
from gonghui.core.errors import InvalidInput
from gonghui.core.pii import IdentityVault
from gonghui.wallet import queries, spending, transfers
from gonghui.wallet.rules import Purpose
from tests.conftest import NOW
from tests.wallet.scenario import FACE, Family, build_family, fund, verifier
from tests.world import World, login

Y = 100  # fen per yuan
AGENCY = Actor(user_id=None, username="agency", role=Role.INSURANCE_AGENCY, display_name="经办")
# The regions opened on 10 February (NOW); the page is read at 09:00 on 1 March in Beijing.
VIEWED = datetime(2025, 3, 1, 1, 0, tzinfo=UTC)
YESTERDAY_EVENING = datetime(2025, 2, 28, 13, 0, tzinfo=UTC)  # 21:00 on 28 February there
THIS_MORNING = datetime(2025, 2, 28, 23, 30, tzinfo=UTC)  # 07:30 on 1 March there
EARLIER = datetime(2025, 2, 20, 4, 0, tzinfo=UTC)


@pytest.fixture
def family(db: Session, world: World, vault: IdentityVault) -> Family:
    family = build_family(db, world, vault, NOW)
    fund(db, family, 5_000 * Y, NOW)
    return family


def _give(db: Session, family: Family, fen: int, key: str, at: datetime) -> None:
    sent = transfers.submit_transfer(
        db, actor=family.giver_actor, recipient_id=family.mother.id, amount_fen=fen, proof=FACE,
        verifier=verifier(), idempotency_key=key, now=at,
    )  # fmt: skip
    transfers.accept_transfer(
        db, int(sent["transfer_id"]), actor=family.mother_actor, idempotency_key=f"{key}-a", now=at
    )


def _pay(db: Session, family: Family, fen: int, key: str, at: datetime) -> None:
    spending.pay_from_wallet(
        db, actor=family.mother_actor, amount_fen=fen, purpose=Purpose.PHARMACY,
        payee="成都大药房", idempotency_key=key, now=at,
    )  # fmt: skip


def test_the_day_and_month_figures_are_of_the_last_that_have_ended(
    db: Session, family: Family
) -> None:
    _give(db, family, 1_000 * Y, "earlier", EARLIER)
    _pay(db, family, 100 * Y, "pay-earlier", EARLIER)
    _give(db, family, 300 * Y, "yesterday", YESTERDAY_EVENING)
    _give(db, family, 200 * Y, "today", THIS_MORNING)
    _pay(db, family, 50 * Y, "pay-today", THIS_MORNING)
    seen = queries.monitoring(db, AGENCY, VIEWED)
    assert (seen.day.isoformat(), seen.accepted_on_day, seen.accepted_on_day_fen) == (
        "2025-02-28",
        1,
        300 * Y,
    )
    assert (seen.month.isoformat(), seen.paid_in_month_fen) == ("2025-02-01", 100 * Y)


def test_the_page_names_the_day_and_the_month_it_shows(
    app: FastAPI, client: TestClient, db: Session, world: World, family: Family
) -> None:
    _give(db, family, 300 * Y, "yesterday", YESTERDAY_EVENING)
    _give(db, family, 200 * Y, "today", THIS_MORNING)
    db.commit()
    app.state.clock = FixedClock(VIEWED)
    login(client, world.users[Role.INSURANCE_AGENCY])
    page = client.get("/wallet/monitor").text
    assert "昨日（2月28日）接收笔数" in page
    assert 'data-testid="accepted">1<' in page
    assert "上月（2025年2月）钱包支付" in page
    assert "今日" not in page.split("<h1>", 1)[1].split("<p", 1)[0]


def test_the_settlement_is_of_the_last_month_that_has_ended_and_refuses_this_one(
    client: TestClient, world: World
) -> None:
    assert queries.settlement_month("", NOW.date()).isoformat() == "2025-01-01"
    with pytest.raises(InvalidInput) as refused:
        queries.settlement_month("2025-02", NOW.date())
    assert refused.value.code == "month_not_ended"
    login(client, world.users[Role.INSURANCE_AGENCY])
    assert 'name="month" type="month" value="2025-01"' in client.get("/wallet/settlement").text
    # Asked for the running month, the page comes back with the month typed, why, and the last
    # month that has ended below it: not an error page.
    refused_page = client.get("/wallet/settlement?month=2025-02")
    assert refused_page.status_code == 422
    assert 'name="month" type="month" value="2025-02" max="2025-01" aria-invalid="true"' in (
        refused_page.text
    )
    assert "2025-02 尚未结束，清算只列已结束的月份（北京时间）；下面是 2025-01 的清算。" in (
        refused_page.text
    )
    assert "<h1>统筹区间月度清算</h1>" in refused_page.text
    assert client.get("/wallet/settlement.xlsx?month=2025-02").status_code == 422
    assert client.get("/api/v1/wallet/settlement").json()["month"] == "2025-01"
    answer = client.get("/api/v1/wallet/settlement?month=2025-02")
    assert (answer.status_code, answer.json()["error"]["code"]) == (422, "month_not_ended")


def test_in_the_middle_of_a_month_the_payments_shown_are_last_months(
    db: Session, family: Family
) -> None:
    # Read on 15 March (Beijing): 上月 is February, whole; March's payment so far is not in it.
    _give(db, family, 1_000 * Y, "earlier", EARLIER)
    _pay(db, family, 100 * Y, "pay-february", EARLIER)
    _pay(db, family, 70 * Y, "pay-march", datetime(2025, 3, 10, 2, 0, tzinfo=UTC))
    seen = queries.monitoring(db, AGENCY, datetime(2025, 3, 15, 2, 0, tzinfo=UTC))
    assert (seen.month.isoformat(), seen.paid_in_month_fen) == ("2025-02-01", 100 * Y)
    assert seen.day.isoformat() == "2025-03-14"
