"""Transfers, spending and relationships through the service layer, with every refusal."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gonghui.core import audit
from gonghui.core.audit import AuditEntry
from gonghui.core.auth import SYSTEM, Actor, Role
from gonghui.core.errors import DomainError
from gonghui.core.pii import IdentityVault
from gonghui.wallet import ledger, people, spending, transfers
from gonghui.wallet.models import Entry, Relationship, TransferEvent
from gonghui.wallet.rules import Kinship, Purpose, RelationshipStatus
from gonghui.wallet.verification import Proof, Verification, run_money_request
from tests.conftest import NOW
from tests.wallet.scenario import (
    FACE,
    PASSWORD,
    SON_ID,
    Family,
    bind_mother,
    build_family,
    fund,
    verifier,
)
from tests.world import World

Y = 100  # fen per yuan


@pytest.fixture
def family(db: Session, world: World, vault: IdentityVault) -> Family:
    family = build_family(db, world, vault, NOW)
    fund(db, family, 5_000 * Y, NOW)
    return family


def send(
    db: Session, family: Family, fen: int, key: str, now: datetime = NOW, proof: Proof = FACE
) -> dict[str, object]:
    return transfers.submit_transfer(
        db, actor=family.giver_actor, recipient_id=family.mother.id, amount_fen=fen, proof=proof,
        verifier=verifier(), idempotency_key=key, now=now,
    )  # fmt: skip


def refusal(call: Callable[[], object]) -> str:
    with pytest.raises(DomainError) as refused:
        call()
    return refused.value.code


def balances(db: Session, family: Family) -> tuple[int, int, int]:
    g, m = family.giver.id, family.mother.id
    return (
        ledger.balance_of(db, ledger.personal(g)),
        ledger.balance_of(db, ledger.held(g)),
        ledger.balance_of(db, ledger.quota(m, g)),
    )


def test_a_transfer_is_held_then_accepted_into_the_relatives_quota(
    db: Session, family: Family
) -> None:
    sent = send(db, family, 500 * Y, "t1")
    assert sent["status"] == "pending"
    assert balances(db, family) == (4_500 * Y, 500 * Y, 0)
    accepted = transfers.accept_transfer(
        db,
        int(sent["transfer_id"]),
        actor=family.mother_actor,
        idempotency_key="a1",
        now=NOW,
    )
    assert accepted["status"] == "accepted"
    assert balances(db, family) == (4_500 * Y, 0, 500 * Y)
    assert ledger.verify(db) == []
    trail = db.execute(
        select(AuditEntry.action, AuditEntry.actor_label)
        .where(
            AuditEntry.target_type == "wallet_transfer",
            AuditEntry.target_id == str(sent["transfer_id"]),
        )
        .order_by(AuditEntry.id)
    ).all()
    assert [action for action, _ in trail] == [
        "wallet.transfer_submitted",
        "wallet.transfer_accepted",
    ]
    assert trail[1].actor_label.startswith("mother")


def test_the_same_key_and_body_is_applied_once(db: Session, family: Family) -> None:
    first = send(db, family, 300 * Y, "same")
    again = send(db, family, 300 * Y, "same")
    assert again == first
    assert balances(db, family) == (4_700 * Y, 300 * Y, 0)
    assert refusal(lambda: send(db, family, 301 * Y, "same")) == "idempotency_key_reused"


def test_a_key_whose_request_was_not_found_stays_free(db: Session, family: Family) -> None:
    # Only a refusal is a recorded answer; a request that named nothing leaves its key unused.
    def accept(transfer_id: int) -> dict[str, object]:
        return transfers.accept_transfer(
            db, transfer_id, actor=family.mother_actor, idempotency_key="k", now=NOW
        )

    with pytest.raises(DomainError) as missing:
        accept(999_999)
    assert missing.value.code == "not_found"
    sent = send(db, family, 100 * Y, "s")
    assert accept(int(sent["transfer_id"]))["status"] == "accepted"


def test_only_the_recipient_can_accept_and_a_stranger_s_key_stays_free(
    db: Session, family: Family
) -> None:
    sent = send(db, family, 100 * Y, "s")

    def accept(actor: Actor) -> dict[str, object]:
        return transfers.accept_transfer(
            db, int(sent["transfer_id"]), actor=actor, idempotency_key="k", now=NOW
        )

    stranger = Actor(user_id=990_001, username="x", role=Role.INSURED, display_name="x")
    for actor, what in ((family.son_actor, "转账"), (stranger, "参保信息")):
        with pytest.raises(DomainError) as missing:
            accept(actor)
        assert (missing.value.code, missing.value.message) == (
            "not_found",
            f"{what}不存在或您无权查看",
        )
    assert balances(db, family) == (4_900 * Y, 100 * Y, 0)
    assert accept(family.mother_actor)["status"] == "accepted"
    assert balances(db, family) == (4_900 * Y, 0, 100 * Y)


def test_the_givers_next_submit_returns_their_due_transfer_first(
    db: Session, family: Family
) -> None:
    first = send(db, family, 800 * Y, "e1")
    next_day = NOW + timedelta(days=1)  # past 06:00, the job not run
    assert send(db, family, 100 * Y, "e2", now=next_day)["status"] == "pending"
    assert balances(db, family) == (4_900 * Y, 100 * Y, 0)
    returned = db.execute(
        select(AuditEntry.target_id, AuditEntry.actor_label).where(
            AuditEntry.action == "wallet.transfer_expired"
        )
    ).all()
    assert [(int(target), label) for target, label in returned] == [
        (first["transfer_id"], audit.label_of(family.giver_actor))
    ]
    assert ledger.verify(db) == []


def test_a_transfer_to_nobody_is_not_found_and_its_key_stays_free(
    db: Session, family: Family
) -> None:
    with pytest.raises(DomainError) as missing:
        transfers.submit_transfer(
            db, actor=family.giver_actor, recipient_id=999_999, amount_fen=100 * Y, proof=FACE,
            verifier=verifier(), idempotency_key="nobody", now=NOW,
        )  # fmt: skip
    assert (missing.value.code, missing.value.message) == (
        "not_found",
        "共济对象不存在或您无权查看",
    )
    assert send(db, family, 100 * Y, "nobody")["status"] == "pending"


@pytest.mark.parametrize(
    ("fen", "code"),
    [(0, "amount_invalid"), (2_000 * Y + 1, "amount_over_limit"), (2_000 * Y, None)],
)
def test_the_amount_limit_is_2000_yuan(
    db: Session, family: Family, fen: int, code: str | None
) -> None:
    if code is None:
        assert send(db, family, fen, "k")["amount_fen"] == fen
    else:
        assert refusal(lambda: send(db, family, fen, "k")) == code


def test_a_transfer_at_2300_is_refused(db: Session, family: Family) -> None:
    night = datetime(2025, 2, 10, 15, 0, tzinfo=UTC)  # 23:00 in Beijing
    assert refusal(lambda: send(db, family, 100 * Y, "n", now=night)) == "night_window"


def test_a_second_transfer_waits_for_the_first_to_be_accepted(db: Session, family: Family) -> None:
    first = send(db, family, 100 * Y, "p1")
    assert refusal(lambda: send(db, family, 100 * Y, "p2")) == "pending_transfer"
    transfers.accept_transfer(
        db, int(first["transfer_id"]), actor=family.mother_actor, idempotency_key="a", now=NOW
    )
    # A refusal is the key's answer: the same request again hears it again; a new one may go.
    assert refusal(lambda: send(db, family, 100 * Y, "p2")) == "pending_transfer"
    assert send(db, family, 100 * Y, "p3")["status"] == "pending"


def test_three_transfers_a_day_at_most(db: Session, family: Family) -> None:
    for number in range(3):
        sent = send(db, family, 10 * Y, f"d{number}")
        transfers.accept_transfer(
            db,
            int(sent["transfer_id"]),
            actor=family.mother_actor,
            idempotency_key=f"a{number}",
            now=NOW,
        )
    assert refusal(lambda: send(db, family, 10 * Y, "d3")) == "daily_limit_reached"
    tomorrow = NOW + timedelta(days=1)
    assert send(db, family, 10 * Y, "d4", now=tomorrow)["status"] == "pending"


def test_no_more_than_the_balance(db: Session, family: Family) -> None:
    for number in range(2):
        sent = send(db, family, 2_000 * Y, f"b{number}", now=NOW + timedelta(days=number))
        transfers.accept_transfer(
            db,
            int(sent["transfer_id"]),
            actor=family.mother_actor,
            idempotency_key=f"a{number}",
            now=NOW + timedelta(days=number),
        )
    assert (
        refusal(lambda: send(db, family, 1_001 * Y, "b2", now=NOW + timedelta(days=2)))
        == "insufficient_balance"
    )


def test_an_unaccepted_transfer_returns_at_0600_and_the_job_is_safe_twice(
    db: Session, family: Family
) -> None:
    sent = send(db, family, 800 * Y, "e1")
    just_before = datetime(2025, 2, 10, 21, 59, tzinfo=UTC)  # 05:59 on the 11th in Beijing
    assert transfers.release_due(db, just_before, actor=SYSTEM) == 0
    six = datetime(2025, 2, 10, 22, 0, tzinfo=UTC)
    assert transfers.release_due(db, six, actor=SYSTEM) == 1
    assert transfers.release_due(db, six, actor=SYSTEM) == 0
    assert balances(db, family) == (5_000 * Y, 0, 0)
    late = transfers.accept_transfer
    assert (
        refusal(
            lambda: late(
                db,
                int(sent["transfer_id"]),
                actor=family.mother_actor,
                idempotency_key="x",
                now=six,
            )
        )
        == "transfer_not_pending"
    )
    statuses = db.scalars(
        select(TransferEvent.to_status)
        .where(TransferEvent.transfer_id == sent["transfer_id"])
        .order_by(TransferEvent.id)
    ).all()
    assert [s.value for s in statuses] == ["pending", "expired"]
    assert ledger.verify(db) == []


DECLARATION_REFUSALS = {
    "a cousin is not a close relative": ({"kinship": "cousin"}, "not_close_relative"),
    "nobody declares themselves": (
        {"recipient_name": "林建国", "recipient_id_number": "self"},
        "self_relationship",
    ),
    "the commitment letter is required": ({"commitment": False}, "commitment_required"),
}


@pytest.mark.parametrize(
    ("change", "code"), DECLARATION_REFUSALS.values(), ids=DECLARATION_REFUSALS.keys()
)
def test_a_declaration_is_refused(
    db: Session, world: World, vault: IdentityVault, change: dict[str, object], code: str
) -> None:
    family = build_family(db, world, vault, NOW, bind=False)
    fields: dict[str, object] = {
        "recipient_name": "林小宇",
        "recipient_id_number": SON_ID,
        "kinship": "child",
        "commitment": True,
    } | change
    if fields["recipient_id_number"] == "self":
        fields["recipient_id_number"] = world.member_a_id_number
    declare = people.declare_relationship
    assert (
        refusal(lambda: declare(db, actor=family.giver_actor, vault=vault, now=NOW, **fields))
        == code
    )
    assert db.scalars(select(Relationship)).all() == []


def test_a_child_under_16_is_bound_at_once_and_only_once(
    db: Session, world: World, vault: IdentityVault
) -> None:
    family = build_family(db, world, vault, NOW, bind=False)

    def declare_son() -> Relationship:
        return people.declare_relationship(
            db, actor=family.giver_actor, recipient_name="林小宇", recipient_id_number=SON_ID,
            kinship=Kinship.CHILD.value, commitment=True, vault=vault, now=NOW,
        )  # fmt: skip

    assert declare_son().status is RelationshipStatus.ACTIVE  # the son is 9: no face check
    assert refusal(declare_son) == "duplicate_relationship"


def test_an_adult_relative_must_pass_face_verification(
    db: Session, world: World, vault: IdentityVault
) -> None:
    family = build_family(db, world, vault, NOW, bind=False)
    from tests.wallet.scenario import MOTHER_ID  # noqa: PLC0415

    proposed = people.declare_relationship(
        db,
        actor=family.giver_actor,
        recipient_name="王桂兰",
        recipient_id_number=MOTHER_ID,
        kinship="parent",
        commitment=True,
        vault=vault,
        now=NOW,
    )
    assert proposed.status is RelationshipStatus.PROPOSED
    confirm = people.confirm_relationship
    assert (
        refusal(
            lambda: confirm(
                db,
                proposed.id,
                actor=family.mother_actor,
                commitment=True,
                face_sample="someone-else",
                verifier=verifier(),
                now=NOW,
            )
        )
        == "verification_failed"
    )
    assert refusal(lambda: send(db, family, 100 * Y, "r")) == "relationship_not_active"


def test_a_region_that_has_not_opened_refuses(
    db: Session, family: Family, vault: IdentityVault
) -> None:
    # The mother's insurance moves to 山西 (not open): the relationship ends on its own…
    assert spending.move_insured(db, family.mother.id, "140000", actor=SYSTEM, now=NOW) == 1
    assert db.scalars(select(Relationship.status)).one() is RelationshipStatus.DISSOLVED
    # …and once bound again, the region still refuses the transfer.
    bind_mother(db, family, vault, NOW)
    assert refusal(lambda: send(db, family, 100 * Y, "g")) == "region_not_open"


def test_the_relative_pays_a_pharmacy_oldest_quota_first(
    db: Session, world: World, vault: IdentityVault, family: Family
) -> None:
    sent = send(db, family, 600 * Y, "s1")
    transfers.accept_transfer(
        db, int(sent["transfer_id"]), actor=family.mother_actor, idempotency_key="a1", now=NOW
    )
    paid = spending.pay_from_wallet(
        db,
        actor=family.mother_actor,
        amount_fen=250 * Y,
        purpose=Purpose.PHARMACY,
        payee="成都大药房",
        idempotency_key="pay1",
        now=NOW,
    )
    assert paid["portions"] == {str(family.giver.id): 250 * Y}
    assert balances(db, family)[2] == 350 * Y
    again = spending.pay_from_wallet(
        db,
        actor=family.mother_actor,
        amount_fen=250 * Y,
        purpose=Purpose.PHARMACY,
        payee="成都大药房",
        idempotency_key="pay1",
        now=NOW,
    )
    assert again == paid
    assert balances(db, family)[2] == 350 * Y
    assert (
        refusal(
            lambda: spending.pay_from_wallet(
                db,
                actor=family.mother_actor,
                amount_fen=351 * Y,
                purpose=Purpose.HOSPITAL,
                payee="华西医院",
                idempotency_key="pay2",
                now=NOW,
            )
        )
        == "insufficient_balance"
    )
    assert ledger.verify(db) == []


def test_dissolving_returns_the_unspent_quota_and_voids_the_pending_transfer(
    db: Session, family: Family
) -> None:
    first = send(db, family, 600 * Y, "s1")
    transfers.accept_transfer(
        db, int(first["transfer_id"]), actor=family.mother_actor, idempotency_key="a1", now=NOW
    )
    spending.pay_from_wallet(
        db,
        actor=family.mother_actor,
        amount_fen=100 * Y,
        purpose=Purpose.RESIDENT_CONTRIBUTION,
        payee="2025年度居民医保",
        idempotency_key="p",
        now=NOW,
    )
    send(db, family, 200 * Y, "s2")
    relationship = db.scalars(select(Relationship)).one()
    returned = spending.dissolve_relationship(
        db, relationship.id, actor=family.mother_actor, reason="", now=NOW
    )
    assert returned == 500 * Y
    # 5,000 − 600 − 200 + 200 (voided) + 500 (returned) = 4,900: only the 100 spent is gone.
    assert balances(db, family) == (4_900 * Y, 0, 0)
    assert ledger.verify(db) == []


def test_a_wrong_password_is_counted_and_locks_after_five(db: Session, family: Family) -> None:
    db.commit()  # the refusal rolls the request back; the family must outlive it
    wrong = Proof(Verification.PASSWORD, "000000")
    for number in range(5):
        code = refusal(
            lambda n=number: run_money_request(
                db, lambda: send(db, family, 10 * Y, f"w{n}", proof=wrong), NOW
            )
        )
        assert code == "verification_failed"
    assert refusal(lambda: send(db, family, 10 * Y, "w5", proof=PASSWORD)) == "verification_locked"
    later = NOW + timedelta(minutes=31)
    assert send(db, family, 10 * Y, "w6", now=later, proof=PASSWORD)["status"] == "pending"


def test_the_ledger_check_finds_a_posting_that_does_not_balance(
    db: Session, family: Family
) -> None:
    assert ledger.verify(db) == []
    posting = db.scalars(select(Entry.posting_id)).first()
    account = db.scalars(select(Entry.account_id).where(Entry.amount_fen > 0)).first()
    db.add(Entry(posting_id=posting, account_id=account, amount_fen=1))
    db.flush()
    problems = ledger.verify(db)
    assert any("借贷不平" in problem for problem in problems)
    assert any("缓存余额" in problem for problem in problems)
    assert db.scalar(select(func.count()).select_from(Entry)) == 3


def test_funding_a_personal_account_leaves_an_audit_row(db: Session, family: Family) -> None:
    fund(db, family, 1_000 * Y, NOW, key="fund-2")  # the family was funded 5,000 yuan first
    fund(db, family, 1_000 * Y, NOW, key="fund-2")  # a retry moves nothing and says nothing

    rows = db.scalars(
        select(AuditEntry)
        .where(AuditEntry.action == "wallet.personal_account_funded")
        .order_by(AuditEntry.id)
    ).all()
    assert {(row.target_type, row.target_id) for row in rows} == {
        ("wallet_insured", str(family.giver.id))
    }
    assert [row.after["amount_fen"] for row in rows if row.after] == [5_000 * Y, 1_000 * Y]


def test_funding_a_resident_scheme_person_is_refused(db: Session, family: Family) -> None:
    fund_mother = transfers.fund_personal_account
    assert (
        refusal(
            lambda: fund_mother(
                db, family.mother.id, 100, idempotency_key="m", actor=SYSTEM, now=NOW
            )
        )
        == "not_employee_insured"
    )
    assert date(2025, 2, 10)  # the clock's day
