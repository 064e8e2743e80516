"""Many clients move money among overlapping wallets at once (PostgreSQL, real connections,
committed for real): the books balance, nothing is overdrawn, each key is applied once."""

from __future__ import annotations

import random
import threading

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from gonghui.core.errors import DomainError
from gonghui.core.pii import IdentityVault
from gonghui.wallet import ledger, spending, transfers
from gonghui.wallet.models import IdempotentRequest, Payment, Transfer
from gonghui.wallet.rules import Purpose, TransferStatus
from tests.conftest import NOW
from tests.wallet.scenario import FACE, Ring, build_ring, verifier

pytestmark = pytest.mark.postgres_only
PEOPLE, CLIENTS, STEPS, FUNDED = 8, 8, 40, 1_000_000


def _step(db: Session, ring: Ring, rng: random.Random, me: int, key: str) -> str:
    actor, roll = ring.actors[me], rng.random()
    if roll < 0.45:
        target = ring.insured_ids[rng.choice(ring.relatives[me])]
        transfers.submit_transfer(
            db, actor, recipient_id=target, amount_fen=rng.randint(1, 200_000), proof=FACE,
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
        transfers.accept_transfer(db, actor, pending, idempotency_key=key, now=NOW)
        return "accept"
    spending.pay_from_wallet(
        db, actor, amount_fen=rng.randint(1, 50_000), purpose=Purpose.PHARMACY, payee="药房",
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
