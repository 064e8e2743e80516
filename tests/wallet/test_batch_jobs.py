"""The batch jobs in their set-based form: the 06:00 release in batches, and the ledger check
that reports only the rows in breach."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gonghui.core import audit, audit_chain
from gonghui.core.audit import AuditEntry
from gonghui.core.audit_chain import AuditLink
from gonghui.core.auth import SYSTEM
from gonghui.core.pii import IdentityVault
from gonghui.wallet import ledger, transfers
from gonghui.wallet.models import Posting, Transfer, TransferEvent
from gonghui.wallet.rules import TransferStatus
from tests.conftest import NOW
from tests.wallet.scenario import FACE, Ring, build_ring, verifier

FUNDED = 10_000
SIX = datetime(2025, 2, 10, 22, 0, tzinfo=UTC)  # 06:00 on the 11th in Beijing


def _send_to_next(db: Session, ring: Ring, number: int, fen: int) -> int:
    sent = transfers.submit_transfer(
        db, actor=ring.actors[number], recipient_id=ring.insured_ids[ring.relatives[number][0]],
        amount_fen=fen, proof=FACE, verifier=verifier(), idempotency_key=f"b{number}", now=NOW,
    )  # fmt: skip
    return int(sent["transfer_id"])


@pytest.fixture
def ring(db: Session, vault: IdentityVault) -> Ring:
    return build_ring(db, vault, NOW, 5, FUNDED)


def test_the_release_job_returns_every_due_transfer_across_batches(
    db: Session, ring: Ring, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transfers, "RELEASE_BATCH", 2)  # 5 transfers: batches of 2, 2 and 1
    sent = [_send_to_next(db, ring, number, 100 * (number + 1)) for number in range(5)]
    accepted = sent[4]
    transfers.accept_transfer(
        db, accepted, actor=ring.actors[ring.relatives[4][0]], idempotency_key="ok", now=NOW
    )
    assert transfers.release_due(db, SIX, actor=SYSTEM) == 4
    assert transfers.release_due(db, SIX, actor=SYSTEM) == 0
    for number in range(4):
        giver = ring.insured_ids[number]
        assert ledger.balance_of(db, ledger.personal(giver)) == FUNDED
        assert ledger.balance_of(db, ledger.held(giver)) == 0
    statuses = dict(db.execute(select(Transfer.id, Transfer.status)).all())
    assert [statuses[t] for t in sent] == [TransferStatus.EXPIRED] * 4 + [TransferStatus.ACCEPTED]
    expired_events = db.scalar(
        select(func.count())
        .select_from(TransferEvent)
        .where(TransferEvent.to_status == TransferStatus.EXPIRED)
    )
    assert expired_events == 4
    expire_postings = db.scalars(
        select(Posting.transfer_id).where(Posting.kind == "expire").order_by(Posting.transfer_id)
    ).all()
    assert expire_postings == sent[:4]
    assert ledger.verify(db) == []
    returned = db.execute(
        select(AuditEntry.target_id, AuditEntry.actor_label, AuditEntry.after)
        .where(AuditEntry.action == "wallet.transfer_expired")
        .order_by(AuditEntry.id)
    ).all()
    assert [(int(target), label) for target, label, _ in returned] == [
        (transfer_id, audit.label_of(SYSTEM)) for transfer_id in sent[:4]
    ]
    assert returned[0].after == {
        "amount_fen": 100,
        "giver_id": ring.insured_ids[0],
        "recipient_id": ring.insured_ids[ring.relatives[0][0]],
    }


def test_the_release_job_s_audit_rows_are_chained_at_commit(db: Session, ring: Ring) -> None:
    for number in range(3):
        _send_to_next(db, ring, number, 100)
    db.commit()
    assert transfers.release_due(db, SIX, actor=SYSTEM) == 3
    db.commit()
    chained = db.scalar(
        select(func.count())
        .select_from(AuditLink)
        .join(AuditEntry, AuditEntry.id == AuditLink.audit_id)
        .where(AuditEntry.action == "wallet.transfer_expired")
    )
    assert chained == 3
    verdict = audit_chain.verify(db)
    assert verdict.ok, verdict.reason


def test_the_ledger_check_finds_a_posting_without_entries_and_a_transfer_posted_twice(
    db: Session, ring: Ring
) -> None:
    transfer_id = _send_to_next(db, ring, 0, 100)
    assert ledger.verify(db) == []
    db.add(Posting(kind="hold", transfer_id=transfer_id, at=NOW, actor_label="x", memo=""))
    db.flush()
    problems = ledger.verify(db)
    assert "1 张记账凭证没有分录" in problems
    assert any(f"转账 {transfer_id}" in p and "应有 1 张凭证，实有 2 张" in p for p in problems)
