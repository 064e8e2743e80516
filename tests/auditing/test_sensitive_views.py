"""Every view of sensitive personal information leaves an audit row: who, when, what, where."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from gonghui.core import audit
from gonghui.core.audit import AuditEntry
from gonghui.core.storage import ContentStore
from gonghui.insurance.models import ClaimDocument
from gonghui.insurance.store import BalanceStore
from tests.conftest import NOW
from tests.insurance.scenario import cover_member_a, new_plan
from tests.insurance.test_claims import attach_all, new_claim
from tests.world import World, login


def _views(db: Session, action: str) -> list[AuditEntry]:
    return list(
        db.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id))
    )


def test_a_full_id_number_on_the_member_page_is_an_audited_view(
    client: TestClient, db: Session, world: World
) -> None:
    login(client, "unit_officer")
    page = client.get(f"/members/{world.member_a}")
    assert world.member_a_id_number in page.text
    (view,) = _views(db, audit.ID_VIEWED)
    assert (view.target_type, view.target_id) == ("member", str(world.member_a))
    assert view.actor_label.startswith("unit_officer(")
    assert view.at == NOW
    assert view.after == {"client": "testclient", "path": f"/members/{world.member_a}"}


def test_a_member_reading_their_own_masked_record_writes_nothing(
    client: TestClient, db: Session, world: World
) -> None:
    login(client, "member")
    assert world.member_a_id_number not in client.get("/me").text
    assert _views(db, audit.ID_VIEWED) == []


def test_the_api_records_each_member_whose_full_number_it_returned(
    client: TestClient, db: Session, world: World
) -> None:
    login(client, "federation_staff")
    listing = client.get("/api/v1/members").json()
    assert {item["id_number"] for item in listing["items"]} == {
        world.member_a_id_number,
        world.member_b_id_number,
    }
    assert {v.target_id for v in _views(db, audit.ID_VIEWED)} == {
        str(world.member_a),
        str(world.member_b),
    }
    client.get(f"/api/v1/members/{world.member_b}")
    assert [v.target_id for v in _views(db, audit.ID_VIEWED)].count(str(world.member_b)) == 2


def test_a_bank_that_sees_masked_numbers_leaves_no_view(
    client: TestClient, db: Session, world: World
) -> None:
    login(client, "bank_operator")
    client.get("/cards")
    assert _views(db, audit.ID_VIEWED) == []


def test_an_export_with_full_numbers_is_recorded(client: TestClient, db: Session) -> None:
    login(client, "unit_officer")
    assert client.get("/exports/members.xlsx").status_code == 200
    (export,) = _views(db, audit.ID_EXPORTED)
    assert export.target_id == "members"


def test_a_claim_document_opened_by_the_adjuster_is_recorded_and_by_the_member_not(
    client: TestClient, db: Session, world: World, store: BalanceStore, documents: ContentStore
) -> None:
    plan = new_plan(db, world)
    cover_member_a(db, world, store, plan)
    claim = new_claim(db, world, plan)
    attach_all(db, claim, world, documents)
    db.commit()
    document = db.scalars(select(ClaimDocument).where(ClaimDocument.claim_id == claim.id)).first()
    assert document is not None
    login(client, "member")
    assert client.get(f"/insurance/documents/{document.id}").status_code == 200
    assert client.get(f"/insurance/claims/{claim.id}").status_code == 200
    assert _views(db, audit.DOCUMENT_VIEWED) == _views(db, audit.CLAIM_VIEWED) == []
    client.cookies.clear()
    login(client, "insurer_adjuster")
    assert client.get(f"/insurance/documents/{document.id}").status_code == 200
    assert client.get(f"/insurance/claims/{claim.id}").status_code == 200
    (opened,) = _views(db, audit.DOCUMENT_VIEWED)
    assert opened.target_id == str(document.id)
    assert opened.after is not None
    assert opened.after["member_id"] == world.member_a
    (seen,) = _views(db, audit.CLAIM_VIEWED)
    assert seen.target_id == str(claim.id)
