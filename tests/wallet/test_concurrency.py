"""Many clients move money among overlapping wallets at once (PostgreSQL, real connections,
committed for real): the books balance, nothing is overdrawn, each key is applied once."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from gonghui.core import audit_chain
from gonghui.core.audit import AuditEntry
from gonghui.core.auth import SYSTEM
from gonghui.core.errors import DomainError
from gonghui.core.pii import IdentityVault
from gonghui.wallet import ledger, people, spending, transfers
from gonghui.wallet.models import IdempotentRequest, Payment, Relationship, Transfer
from gonghui.wallet.rules import Kinship, Purpose, RelationshipStatus, TransferStatus
from gonghui.wallet.verification import FakeFaceVerifier
from tests.conftest import NOW
from tests.wallet.scenario import FACE, Ring, build_ring, verifier
from tests.world import make_id

pytestmark = pytest.mark.postgres_only
PEOPLE, CLIENTS, STEPS, FUNDED = 8, 8, 40, 1_000_000


def _step(db: Session, ring: Ring, rng: random.Random, me: int, key: str) -> str:
    actor, roll = ring.actors[me], rng.random()
    if roll < 0.45:
        target = ring.insured_ids[rng.choice(ring.relatives[me])]
        transfers.submit_transfer(
            db, actor=actor, recipient_id=target, amount_fen=rng.randint(1, 200_000), proof=FACE,
            verifier=verifier(), idempotency_key=key, now=NOW,
        )  # fmt: skip
        return "submit"
    if roll < 0.85:
        pending = db.scalars(
            select(Transfer.id).where(
                Transfer.recipient_id == ring.insured_ids[me],
                Transfer.status == TransferStatus.PENDING,
            )
        ).first()
        if pending is None:
            return "idle"
        transfers.accept_transfer(db, pending, actor=actor, idempotency_key=key, now=NOW)
        return "accept"
    spending.pay_from_wallet(
        db, actor=actor, amount_fen=rng.randint(1, 50_000), purpose=Purpose.PHARMACY, payee="药房",
        idempotency_key=key, now=NOW,
    )  # fmt: skip
    return "pay"


def test_concurrent_clients_keep_the_books_balanced_and_apply_each_key_once(
    fresh_postgres: Engine,
) -> None:
    vault = IdentityVault("concurrency")
    with Session(fresh_postgres) as db, db.begin():
        ring = build_ring(db, vault, NOW, PEOPLE, FUNDED)
    applied: set[tuple[str, str]] = set()
    errors: list[BaseException] = []
    start = threading.Barrier(CLIENTS)

    def client(number: int) -> None:
        rng = random.Random(number)  # noqa: S311 - a test's dice
        start.wait()
        for step in range(STEPS):
            me, key = rng.randrange(PEOPLE), f"c{number}-{step}"
            # Every other request is sent twice under its key, as a client retrying would.
            for _attempt in range(2 if step % 2 else 1):
                try:
                    with Session(fresh_postgres) as db, db.begin():
                        outcome = _step(db, ring, random.Random(key), me, key)  # noqa: S311
                    applied.add((key, outcome))
                except (DomainError, OperationalError):
                    pass
                except BaseException as error:  # noqa: BLE001 - reported below
                    errors.append(error)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    with Session(fresh_postgres) as db:
        assert ledger.verify(db) == []
        balances = [
            ledger.balance_of(db, ref)
            for insured in ring.insured_ids
            for ref in [ledger.personal(insured), ledger.held(insured)]
            + [ledger.quota(insured, giver) for giver in ring.insured_ids]
        ]
        paid = db.scalar(select(func.coalesce(func.sum(Payment.amount_fen), 0)))
        payments = db.scalar(select(func.count()).select_from(Payment))
        moved = db.scalar(select(func.count()).select_from(Transfer))
        accepted = db.scalar(select(func.count()).where(Transfer.status == TransferStatus.ACCEPTED))
        keys = db.scalar(select(func.count()).select_from(IdempotentRequest))
    assert sum(balances) + paid == PEOPLE * FUNDED
    assert min(balances) >= 0
    # Exactly once: one transfer per answered submit key (retries included), and so on.
    outcomes = [outcome for _key, outcome in applied]
    assert moved == outcomes.count("submit") > 0
    assert accepted == outcomes.count("accept") > 0
    assert payments == outcomes.count("pay")
    assert keys == PEOPLE + moved + accepted + payments


PAIRS, ROUNDS = 4, 10


def _bind(db: Session, ring: Ring, vault: IdentityVault, giver: int, now: datetime) -> int:
    """A fresh relationship from ring member `giver` to the next one (confirmed at once)."""
    target = (giver + 1) % len(ring.actors)
    relationship = people.declare_relationship(
        db, actor=ring.actors[giver], recipient_name=f"参保人{target}",
        recipient_id_number=make_id(birth="19700101", sequence=f"{target:03d}"),
        kinship=Kinship.SIBLING.value, commitment=True, vault=vault, now=now,
    )  # fmt: skip
    people.confirm_relationship(
        db, relationship.id, actor=ring.actors[target], commitment=True,
        face_sample=FakeFaceVerifier.PASS, verifier=verifier(), now=now,
    )  # fmt: skip
    return relationship.id


@dataclass
class _Race:
    """One round: each giver submits while the same giver dissolves the relationship."""

    engine: Engine
    ring: Ring
    now: datetime
    start: threading.Barrier
    answers: list[str] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)

    def submit(self, giver: int) -> None:
        target = self.ring.insured_ids[(giver + 1) % len(self.ring.actors)]
        self.start.wait()
        try:
            with Session(self.engine) as db, db.begin():
                transfers.submit_transfer(
                    db, actor=self.ring.actors[giver], recipient_id=target, amount_fen=10_000,
                    proof=FACE, verifier=verifier(), idempotency_key=f"{self.now}-{giver}",
                    now=self.now,
                )  # fmt: skip
            self.answers.append("submitted")
        except DomainError:
            self.answers.append("refused")
        except BaseException as error:  # noqa: BLE001 - reported by the test
            self.errors.append(error)

    def dissolve(self, giver: int, relationship_id: int) -> None:
        self.start.wait()
        try:
            with Session(self.engine) as db, db.begin():
                spending.dissolve_relationship(
                    db, relationship_id, actor=self.ring.actors[giver], reason="解除", now=self.now
                )
        except BaseException as error:  # noqa: BLE001 - reported by the test
            self.errors.append(error)

    def run(self, bound: dict[int, int]) -> None:
        threads = [threading.Thread(target=self.submit, args=(giver,)) for giver in bound] + [
            threading.Thread(target=self.dissolve, args=pair) for pair in bound.items()
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)


def _accept_each(engine: Engine, ring: Ring, relationship_ids: list[int], now: datetime) -> None:
    """Every transfer of these relationships is refused to its recipient."""
    with Session(engine) as db:
        found = db.execute(
            select(Transfer.id, Transfer.recipient_id).where(
                Transfer.relationship_id.in_(relationship_ids)
            )
        ).all()
    for transfer_id, recipient_id in found:
        recipient = ring.actors[ring.insured_ids.index(recipient_id)]
        with pytest.raises(DomainError), Session(engine) as db, db.begin():
            transfers.accept_transfer(
                db, transfer_id, actor=recipient, idempotency_key=f"accept-{transfer_id}", now=now
            )


def test_no_transfer_outlives_a_relationship_dissolved_at_the_same_instant(
    fresh_postgres: Engine,
) -> None:
    """Issue 13.8: a transfer submitted while its relationship is being dissolved is either
    voided by the dissolution or refused; none stays pending in a dissolved relationship, and
    none can be accepted there."""
    vault = IdentityVault("dissolve-race")
    # Givers 0, 2, 4, 6 each give to the next; the ring's own relationships are not used.
    with Session(fresh_postgres) as db, db.begin():
        ring = build_ring(db, vault, NOW, PAIRS * 2, FUNDED)
        for relationship in db.scalars(select(Relationship)):
            spending.end_relationship(db, relationship, actor=SYSTEM, reason="重置", now=NOW)
    submitted = 0
    for round_number in range(ROUNDS):
        now = NOW + timedelta(days=round_number + 1)  # a day each: three transfers a day
        with Session(fresh_postgres) as db, db.begin():
            bound = {giver: _bind(db, ring, vault, giver, now) for giver in range(0, PAIRS * 2, 2)}
        race = _Race(fresh_postgres, ring, now, threading.Barrier(PAIRS * 2))
        race.run(bound)
        assert race.errors == []
        submitted += race.answers.count("submitted")
        _accept_each(fresh_postgres, ring, list(bound.values()), now)
    with Session(fresh_postgres) as db:
        outliving = db.scalars(
            select(Transfer.id)
            .join(Relationship, Relationship.id == Transfer.relationship_id)
            .where(
                Relationship.status == RelationshipStatus.DISSOLVED,
                Transfer.status.in_([TransferStatus.PENDING, TransferStatus.ACCEPTED]),
            )
        ).all()
        assert ledger.verify(db) == []
        statuses = set(db.scalars(select(Transfer.status)).all())
    assert outliving == []
    # The race was run: some transfers got in before their dissolution, which voided them.
    assert submitted > 0
    assert statuses <= {TransferStatus.VOIDED}


def test_ending_an_insurance_while_its_holder_sends_neither_deadlocks_nor_leaves_a_transfer(
    fresh_postgres: Engine,
) -> None:
    """Ending an insurance ends all the person's relationships one by one; a submit in one of
    them at the same instant locks that relationship, then the giver's accounts. Both take the
    relationship rows first (all of them, for the ending), so neither waits on the other in a
    circle, and the transfer is voided or refused."""
    rounds = 8
    vault = IdentityVault("end-race")
    with Session(fresh_postgres) as db, db.begin():
        ring = build_ring(db, vault, NOW, rounds * 3, FUNDED)
    errors: list[BaseException] = []
    for round_number in range(rounds):
        giver = round_number * 3  # gives to giver + 1 and giver + 2; no other round's pairs
        start = threading.Barrier(2)

        def send(giver: int = giver, start: threading.Barrier = start) -> None:
            start.wait()
            try:
                with Session(fresh_postgres) as db, db.begin():
                    transfers.submit_transfer(
                        db, actor=ring.actors[giver], recipient_id=ring.insured_ids[giver + 2],
                        amount_fen=10_000, proof=FACE, verifier=verifier(),
                        idempotency_key=f"end-{giver}", now=NOW,
                    )  # fmt: skip
            except DomainError:
                pass
            except BaseException as error:  # noqa: BLE001 - reported below
                errors.append(error)

        def end(giver: int = giver, start: threading.Barrier = start) -> None:
            start.wait()
            try:
                with Session(fresh_postgres) as db, db.begin():
                    spending.end_insurance(
                        db, ring.insured_ids[giver], NOW.date(), actor=SYSTEM, now=NOW
                    )
            except BaseException as error:  # noqa: BLE001 - reported below
                errors.append(error)

        threads = [threading.Thread(target=send), threading.Thread(target=end)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert errors == []
    with Session(fresh_postgres) as db:
        outliving = db.scalars(
            select(Transfer.id)
            .join(Relationship, Relationship.id == Transfer.relationship_id)
            .where(
                Relationship.status == RelationshipStatus.DISSOLVED,
                Transfer.status == TransferStatus.PENDING,
            )
        ).all()
        assert ledger.verify(db) == []
    assert outliving == []


RELEASERS, DUE = 3, 12
SIX = datetime(2025, 2, 10, 22, 0, tzinfo=UTC)  # 06:00 on the 11th in Beijing


def test_concurrent_release_jobs_return_each_due_transfer_once_with_its_audit_row(
    fresh_postgres: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transfers, "RELEASE_BATCH", 2)  # many small batches, interleaved
    with Session(fresh_postgres) as db, db.begin():
        ring = build_ring(db, IdentityVault("release"), NOW, DUE, FUNDED)
        for number in range(DUE):
            transfers.submit_transfer(
                db, actor=ring.actors[number],
                recipient_id=ring.insured_ids[ring.relatives[number][0]], amount_fen=100 + number,
                proof=FACE, verifier=verifier(), idempotency_key=f"due{number}", now=NOW,
            )  # fmt: skip
    returned: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(RELEASERS)

    def releaser() -> None:
        start.wait()
        try:
            with Session(fresh_postgres) as db, db.begin():
                returned.append(transfers.release_due(db, SIX, actor=SYSTEM))
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=releaser) for _ in range(RELEASERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert sum(returned) == DUE
    with Session(fresh_postgres) as db:
        assert ledger.verify(db) == []
        expired = db.scalar(select(func.count()).where(Transfer.status == TransferStatus.EXPIRED))
        audited = db.scalars(
            select(AuditEntry.target_id).where(AuditEntry.action == "wallet.transfer_expired")
        ).all()
        assert audit_chain.verify(db).ok
        personal = [ledger.balance_of(db, ledger.personal(insured)) for insured in ring.insured_ids]
    assert expired == DUE
    assert len(audited) == len(set(audited)) == DUE
    assert personal == [FUNDED] * DUE
