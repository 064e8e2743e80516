"""The one-call path on PostgreSQL (`wallet.one_call`): a submit or an accept is one call of a
server-side function, which must write exactly what the service's own statements write, leave
the transfer rules to Python, and link its audit rows onto the chain as the commit happens."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, event, func, select, text, update
from sqlalchemy.orm import Session

from gonghui.core import audit_chain
from gonghui.core.audit import AuditEntry
from gonghui.core.audit_chain import AuditLink, AuditLinkDue
from gonghui.core.errors import DomainError
from gonghui.core.pii import IdentityVault
from gonghui.wallet import ledger, one_call, transfers
from gonghui.wallet.models import (
    Account,
    Entry,
    IdempotentRequest,
    Posting,
    Transfer,
    TransferEvent,
    Wallet,
)
from gonghui.wallet.rules import request_hash
from gonghui.wallet.verification import Proof, Verification
from tests.conftest import NOW
from tests.wallet.scenario import FACE, PASSWORD, Ring, build_ring, verifier

pytestmark = pytest.mark.postgres_only
FUNDED = 100_000
WRONG_FACE = Proof(Verification.FACE, "someone else")


@pytest.fixture
def ring(fresh_postgres: Engine) -> Ring:
    with Session(fresh_postgres) as db, db.begin():
        return build_ring(db, IdentityVault("one-call"), NOW, 3, FUNDED)


def _submit(db: Session, ring: Ring, fen: int, key: str, now: datetime, proof: Proof = FACE) -> Any:
    return transfers.submit_transfer(
        db, actor=ring.actors[0], recipient_id=ring.insured_ids[1], amount_fen=fen, proof=proof,
        verifier=verifier(), idempotency_key=key, now=now,
    )  # fmt: skip


def _accept(db: Session, ring: Ring, transfer_id: int, key: str, now: datetime) -> Any:
    return transfers.accept_transfer(
        db, transfer_id, actor=ring.actors[1], idempotency_key=key, now=now
    )


def _refused(call: Callable[[], object]) -> str:
    with pytest.raises(DomainError) as refused:
        call()
    return refused.value.code


def _day(n: int) -> datetime:
    # 10:00 Beijing on the nth day, with microseconds (as the clock gives them) but on day 0.
    return NOW + timedelta(days=n, microseconds=0 if n == 0 else 120_500 * n)


def _story(db: Session, ring: Ring) -> list[Any]:
    """Everything a giver and a recipient do in a week, the answers in order: the first
    transfer (the held and quota accounts opened on the way), a retry, refusals, a right
    password after a wrong one, a transfer not accepted in time, a face that does not match."""
    answers: list[Any] = []
    first = _submit(db, ring, 300, "s1", _day(0))
    answers += [first, _submit(db, ring, 300, "s1", _day(0))]  # the retry: the same answer
    answers.append(_accept(db, ring, first["transfer_id"], "a1", _day(0)))
    answers.append(_accept(db, ring, first["transfer_id"], "a1", _day(0)))
    answers.append(_refused(lambda: _submit(db, ring, FUNDED, "s2", _day(1))))  # too much
    db.execute(update(Wallet).where(Wallet.insured_id == ring.insured_ids[0]).values(
        password_failures=2, last_password_failure=_day(1)
    ))  # fmt: skip
    second = _submit(db, ring, 250, "s3", _day(1), PASSWORD)
    answers += [second, _accept(db, ring, second["transfer_id"], "a3", _day(1))]
    late = _submit(db, ring, 120, "s4", _day(2))
    answers.append(late)
    answers.append(_refused(lambda: _submit(db, ring, 50, "s4b", _day(2))))  # one is pending
    answers.append(_refused(lambda: _accept(db, ring, late["transfer_id"], "a4", _day(3))))
    answers.append(_submit(db, ring, 80, "s5", _day(3)))  # returns the late one first
    answers.append(_refused(lambda: _submit(db, ring, 80, "s6", _day(4), WRONG_FACE)))
    return answers


def _snapshot(db: Session, since: dict[str, int], answers: list[Any]) -> dict[str, Any]:
    """What the story wrote, with new ids replaced by their order (the two runs draw different
    ids from the sequences) and accounts named by key."""
    new = {
        name: db.scalars(select(model.id).where(model.id > since[name]).order_by(model.id)).all()
        for name, model in (("transfer", Transfer), ("posting", Posting), ("audit", AuditEntry))
    }
    order = {name: {old: n for n, old in enumerate(ids)} for name, ids in new.items()}
    keys = {row.id: row.key for row in db.execute(select(Account.id, Account.key))}

    def transfer(value: Any) -> Any:
        return order["transfer"].get(int(value), value) if value is not None else None

    def rows(model: Any, *where: Any) -> list[dict[str, Any]]:
        table = model.__table__
        found = db.execute(select(table).where(*where).order_by(table.c.id)).mappings()
        return [{k: v for k, v in row.items() if k != "id"} for row in found]

    def fingerprint(request: dict[str, Any]) -> str:
        # An accept's body names its transfer by id: the same request names a different id.
        for n, transfer_id in enumerate(new["transfer"]):
            if request["request_hash"] == request_hash("accept", {"transfer_id": transfer_id}):
                return f"accept #{n}"
        return str(request["request_hash"])

    def answer(value: Any) -> Any:
        if isinstance(value, dict) and "transfer_id" in value:
            return {**value, "transfer_id": transfer(value["transfer_id"])}
        return value

    return {
        "answers": [answer(a) for a in answers],
        "transfers": rows(Transfer, Transfer.id.in_(new["transfer"])),
        "events": [
            {**e, "transfer_id": transfer(e["transfer_id"])}
            for e in rows(TransferEvent, TransferEvent.transfer_id.in_(new["transfer"]))
        ],
        "postings": [
            {**p, "transfer_id": transfer(p["transfer_id"])}
            for p in rows(Posting, Posting.id.in_(new["posting"]))
        ],
        "entries": [
            (order["posting"][e["posting_id"]], keys[e["account_id"]], e["amount_fen"])
            for e in rows(Entry, Entry.posting_id.in_(new["posting"]))
        ],
        "accounts": {
            row.key: (row.kind, row.insured_id, row.giver_id, row.balance_fen)
            for row in db.execute(select(Account)).scalars().all()
        },
        "audit": [
            {**a, "target_id": transfer(a["target_id"])}
            for a in rows(AuditEntry, AuditEntry.id.in_(new["audit"]))
        ],
        "requests": [
            {**r, "result": answer(r["result"]), "request_hash": fingerprint(r)}
            for r in rows(IdempotentRequest, IdempotentRequest.created_at >= NOW)
        ],
        "wallets": db.execute(
            select(Wallet.insured_id, Wallet.password_failures).order_by(Wallet.insured_id)
        ).all(),
    }


def _run(
    engine: Engine, ring: Ring, *, own_path: bool, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    """The story on a rolled-back transaction, through the one-call path or the service's own
    statements: what it wrote, and how many function calls it made."""
    sent: list[str] = []
    with monkeypatch.context() as patch, Session(engine) as db:
        if own_path:
            patch.setattr(one_call, "taken", lambda _session: False)
        since = {
            "transfer": db.scalar(select(func.coalesce(func.max(Transfer.id), 0))),
            "posting": db.scalar(select(func.coalesce(func.max(Posting.id), 0))),
            "audit": db.scalar(select(func.coalesce(func.max(AuditEntry.id), 0))),
        }
        listener = lambda *args: sent.append(args[2])  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            answers = _story(db, ring)
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        snapshot = _snapshot(db, since, answers)
        db.rollback()
    snapshot["calls"] = sum(
        "wallet_submit_transfer" in s or "wallet_accept_transfer" in s for s in sent
    )
    return snapshot


def test_the_one_call_path_writes_what_the_service_s_own_statements_write(
    fresh_postgres: Engine, ring: Ring, monkeypatch: pytest.MonkeyPatch
) -> None:
    own = _run(fresh_postgres, ring, own_path=True, monkeypatch=monkeypatch)
    one = _run(fresh_postgres, ring, own_path=False, monkeypatch=monkeypatch)
    assert own.pop("calls") == 0
    assert one.pop("calls") >= 7  # every submit and accept that got past its face
    assert one == own
    assert [a if isinstance(a, str) else a["status"] for a in one["answers"]] == [
        "pending", "pending", "accepted", "accepted", "insufficient_balance", "pending",
        "accepted", "pending", "pending_transfer", "transfer_not_pending", "pending",
        "verification_failed",
    ]  # fmt: skip
    assert one["wallets"][0][1] == 0  # the right password ended the run of wrong ones


def test_a_one_call_pair_is_linked_onto_the_chain_as_it_commits(
    fresh_postgres: Engine, ring: Ring
) -> None:
    for day in range(3):
        with Session(fresh_postgres) as db, db.begin():
            sent = _submit(db, ring, 100, f"s{day}", _day(day))
            assert db.scalar(select(func.count()).select_from(AuditLinkDue)) == 1
        with Session(fresh_postgres) as db, db.begin():
            accepted = _accept(db, ring, sent["transfer_id"], f"a{day}", _day(day))
        with Session(fresh_postgres) as db:
            keys = IdempotentRequest.key.in_([f"s{day}", f"a{day}"])
            recorded = db.scalars(
                select(IdempotentRequest.result).where(keys).order_by(IdempotentRequest.id)
            ).all()
            assert recorded == [sent, accepted]  # a retry hears exactly the first answer
    with Session(fresh_postgres) as db:
        assert db.scalar(select(func.count()).select_from(AuditLinkDue)) == 0
        linked = db.scalar(select(func.count()).select_from(AuditLink))
        assert linked == db.scalar(select(func.count()).select_from(AuditEntry))
        verdict = audit_chain.verify(db)
        assert verdict.ok, verdict.reason
        assert ledger.verify(db) == []


def test_the_rules_in_python_undo_a_transfer_the_function_would_let_through(
    fresh_postgres: Engine, ring: Ring, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(one_call, "MAX_TRANSFERS_PER_DAY", 4)  # the function told one too many
    for n in range(3):
        with Session(fresh_postgres) as db, db.begin():
            sent = _submit(db, ring, 100, f"s{n}", NOW)
            _accept(db, ring, sent["transfer_id"], f"a{n}", NOW)
    with (
        pytest.raises(RuntimeError, match="daily_limit"),
        Session(fresh_postgres) as db,
        db.begin(),
    ):
        _submit(db, ring, 100, "s3", NOW)
    with Session(fresh_postgres) as db:
        assert db.scalar(select(func.count()).select_from(Transfer)) == 3
        assert ledger.balance_of(db, ledger.personal(ring.insured_ids[0])) == FUNDED - 300
        assert ledger.verify(db) == []


@pytest.fixture
def postgres(fresh_postgres: Engine) -> Iterator[Session]:
    with Session(fresh_postgres) as db:
        yield db


_TEXT = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=["Cs"]))
_INSTANT = st.datetimes(
    min_value=datetime(2000, 1, 1),  # noqa: DTZ001 - hypothesis bounds are naive
    max_value=datetime(2100, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    label=_TEXT, action=_TEXT, target_id=_TEXT, at=_INSTANT,
    user=st.none() | st.integers(1, 2**62), amount=st.integers(-(2**62), 2**62),
)  # fmt: skip
def test_the_database_spells_an_audit_row_s_bytes_as_python_does(
    postgres: Session, label: str, action: str, target_id: str, at: datetime, user: int | None,
    amount: int,
) -> None:  # fmt: skip
    after = {"amount_fen": amount, "giver_id": 7}
    row = {
        "id": 41, "at": at, "actor_user_id": user, "actor_token_id": None, "actor_label": label,
        "action": action, "target_type": "wallet_transfer", "target_id": target_id,
        "before": None, "after": after,
    }  # fmt: skip
    spelt = postgres.scalar(
        text(
            "SELECT gonghui_audit_canonical(41, :at, :user, NULL, :label, :action, "
            "'wallet_transfer', :target_id, NULL, :after)"
        ),
        {**row, "user": user, "label": label, "after": audit_chain.canonical_json(after)},
    )
    assert bytes(spelt) == audit_chain.canonical(row)
    iso = postgres.scalar(text("SELECT gonghui_isoformat(:at)"), {"at": at})
    assert iso == at.isoformat()
