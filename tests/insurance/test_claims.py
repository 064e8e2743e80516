"""Claims end to end in the service layer: draft, documents, review, decision, payment."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gonghui.core.audit import AuditEntry, label_of
from gonghui.core.auth import Actor, Role
from gonghui.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from gonghui.core.storage import ContentStore
from gonghui.insurance import claims, queries
from gonghui.insurance.claims import Settlement
from gonghui.insurance.claims_rules import ClaimStatus, DocumentKind, Hospitalisation, RejectionCode
from gonghui.insurance.models import Claim, Plan
from gonghui.members.models import Card, Notification
from tests.conftest import NOW
from tests.world import World

PDF = b"%PDF-1.4 test document"
PNG = b"\x89PNG\r\n\x1a\n fake image body"


def member_a(world: World) -> Actor:
    return Actor(
        user_id=None,
        username="a",
        role=Role.MEMBER,
        display_name="林建国",
        member_id=world.member_a,
        unit_id=world.unit_a,
    )


ADJUSTER = Actor(user_id=None, username="adj", role=Role.INSURER_ADJUSTER, display_name="理赔员")


def card_id(db: Session, world: World) -> int:
    return db.scalars(select(Card.id).where(Card.card_no == world.card_a)).one()


def new_claim(
    db: Session,
    world: World,
    plan: Plan,
    *,
    invoice: str = "INV-001",
    self_pay: int = 1_234_500,
    admitted: date = date(2025, 2, 3),
) -> Claim:
    return claims.open_claim(
        db,
        plan,
        member_id=world.member_a,
        card_id=card_id(db, world),
        stay=Hospitalisation("烟台毓璜顶医院", admitted, date(2025, 2, 8), "急性阑尾炎"),
        invoice_no=invoice,
        settlement=Settlement(
            total_fen=1_600_000 + self_pay, fund_paid_fen=1_500_000, policy_self_pay_fen=self_pay
        ),
        actor=member_a(world),
        now=NOW,
    )


def attach_all(
    db: Session, claim: Claim, world: World, documents: ContentStore, kinds=tuple(DocumentKind)
) -> None:
    for index, kind in enumerate(kinds):
        body = (PDF if index % 2 else PNG) + kind.value.encode()
        claims.attach_document(
            db,
            claim,
            kind,
            f"{kind.value}.pdf",
            body,
            store=documents,
            actor=member_a(world),
            now=NOW,
        )


def test_a_claim_goes_from_draft_to_paid_with_every_step_recorded(
    db: Session, world: World, covered: Plan, documents: ContentStore
) -> None:
    claim = new_claim(db, world, covered)
    assert (claim.status, claim.estimated_fen) == (ClaimStatus.DRAFT, 1_234_500)
    attach_all(db, claim, world, documents, kinds=(DocumentKind.ID_CARD, DocumentKind.INVOICE))
    missing = claims.submit_claim(db, claim, actor=member_a(world), now=NOW)
    assert claim.status is ClaimStatus.DOCUMENTS_PENDING
    assert len(missing) == 4
    notice = db.scalars(select(Notification).where(Notification.member_id == world.member_a)).one()
    assert notice.body == "请一次性补充以下材料：收款银行卡、费用清单、出院小结、医保结算单"
    attach_all(db, claim, world, documents, kinds=tuple(missing))
    assert claim.status is ClaimStatus.UNDER_REVIEW
    result = claims.approve_claim(db, claim, actor=ADJUSTER, now=NOW)
    assert (claim.status, claim.approved_fen, result.remaining_after_fen) == (
        ClaimStatus.APPROVED,
        1_234_500,
        3_765_500,
    )
    assert claim.calculation is not None
    assert claim.calculation[-1] == {"label": "本次应赔付", "amount_fen": 1_234_500}
    claims.record_payment(db, claim, "YTB20250210001", actor=ADJUSTER, now=NOW)
    assert claim.status is ClaimStatus.PAID
    history = [(e.from_status, e.to_status) for e in claims.events_of(db, claim)]
    assert history == [
        (None, ClaimStatus.DRAFT),
        (ClaimStatus.DRAFT, ClaimStatus.SUBMITTED),
        (ClaimStatus.SUBMITTED, ClaimStatus.DOCUMENTS_PENDING),
        (ClaimStatus.DOCUMENTS_PENDING, ClaimStatus.UNDER_REVIEW),
        (ClaimStatus.UNDER_REVIEW, ClaimStatus.APPROVED),
        (ClaimStatus.APPROVED, ClaimStatus.PAID),
    ]
    titles = db.scalars(
        select(Notification.title).where(Notification.member_id == world.member_a)
    ).all()
    assert titles == ["理赔材料待补充", "理赔申请已核定", "理赔款已支付"]


def test_opening_a_claim_and_each_document_of_its_draft_leave_an_audit_row(
    db: Session, world: World, covered: Plan, documents: ContentStore
) -> None:
    claim = new_claim(db, world, covered)
    attach_all(db, claim, world, documents, kinds=(DocumentKind.ID_CARD, DocumentKind.INVOICE))

    rows = db.scalars(
        select(AuditEntry)
        .where(AuditEntry.target_type == "claim", AuditEntry.target_id == str(claim.id))
        .order_by(AuditEntry.id)
    ).all()
    member = label_of(member_a(world))
    assert [(row.action, row.actor_label) for row in rows] == [
        ("claim.opened", member),
        ("claim.document_attached", member),
        ("claim.document_attached", member),
    ]
    assert rows[0].after is not None
    assert (rows[0].after["invoice_no"], rows[0].after["estimated_fen"]) == ("INV-001", 1_234_500)
    assert [row.after["kind"] for row in rows[1:] if row.after] == ["id_card", "invoice"]


def test_a_stay_outside_the_covered_period_is_refused_at_once(
    db: Session, world: World, covered: Plan
) -> None:
    with pytest.raises(InvalidInput, match="不在您的补充医保保障期内"):
        new_claim(db, world, covered, admitted=date(2025, 1, 30))


def test_the_same_invoice_cannot_be_claimed_twice_until_withdrawn(
    db: Session, world: World, covered: Plan
) -> None:
    first = new_claim(db, world, covered)
    with pytest.raises(Conflict, match="发票号 INV-001 已申请过理赔"):
        new_claim(db, world, covered)
    claims.withdraw_claim(db, first, actor=member_a(world), now=NOW)
    assert new_claim(db, world, covered).status is ClaimStatus.DRAFT


def test_several_claims_in_a_year_share_the_annual_cap(
    db: Session, world: World, covered: Plan, documents: ContentStore
) -> None:
    paid = []
    for invoice, amount in (("A1", 4_000_000), ("A2", 2_000_000)):
        claim = new_claim(db, world, covered, invoice=invoice, self_pay=amount)
        attach_all(db, claim, world, documents)
        claims.submit_claim(db, claim, actor=member_a(world), now=NOW)
        claims.approve_claim(db, claim, actor=ADJUSTER, now=NOW)
        paid.append(claim.approved_fen)
    assert paid == [4_000_000, 1_000_000]
    third = new_claim(db, world, covered, invoice="A3", self_pay=10_000)
    assert third.estimated_fen == 0
    attach_all(db, third, world, documents)
    claims.submit_claim(db, third, actor=member_a(world), now=NOW)
    with pytest.raises(InvalidInput, match="应赔付为0"):
        claims.approve_claim(db, third, actor=ADJUSTER, now=NOW)
    claims.reject_claim(db, third, reason=RejectionCode.CAP_EXHAUSTED, actor=ADJUSTER, now=NOW)
    assert third.status is ClaimStatus.REJECTED


def test_a_partial_approval_needs_a_lower_amount_and_a_reason(
    db: Session, world: World, covered: Plan, documents: ContentStore
) -> None:
    claim = new_claim(db, world, covered)
    attach_all(db, claim, world, documents)
    claims.submit_claim(db, claim, actor=member_a(world), now=NOW)
    with pytest.raises(InvalidInput, match="须选择原因"):
        claims.approve_part_of_claim(
            db, claim, amount_fen=1_000_000, reason=None, actor=ADJUSTER, now=NOW
        )
    with pytest.raises(InvalidInput, match="小于应赔付金额"):
        claims.approve_part_of_claim(
            db,
            claim,
            amount_fen=9_000_000,
            reason=RejectionCode.OTHER,
            actor=ADJUSTER,
            now=NOW,
        )
    assert (claim.decided_at, claim.calculation, claim.plan_version_id) == (None, None, None)
    claims.approve_part_of_claim(
        db,
        claim,
        amount_fen=1_000_000,
        reason=RejectionCode.NOT_INPATIENT,
        note="部分为门诊费用",
        actor=ADJUSTER,
        now=NOW,
    )
    assert (claim.status, claim.approved_fen) == (ClaimStatus.PARTIALLY_APPROVED, 1_000_000)


def test_documents_are_checked_by_content_and_stored_once(
    db: Session, world: World, covered: Plan, documents: ContentStore
) -> None:
    claim = new_claim(db, world, covered)
    with pytest.raises(InvalidInput, match="只接受 PDF、JPG 或 PNG"):
        claims.attach_document(
            db,
            claim,
            DocumentKind.INVOICE,
            "invoice.pdf",
            b"MZ\x90\x00 not a pdf",
            store=documents,
            actor=member_a(world),
            now=NOW,
        )
    with pytest.raises(InvalidInput, match="10MB"):
        claims.attach_document(
            db,
            claim,
            DocumentKind.INVOICE,
            "big.pdf",
            PDF + b"0" * (10 * 1024 * 1024),
            store=documents,
            actor=member_a(world),
            now=NOW,
        )
    for name in ("a.pdf", "b.pdf"):
        claims.attach_document(
            db,
            claim,
            DocumentKind.INVOICE,
            name,
            PDF,
            store=documents,
            actor=member_a(world),
            now=NOW,
        )
    assert len(list(documents.root.rglob("*"))) == 2  # one folder, one file


def test_only_the_member_their_unit_and_the_insurer_reach_a_claim(
    db: Session, world: World, covered: Plan
) -> None:
    claim = new_claim(db, world, covered)
    other = Actor(
        user_id=None,
        username="b",
        role=Role.MEMBER,
        display_name="周秀英",
        member_id=world.member_b,
    )
    with pytest.raises(NotFound):
        queries.claim_for(db, other, claim.id)
    with pytest.raises(Forbidden):
        claims.withdraw_claim(db, claim, actor=other, now=NOW)
    officer_b = Actor(
        user_id=None, username="ob", role=Role.UNIT_OFFICER, display_name="o", unit_id=world.unit_b
    )
    with pytest.raises(NotFound):
        queries.claim_for(db, officer_b, claim.id)
    assert queries.claim_for(db, ADJUSTER, claim.id) is claim
    with pytest.raises(Forbidden):
        claims.approve_claim(db, claim, actor=member_a(world), now=NOW)


def test_a_unit_officer_files_a_claim_for_a_member_of_their_unit(
    db: Session, world: World, covered: Plan
) -> None:
    officer = Actor(
        user_id=None, username="oa", role=Role.UNIT_OFFICER, display_name="o", unit_id=world.unit_a
    )
    claim = claims.open_claim(
        db,
        covered,
        member_id=world.member_a,
        card_id=card_id(db, world),
        stay=Hospitalisation("烟台山医院", date(2025, 2, 1), date(2025, 2, 5), "骨折"),
        invoice_no="OFF-1",
        settlement=Settlement(800_000, 500_000, 300_000),
        actor=officer,
        now=NOW,
    )
    assert claim.member_id == world.member_a
