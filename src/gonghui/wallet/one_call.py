"""The one-call path of a transfer on PostgreSQL: submit and accept, each one call of a function
the migrations create (`wallet_submit_transfer`, `wallet_accept_transfer`; revision
e5b1d7a3c9f4), in place of the dozen statements the service's own path sends.

Why: on the benchmark's two cores the client's CPU per statement (0.1-0.2 ms through SQLAlchemy
and psycopg), not the server's work, bounded a pair's rate at a fraction of what the same SQL
does replayed by pgbench (see `benchmarks/bench_wallet_transfers.py`). The functions write the
rows the service's own path writes, under the same locks in the same order; `transfers` decides
which path a request takes and builds the answer either way.

What stays in Python: the identity check (before the call, so that no row is locked while an
outside verifier answers), the transfer rules and the metrics. The submit function goes on only
if the facts it read under the locks pass its guard, and returns them; `transfers` checks them
against `rules.transfer_refusals`, the one statement of the rules, before anything can commit.
A function that meets anything off the common path (a refusal, a transfer due to return
first, a transfer that is not the actor's) claims the idempotency key, writes nothing else,
and says `Claim.CLAIMED`: the service's own path then does the request and says why.

The audit row each function writes is linked onto the chain as its transaction commits, by a
deferred trigger (`audit_chain.AuditLinkDue`): the chain head's lock, which every writing
transaction queues for, is then held for the commit alone, not while this process finishes
the request.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, text
from sqlalchemy.orm import Session

from gonghui.core import audit, audit_chain
from gonghui.core.auth import Actor
from gonghui.core.db import UTCDateTime
from gonghui.wallet import ledger, queries
from gonghui.wallet.rules import MAX_TRANSFERS_PER_DAY


def taken(session: Session) -> bool:
    """Whether this session's database has the functions (PostgreSQL)."""
    return session.get_bind().dialect.name == "postgresql"


# The facts it read by the names `transfers._FACTS` gives them.
_SUBMIT = text(
    "SELECT outcome, new_transfer, new_posting, giver_opened, recipient_opened, "
    "recipient_insured, in_force AS relationship_id, sent_today, pending_count AS pending, "
    "personal_balance FROM wallet_submit_transfer(:scope, :key, :request_hash, :giver_id, "
    ":recipient_id, :giver_region_id, :amount_fen, :verification, :now, :today, :release_at, "
    ":per_day, :event_label, :reset_wallet, :audit_user_id, :audit_token_id, :audit_label, "
    ":audit_after)"
).bindparams(bindparam("now", type_=UTCDateTime()), bindparam("release_at", type_=UTCDateTime()))


def submitted(
    session: Session,
    claim: Mapping[str, Any],
    *,
    actor: Actor,
    giver: queries.Sender,
    values: Mapping[str, Any],
) -> Row[Any] | ledger.Claim:
    """Claim the key and submit the transfer `values` describe (a new pending transfer's row,
    its relationship not yet known) in one call: the new transfer's id (`new_transfer`) and the
    facts the function read under the locks (for `transfers` to check against the rules), or
    how far it got."""
    now, amount_fen = values["submitted_at"], values["amount_fen"]
    after = {"amount_fen": amount_fen, "recipient_id": values["recipient_id"]}
    call = {
        **_claim_of(claim),
        "giver_id": giver.id,
        "recipient_id": values["recipient_id"],
        "giver_region_id": giver.region_id,
        "amount_fen": amount_fen,
        "verification": values["verification"].value,
        "now": now,
        "today": values["business_date"],
        "release_at": values["release_at"],
        "per_day": MAX_TRANSFERS_PER_DAY,
        "event_label": actor.username,
        # A right 医保码 password ends a run of wrong ones (`password_succeeded`).
        "reset_wallet": giver.wallet.wallet_id if giver.wallet.password_failures else None,
        **_audited_by(actor),
        "audit_after": audit_chain.canonical_json(after),
    }
    row = session.execute(_SUBMIT, call).one()
    if row.outcome != "done":
        return ledger.Claim(row.outcome)
    ledger.report_at_commit(
        session, "hold", amount_fen, row.new_posting, row.new_transfer, actor.username
    )
    return row


_ACCEPT = (
    text(
        "SELECT * FROM wallet_accept_transfer(:scope, :key, :request_hash, :transfer_id, "
        ":user_id, :member_id, :now, :event_label, :audit_user_id, :audit_token_id, "
        ":audit_label)"
    )
    .bindparams(bindparam("now", type_=UTCDateTime()))
    .columns(accepted_submitted_at=UTCDateTime(), accepted_release_at=UTCDateTime())
)


def accepted(
    session: Session,
    claim: Mapping[str, Any],
    *,
    actor: Actor,
    me: Mapping[str, Any],
    transfer_id: int,
    now: datetime,
) -> dict[str, Any] | ledger.Claim:
    """Claim the key and accept the actor's pending transfer in one call: the accepted
    transfer (as `transfers.receipt` reads it), or how far it got."""
    call = {
        **_claim_of(claim),
        **me,
        "transfer_id": transfer_id,
        "now": now,
        "event_label": actor.username,
        **_audited_by(actor),
    }
    row = session.execute(_ACCEPT, call).one()
    if row.outcome != "done":
        return ledger.Claim(row.outcome)
    amount_fen, giver_id = row.accepted_amount, row.accepted_giver
    ledger.report_at_commit(
        session, "accept", amount_fen, row.new_posting, transfer_id, actor.username
    )
    return {
        "id": transfer_id,
        "amount_fen": amount_fen,
        "giver_id": giver_id,
        "recipient_id": row.accepted_recipient,
        "submitted_at": row.accepted_submitted_at,
        "release_at": row.accepted_release_at,
    }


def _claim_of(claim: Mapping[str, Any]) -> dict[str, Any]:
    return {"scope": claim["scope"], "key": claim["key"], "request_hash": claim["request_hash"]}


def _audited_by(actor: Actor) -> dict[str, Any]:
    return {
        "audit_user_id": actor.user_id,
        "audit_token_id": actor.token_id,
        "audit_label": audit.label_of(actor),
    }
