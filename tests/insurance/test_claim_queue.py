"""The adjuster's queue: search, the overdue filter and the order by statutory deadline."""

from __future__ import annotations

from datetime import UTC, date, datetime

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from gonghui.insurance.claims_rules import ClaimStatus
from gonghui.insurance.models import Claim, Plan
from gonghui.insurance.queries import QueueFilter, QueueOrder, claim_queue, clock_of
from tests.insurance.test_claims import ADJUSTER, new_claim
from tests.world import World, login

FEB_10 = date(2025, 2, 10)


def three_claims(db: Session, world: World, plan: Plan) -> tuple[Claim, Claim, Claim]:
    """One under review since the 10th (decision due 12 March), one agreed on the 10th
    (payment due the 20th), one still a draft (no clock)."""
    reviewed = new_claim(db, world, plan, invoice="R-1", self_pay=100_000)
    reviewed.status = ClaimStatus.UNDER_REVIEW
    reviewed.complete_at = datetime(2025, 2, 10, 2, 0, tzinfo=UTC)
    agreed = new_claim(db, world, plan, invoice="A-1", self_pay=300_000)
    agreed.status, agreed.approved_fen = ClaimStatus.APPROVED, 300_000
    agreed.complete_at = datetime(2025, 2, 5, 2, 0, tzinfo=UTC)
    agreed.decided_at = datetime(2025, 2, 10, 2, 0, tzinfo=UTC)
    draft = new_claim(db, world, plan, invoice="D-1", self_pay=200_000)
    db.flush()
    return reviewed, agreed, draft


def ids(db: Session, wanted: QueueFilter, today: date = FEB_10) -> list[int]:
    return [claim.id for claim in claim_queue(db, ADJUSTER, wanted, today).items]


def test_the_soonest_deadline_comes_first_and_a_claim_with_no_clock_last(
    db: Session, world: World, covered: Plan
) -> None:
    reviewed, agreed, draft = three_claims(db, world, covered)
    assert ids(db, QueueFilter()) == [agreed.id, reviewed.id, draft.id]
    assert ids(db, QueueFilter(order=QueueOrder.AMOUNT)) == [agreed.id, draft.id, reviewed.id]
    newest = ids(db, QueueFilter(order=QueueOrder.NEWEST))
    assert newest == sorted(newest, reverse=True)


def test_search_by_number_member_name_or_hospital(db: Session, world: World, covered: Plan) -> None:
    reviewed, agreed, draft = three_claims(db, world, covered)
    assert ids(db, QueueFilter(search=f"#{reviewed.id}")) == [reviewed.id]
    assert ids(db, QueueFilter(search="建国")) == [agreed.id, reviewed.id, draft.id]
    assert ids(db, QueueFilter(search="毓璜顶")) == [agreed.id, reviewed.id, draft.id]
    assert ids(db, QueueFilter(search="协和")) == []
    assert ids(db, QueueFilter(search="%")) == []  # a wildcard is a character, not a pattern


def test_overdue_only_shows_the_claims_past_their_limit(
    db: Session, world: World, covered: Plan
) -> None:
    reviewed, agreed, _draft = three_claims(db, world, covered)
    assert ids(db, QueueFilter(overdue_only=True)) == []
    assert ids(db, QueueFilter(overdue_only=True), today=date(2025, 2, 21)) == [agreed.id]
    late = date(2025, 3, 13)
    assert ids(db, QueueFilter(overdue_only=True), today=late) == [agreed.id, reviewed.id]


def test_the_clock_counts_from_the_beijing_day_the_packet_was_complete(
    db: Session, world: World, covered: Plan
) -> None:
    reviewed, _agreed, _draft = three_claims(db, world, covered)
    # 17:00 UTC on the 10th is 01:00 on the 11th in Beijing: thirty days from the 11th.
    reviewed.complete_at = datetime(2025, 2, 10, 17, 0, tzinfo=UTC)
    clock = clock_of(reviewed, FEB_10)
    assert clock is not None
    assert clock.due == date(2025, 3, 13)


def test_the_adjusters_page_filters_and_keeps_its_filters(
    client: TestClient, db: Session, world: World, covered: Plan
) -> None:
    reviewed, agreed, _draft = three_claims(db, world, covered)
    db.commit()
    login(client, "insurer_adjuster")
    page = client.get("/insurance/claims", params={"q": f"#{agreed.id}", "order": "amount"})
    assert page.status_code == 200
    assert f"/insurance/claims/{agreed.id}" in page.text
    assert f'/insurance/claims/{reviewed.id}"' not in page.text
    assert 'value="amount" selected' in page.text
    assert client.get("/insurance/claims", params={"order": "sideways"}).status_code == 422
