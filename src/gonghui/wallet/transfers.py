"""Transfers between relatives: submit (held) → accepted (posted to the recipient's quota from
this giver) or released at the next 06:00; and the agency funding personal accounts.

Lock order, the same everywhere so that concurrent moves queue instead of deadlocking: first
the relationship row (submit, dissolution), then the transfer row (accept, release, void), then
ledger accounts in ascending id order. Submit locks the relationship it sends in because a
dissolution changes it: a dissolution that starts while a transfer is being submitted waits for
that submit to commit and then voids its transfer, and a submit that starts while a dissolution
is under way waits for it and then finds no relationship in force (issue 13.8).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeAlias

from sqlalchemy import (
    ColumnElement,
    Insert,
    Row,
    bindparam,
    cast,
    func,
    insert,
    literal,
    null,
    select,
    update,
)
from sqlalchemy.orm import Session

from gonghui.core import audit
from gonghui.core.auth import Actor, Permission
from gonghui.core.clock import business_date
from gonghui.core.db import json_object, table_of
from gonghui.core.errors import DomainError, NotFound
from gonghui.core.money import Fen
from gonghui.wallet import ledger, one_call, queries
from gonghui.wallet.models import (
    Insured,
    Region,
    Relationship,
    Transfer,
    TransferEvent,
)
from gonghui.wallet.regions import opened_by
from gonghui.wallet.rules import (
    Refusal,
    RelationshipStatus,
    TransferFacts,
    TransferStatus,
    WalletRefused,
    release_at,
    transfer_refusals,
)
from gonghui.wallet.verification import FaceVerifier, Proof, check, password_succeeded


def scope_of(actor: Actor) -> str:
    """Whose idempotency keys these are: a key names a request of one client only."""
    return f"user:{actor.user_id}" if actor.user_id is not None else f"actor:{actor.username}"


def receipt(transfer: Mapping[Any, Any]) -> dict[str, Any]:
    """A transfer's answer to its client, from its row (or the values just inserted)."""
    return {
        "transfer_id": transfer["id"],
        "status": transfer["status"].value,
        "amount_fen": transfer["amount_fen"],
        "giver_id": transfer["giver_id"],
        "recipient_id": transfer["recipient_id"],
        "submitted_at": transfer["submitted_at"].astimezone(UTC).isoformat(),
        "release_at": transfer["release_at"].astimezone(UTC).isoformat(),
    }


def fund_personal_account(
    session: Session,
    insured_id: int,
    amount_fen: Fen,
    *,
    idempotency_key: str,
    actor: Actor,
    now: datetime,
) -> dict[str, Any]:
    """The employee fund credits a personal account (the monthly 划入)."""
    if actor.role is not None:
        actor.require(Permission.WALLET_OPERATE)
    body = {"insured_id": insured_id, "amount_fen": amount_fen}
    return ledger.once(
        session,
        scope_of(actor),
        idempotency_key,
        "fund",
        body,
        now,
        lambda: _fund(session, insured_id, amount_fen, actor, now),
    )


def _fund(
    session: Session, insured_id: int, amount_fen: Fen, actor: Actor, now: datetime
) -> dict[str, Any]:
    if amount_fen <= 0:
        raise WalletRefused(Refusal.AMOUNT_INVALID)
    insured = session.get(Insured, insured_id)
    if insured is None:
        raise NotFound("参保人")
    if insured.scheme.value != "employee":
        raise WalletRefused(Refusal.NOT_EMPLOYEE_INSURED)
    posting = ledger.post(
        session,
        "fund",
        [(ledger.FUNDING, -amount_fen), (ledger.personal(insured_id), amount_fen)],
        at=now,
        actor_label=actor.username,
        memo="个人账户划入",
    )
    audit.record(
        session,
        actor=actor,
        at=now,
        action="wallet.personal_account_funded",
        target_type="wallet_insured",
        target_id=insured_id,
        after={"amount_fen": amount_fen, "posting_id": posting},
    )
    return {"posting_id": posting, "insured_id": insured_id, "amount_fen": amount_fen}


# The statements of the hot path, built once (see `core.db.table_of` for why).
_TRANSFERS = table_of(Transfer)
_EVENTS = table_of(TransferEvent)
_REGIONS = table_of(Region)
_INSURED = table_of(Insured)
_RELATIONSHIPS = table_of(Relationship)
# A transfer as the statements below return it (`_DECIDED`'s columns).
_TransferRow: TypeAlias = Row[*tuple[Any, ...]]
_NOW = bindparam("now", type_=_TRANSFERS.c.release_at.type)
_PENDING = _TRANSFERS.c.status == TransferStatus.PENDING


def submit_transfer(
    session: Session,
    *,
    actor: Actor,
    recipient_id: int,
    amount_fen: Fen,
    proof: Proof,
    verifier: FaceVerifier,
    idempotency_key: str,
    now: datetime,
) -> dict[str, Any]:
    """Send money to a relative: every rule checked under the giver's row locks, the person
    verified, the amount held until the relative accepts it or 06:00 comes."""
    giver = queries.own_sender(session, actor, recipient_id)
    body = {"recipient_id": recipient_id, "amount_fen": amount_fen, "method": proof.method.value}
    # The one-call path (see `one_call`) for a request the rules do not refuse on its face.
    ahead = one_call.taken(session) and not _refused_unread(giver, amount_fen, now)
    verify = _verification(giver, proof, verifier, now, ahead=ahead)

    def work() -> dict[str, Any]:
        return _submit(session, actor, giver, recipient_id, amount_fen, proof, verify, now)

    def in_one_call(claim: Mapping[str, Any]) -> dict[str, Any] | ledger.Claim:
        # The relationship is the function's to find (0 here, never written).
        values = _new_values(giver, recipient_id, 0, amount_fen, proof, now)
        done = one_call.submitted(session, claim, actor=actor, giver=giver, values=values)
        if isinstance(done, ledger.Claim):
            return done
        # The function's guard only decided whether to go on; the rules are these.
        facts = _facts_read(done, giver, amount_fen, now, balance_fen=done.personal_balance)
        if refusals := transfer_refusals(facts):
            # Never committed: the request's transaction rolls back with this error.
            msg = f"wallet_submit_transfer moved money the rules refuse ({refusals[0]}): {facts}"
            raise RuntimeError(msg)
        return receipt({**values, "id": done.new_transfer})

    fast = in_one_call if ahead and verify is _verified else None
    key = idempotency_key
    return ledger.once(session, scope_of(actor), key, "submit", body, now, work, in_one_call=fast)


def _refused_unread(giver: queries.Sender, amount_fen: Fen, now: datetime) -> bool:
    """Whether the rules refuse the transfer on what is known before any read (its amount, the
    hour, the giver's own insurance): such a request goes the service's own path, which says
    why."""
    unread = TransferFacts(
        amount_fen=amount_fen,
        now=now,
        giver_region_open=True,
        recipient_region_open=True,
        relationship_active=True,
        both_insured=giver.ended_on is None,
        transfers_today=0,
        has_pending=False,
        balance_fen=amount_fen,
    )
    return bool(transfer_refusals(unread))


def _verified() -> None:
    """The identity check, passed already."""


def _verification(
    giver: queries.Sender, proof: Proof, verifier: FaceVerifier, now: datetime, *, ahead: bool
) -> Callable[[], None]:
    """The identity check as `_submit` runs it, after the rules. `ahead`: checked here, before
    any lock is taken (the one-call path needs it done first, and an outside face service is
    then not called while rows are locked), and its outcome kept for `_submit` should the
    request go the service's own path after all: the verifier is called once either way."""
    if not ahead:
        return lambda: check(giver.wallet, giver.id, proof, verifier, now)
    try:
        check(giver.wallet, giver.id, proof, verifier, now)
    except DomainError as refused:  # a refusal, or no verifier to ask
        return partial(_refuse, refused)
    return _verified


def _refuse(refusal: DomainError) -> None:
    raise refusal


_NEW_TRANSFER = insert(_TRANSFERS).returning(_TRANSFERS.c.id)
_IN_FORCE = _RELATIONSHIPS.c.status == RelationshipStatus.ACTIVE
# The relationship's lock, and whether the giver has a transfer due to return (read without a
# lock, as `_DUE_FROM_GIVER` finds its rows; nearly always none, and then that statement, a
# round trip, is left out).
_LOCK_RELATIONSHIP = (
    select(
        _RELATIONSHIPS.c.id,
        select(_TRANSFERS.c.id)
        .where(_TRANSFERS.c.giver_id == bindparam("giver_id"), _PENDING)
        .where(_TRANSFERS.c.release_at <= _NOW)
        .exists()
        .label("due"),
    )
    .where(
        _RELATIONSHIPS.c.giver_id == bindparam("giver_id"),
        _RELATIONSHIPS.c.recipient_id == bindparam("recipient_id"),
        _IN_FORCE,
    )
    .with_for_update(of=_RELATIONSHIPS)
)


def _submit(
    session: Session,
    actor: Actor,
    giver: queries.Sender,
    recipient_id: int,
    amount_fen: Fen,
    proof: Proof,
    verify: Callable[[], None],
    now: datetime,
) -> dict[str, Any]:
    # The relationship first (see the lock order above); the rules read it again below.
    mine = {"giver_id": giver.id, "recipient_id": recipient_id, "now": now}
    relationship = session.execute(_LOCK_RELATIONSHIP, mine).first()
    if relationship is None or relationship.due:
        # Due releases next, in the job's own lock order (transfer row, then accounts).
        release_due(session, now, actor=actor, giver_id=giver.id)
    accounts = ledger.lock(session, [ledger.personal(giver.id), ledger.held(giver.id)], now)
    facts, relationship_id = _facts(session, giver, recipient_id, amount_fen, now)
    facts = replace(facts, balance_fen=accounts[ledger.personal(giver.id).key])
    refusals = transfer_refusals(facts)
    if refusals:
        raise WalletRefused(refusals[0])
    verify()
    password_succeeded(session, giver.wallet)
    assert relationship_id is not None  # noqa: S101 - transfer_refusals refused otherwise
    values = _new_values(giver, recipient_id, relationship_id, amount_fen, proof, now)
    transfer_id = _new_transfer(session, values, actor.username)
    legs = [(ledger.personal(giver.id), -amount_fen), (ledger.held(giver.id), amount_fen)]
    ledger.post(
        session,
        "hold",
        legs,
        at=now,
        actor_label=actor.username,
        transfer_id=transfer_id,
        locked=accounts,
    )
    audit.append(
        session,
        actor=actor,
        at=now,
        action="wallet.transfer_submitted",
        target_type="wallet_transfer",
        target_id=transfer_id,
        after={"amount_fen": amount_fen, "recipient_id": recipient_id},
    )
    return receipt({"id": transfer_id, **values})


def _new_values(
    giver: queries.Sender,
    recipient_id: int,
    relationship_id: int,
    amount_fen: Fen,
    proof: Proof,
    now: datetime,
) -> dict[str, Any]:
    """A new pending transfer's row, but its id."""
    return {
        "giver_id": giver.id,
        "recipient_id": recipient_id,
        "relationship_id": relationship_id,
        "amount_fen": amount_fen,
        "status": TransferStatus.PENDING,
        "verification": proof.method,
        "submitted_at": now,
        "business_date": business_date(now),
        "release_at": release_at(now),
        "decided_at": None,
    }


# On PostgreSQL the new transfer and its first event are one statement (the INSERT in a WITH,
# the event from the id it returned). One round trip fewer.
_NEW_COLUMNS = (
    "giver_id",
    "recipient_id",
    "relationship_id",
    "amount_fen",
    "status",
    "verification",
    "submitted_at",
    "business_date",
    "release_at",
    "decided_at",
)


def _events_of(
    transfer_id: ColumnElement[int],
    from_status: TransferStatus | None,
    to_status: TransferStatus,
    at: ColumnElement[Any],
    actor_label: ColumnElement[str],
    where: ColumnElement[bool] | None = None,
) -> Insert:
    """An INSERT of one transfer event for each row `transfer_id` comes from (a statement's
    RETURNING, or the transfers `where` picks): the transfer-and-event statements below."""
    statuses = [
        null() if from_status is None else literal(from_status, _EVENTS.c.from_status.type),
        literal(to_status, _EVENTS.c.to_status.type),
    ]
    rows = select(transfer_id, *statuses, at, actor_label)
    return insert(_EVENTS).from_select(
        ["transfer_id", "from_status", "to_status", "at", "actor_label"],
        rows if where is None else rows.where(where),
    )


_ACTOR_LABEL = bindparam("actor_label", type_=_EVENTS.c.actor_label.type)
_SUBMITTED = (
    insert(_TRANSFERS)
    .values(
        {name: bindparam(f"new_{name}", type_=_TRANSFERS.c[name].type) for name in _NEW_COLUMNS}
    )
    .returning(_TRANSFERS.c.id)
    .cte("submitted")
)
_SUBMIT_WITH_EVENT = select(_SUBMITTED.c.id).add_cte(
    _events_of(
        _SUBMITTED.c.id,
        None,
        TransferStatus.PENDING,
        bindparam("new_submitted_at", type_=_EVENTS.c.at.type),
        _ACTOR_LABEL,
    ).cte("submitted_event")
)


def _new_transfer(session: Session, values: Mapping[str, Any], actor_label: str) -> int:
    """Insert a pending transfer and its first event; its id."""
    if session.get_bind().dialect.name == "postgresql":
        parameters = {f"new_{name}": value for name, value in values.items()}
        submitted = {**parameters, "actor_label": actor_label}
        new_id: int = session.execute(_SUBMIT_WITH_EVENT, submitted).scalar_one()
        return new_id
    transfer_id: int = session.execute(_NEW_TRANSFER, values).scalar_one()
    _event(session, transfer_id, None, TransferStatus.PENDING, actor_label, values["submitted_at"])
    return transfer_id


def _sent(condition: ColumnElement[bool]) -> Any:
    """How many transfers the giver has sent that meet the condition."""
    count = select(func.count()).where(_TRANSFERS.c.giver_id == bindparam("giver_id"), condition)
    return count.scalar_subquery()


_FACTS = select(
    select(_REGIONS.c.wallet_opened_on)
    .where(_REGIONS.c.id == bindparam("giver_region_id"))
    .scalar_subquery()
    .label("giver_opened"),
    select(_REGIONS.c.wallet_opened_on)
    .join(_INSURED, _INSURED.c.region_id == _REGIONS.c.id)
    .where(_INSURED.c.id == bindparam("recipient_id"))
    .scalar_subquery()
    .label("recipient_opened"),
    select(_INSURED.c.id)
    .where(_INSURED.c.id == bindparam("recipient_id"), _INSURED.c.ended_on.is_(None))
    .exists()
    .label("recipient_insured"),
    select(_RELATIONSHIPS.c.id)
    .where(
        _RELATIONSHIPS.c.giver_id == bindparam("giver_id"),
        _RELATIONSHIPS.c.recipient_id == bindparam("recipient_id"),
        _RELATIONSHIPS.c.status == RelationshipStatus.ACTIVE,
    )
    .limit(1)
    .scalar_subquery()
    .label("relationship_id"),
    _sent(_TRANSFERS.c.business_date == bindparam("today")).label("sent_today"),
    _sent(_PENDING).label("pending"),
)


def _facts(
    session: Session, giver: queries.Sender, recipient_id: int, amount_fen: Fen, now: datetime
) -> tuple[TransferFacts, int | None]:
    """Everything the submit rule needs, in one query (read after the giver's accounts are
    locked, so that a concurrent submit by the same giver is seen: which is also why it is not
    merged into the locking statement, whose snapshot predates the wait for the lock)."""
    today = business_date(now)
    parameters = {
        "giver_id": giver.id,
        "giver_region_id": giver.region_id,
        "recipient_id": recipient_id,
        "today": today,
    }
    row = session.execute(_FACTS, parameters).one()
    return _facts_read(row, giver, amount_fen, now, balance_fen=0), row.relationship_id


def _facts_read(
    row: Any, giver: queries.Sender, amount_fen: Fen, now: datetime, *, balance_fen: Fen
) -> TransferFacts:
    """The rule's facts from what a read found (`_FACTS`'s columns, or the submit function's:
    see `one_call`)."""
    today = business_date(now)
    return TransferFacts(
        amount_fen=amount_fen,
        now=now,
        giver_region_open=opened_by(row.giver_opened, today),
        recipient_region_open=opened_by(row.recipient_opened, today),
        relationship_active=row.relationship_id is not None,
        both_insured=bool(row.recipient_insured) and giver.ended_on is None,
        transfers_today=row.sent_today,
        has_pending=row.pending > 0,
        balance_fen=balance_fen,
    )


def accept_transfer(
    session: Session, transfer_id: int, *, actor: Actor, idempotency_key: str, now: datetime
) -> dict[str, Any]:
    """The recipient accepts: the held money becomes their quota from this giver."""
    me = queries.own_parameters(actor)

    def work() -> dict[str, Any]:
        return receipt(_accept(session, actor, me, transfer_id, now)._mapping)  # noqa: SLF001

    def in_one_call(claim: Mapping[str, Any]) -> dict[str, Any] | ledger.Claim:
        done = one_call.accepted(
            session, claim, actor=actor, me=me, transfer_id=transfer_id, now=now
        )
        if isinstance(done, ledger.Claim):
            return done
        return receipt({**done, "status": TransferStatus.ACCEPTED})

    fast = in_one_call if one_call.taken(session) else None
    body = {"transfer_id": transfer_id}
    key = idempotency_key
    return ledger.once(session, scope_of(actor), key, "accept", body, now, work, in_one_call=fast)


# What a decided transfer needs next: its receipt, and the amount to move from the giver's hold.
_DECIDED = (
    _TRANSFERS.c.id,
    _TRANSFERS.c.status,
    _TRANSFERS.c.amount_fen,
    _TRANSFERS.c.giver_id,
    _TRANSFERS.c.recipient_id,
    _TRANSFERS.c.submitted_at,
    _TRANSFERS.c.release_at,
)
# The transfer, if it is to the actor (scoped by the actor's own insured record, read in the
# same statement).
_INCOMING = (_TRANSFERS.c.id == bindparam("transfer_id")) & _TRANSFERS.c.recipient_id.in_(
    queries.OWN_INSURED_IDS
)
# The transfer's relationship is still in force. Read without a lock: a dissolution locks the
# pending transfer before it ends the relationship, so it either waits for this accept (and then
# returns the accepted quota) or voids the transfer first (and the status guard fails).
_RELATIONSHIP_IN_FORCE = (
    select(_RELATIONSHIPS.c.id)
    .where(_RELATIONSHIPS.c.id == _TRANSFERS.c.relationship_id, _IN_FORCE)
    .exists()
)
# Accepting, in one statement: the UPDATE takes the transfer's row lock (first in the lock
# order) and its status guard lets exactly one of accept and release win, as `_decide` does.
_ACCEPT_IF_PENDING = (
    update(_TRANSFERS)
    .where(_INCOMING, _PENDING, _TRANSFERS.c.release_at > _NOW, _RELATIONSHIP_IN_FORCE)
    .values(status=TransferStatus.ACCEPTED, decided_at=_NOW)
    .returning(*_DECIDED)
)
# On PostgreSQL the acceptance and its event are one statement (the UPDATE in a WITH, the
# event inserted from what it returned: none when the guard refused). One round trip fewer.
_ACCEPTED = _ACCEPT_IF_PENDING.cte("accepted")
_ACCEPT_WITH_EVENT = select(*_ACCEPTED.c).add_cte(
    _events_of(
        _ACCEPTED.c.id, TransferStatus.PENDING, TransferStatus.ACCEPTED, _NOW, _ACTOR_LABEL
    ).cte("accepted_event")
)
_INCOMING_FOR_UPDATE = (
    select(*_DECIDED, _RELATIONSHIP_IN_FORCE.label("in_force"))
    .where(_INCOMING)
    .with_for_update(of=_TRANSFERS)
)


def _accept(
    session: Session, actor: Actor, me: Mapping[str, Any], transfer_id: int, now: datetime
) -> _TransferRow:
    mine = {**me, "transfer_id": transfer_id, "now": now, "actor_label": actor.username}
    transfer = _accept_if_pending(session, mine)
    if transfer is None:
        transfer = _accept_otherwise(session, actor, mine, now)
    to = ledger.quota(transfer.recipient_id, transfer.giver_id)
    _settle(session, transfer, to, "accept", actor.username, now)
    audit.append(
        session,
        actor=actor,
        at=now,
        action="wallet.transfer_accepted",
        target_type="wallet_transfer",
        target_id=transfer_id,
        after={"amount_fen": transfer.amount_fen, "giver_id": transfer.giver_id},
    )
    return transfer


def _accept_if_pending(session: Session, mine: Mapping[str, Any]) -> _TransferRow | None:
    """The transfer accepted and its event written, if it is the actor's, pending, not due and
    its relationship in force; else nothing changed."""
    if session.get_bind().dialect.name == "postgresql":
        accepted: _TransferRow | None = session.execute(_ACCEPT_WITH_EVENT, mine).one_or_none()
        return accepted
    transfer = session.execute(_ACCEPT_IF_PENDING, mine).one_or_none()
    if transfer is not None:
        pending, accepted_status = TransferStatus.PENDING, TransferStatus.ACCEPTED
        _event(session, transfer.id, pending, accepted_status, mine["actor_label"], mine["now"])
    return transfer


def _accept_otherwise(
    session: Session, actor: Actor, mine: Mapping[str, Any], now: datetime
) -> _TransferRow:
    """Why the transfer could not be accepted: the actor is no insured person, the transfer is
    not theirs, no longer pending, or due to return; the rules as they read under the row
    lock."""
    transfer = session.execute(_INCOMING_FOR_UPDATE, mine).one_or_none()
    if transfer is None:
        queries.own_insured_id(session, actor)  # 参保信息 not found, if that is why
        raise NotFound("转账")
    if transfer.status is TransferStatus.PENDING and transfer.release_at <= now:
        # Refused as returned. Not released here: the refusal undoes this request's work (see
        # `ledger.once`); the 06:00 job, or the giver's next submit, returns the money.
        raise WalletRefused(Refusal.NOT_PENDING, TransferStatus.EXPIRED.label)
    if transfer.status is not TransferStatus.PENDING:
        raise WalletRefused(Refusal.NOT_PENDING, transfer.status.label)
    if not transfer.in_force:
        raise WalletRefused(Refusal.RELATIONSHIP_NOT_ACTIVE, "共济关系已解除")
    # Pending and not due: a row the UPDATE's snapshot did not see yet (committed since), now
    # locked by this transaction; decided the same way.
    accepted = _accept_if_pending(session, mine)
    assert accepted is not None  # noqa: S101 - pending, not due, in force, and locked by us
    return accepted


def _settle(
    session: Session,
    transfer: _TransferRow,
    to: ledger.AccountRef,
    kind: str,
    actor_label: str,
    now: datetime,
) -> None:
    """Move a decided transfer's held money on: to the recipient's quota, or back home."""
    held = ledger.held(transfer.giver_id)
    accounts = ledger.lock(session, [held, to], now)
    legs = [(held, -transfer.amount_fen), (to, transfer.amount_fen)]
    ledger.post(
        session,
        kind,
        legs,
        at=now,
        actor_label=actor_label,
        transfer_id=transfer.id,
        locked=accounts,
    )


# The status guard makes accept and release race safely: exactly one of them wins.
_DECIDE = (
    update(_TRANSFERS)
    .where(_TRANSFERS.c.id == bindparam("transfer_id"), _PENDING)
    .values(status=bindparam("new_status", type_=_TRANSFERS.c.status.type), decided_at=_NOW)
)


def _decide(
    session: Session, transfer_id: int, new: TransferStatus, actor_label: str, now: datetime
) -> None:
    changed = session.execute(_DECIDE, {"transfer_id": transfer_id, "new_status": new, "now": now})
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise WalletRefused(Refusal.NOT_PENDING)
    _event(session, transfer_id, TransferStatus.PENDING, new, actor_label, now)


def _release(
    session: Session, transfer: _TransferRow, new: TransferStatus, actor_label: str, now: datetime
) -> None:
    """Return a pending transfer's money to the giver (expired, or the relationship ended)."""
    _decide(session, transfer.id, new, actor_label, now)
    kind = "expire" if new is TransferStatus.EXPIRED else "void"
    _settle(session, transfer, ledger.personal(transfer.giver_id), kind, actor_label, now)


_DUE = (
    select(*_DECIDED)
    .where(_PENDING, _TRANSFERS.c.release_at <= _NOW)
    .order_by(_TRANSFERS.c.id)
    .with_for_update(skip_locked=True)
)
_DUE_FROM_GIVER = _DUE.where(_TRANSFERS.c.giver_id == bindparam("giver_id"))


# How many due transfers the job releases per batch: each batch is the same eight set-based
# statements whatever its size (see `_expire_many`).
RELEASE_BATCH = 1000
_LISTED = _TRANSFERS.c.id.in_(bindparam("transfer_ids", expanding=True))
_EXPIRE_MANY = (
    update(_TRANSFERS)
    .where(_LISTED, _PENDING)
    .values(status=TransferStatus.EXPIRED, decided_at=_NOW)
)
_EXPIRED_EVENTS = _events_of(
    _TRANSFERS.c.id,
    TransferStatus.PENDING,
    TransferStatus.EXPIRED,
    _NOW,
    literal(ledger.SYSTEM, _EVENTS.c.actor_label.type),
    where=_LISTED,
)
# One audit row per returned transfer, as `audit.append` would write it, in one statement.
_AUDIT = audit.TABLE
_EXPIRED_AUDIT = (
    insert(_AUDIT)
    .from_select(
        list(audit.WRITTEN),
        select(
            _NOW,
            bindparam("actor_user_id", type_=_AUDIT.c.actor_user_id.type),
            bindparam("actor_token_id", type_=_AUDIT.c.actor_token_id.type),
            bindparam("actor_label", type_=_AUDIT.c.actor_label.type),
            literal("wallet.transfer_expired", _AUDIT.c.action.type),
            literal("wallet_transfer", _AUDIT.c.target_type.type),
            cast(_TRANSFERS.c.id, _AUDIT.c.target_id.type),
            null().cast(_AUDIT.c.before.type),
            json_object(
                ("amount_fen", _TRANSFERS.c.amount_fen),
                ("giver_id", _TRANSFERS.c.giver_id),
                ("recipient_id", _TRANSFERS.c.recipient_id),
            ),
        )
        .where(_LISTED)
        .order_by(_TRANSFERS.c.id),
    )
    .returning(_AUDIT.c.id)
)


def release_due(
    session: Session, now: datetime, *, actor: Actor, giver_id: int | None = None
) -> int:
    """The 06:00 job: every pending transfer whose time has come goes back to its giver, each
    with its event, its posting and its audit row (`wallet.transfer_expired`, under `actor`:
    the job, the CLI's operator, or the giver whose submit returned their own).
    Safe to run twice, or concurrently: each release is guarded by the transfer's status and
    takes its row lock first (SKIP LOCKED leaves one being accepted right now to its owner).
    The job releases in batches of `RELEASE_BATCH`, in the same lock order (the batch's
    transfer rows, then their accounts in ascending id order); a giver's submit releases its
    own one the same way."""
    if giver_id is not None:
        due = session.execute(_DUE_FROM_GIVER, {"now": now, "giver_id": giver_id}).all()
        _expire_many(session, due, actor, now)
        return len(due)
    released = 0
    while due := session.execute(_DUE_BATCH, {"now": now, "batch": RELEASE_BATCH}).all():
        _expire_many(session, due, actor, now)
        released += len(due)
    return released


_DUE_BATCH = _DUE.limit(bindparam("batch"))


def _expire_many(
    session: Session, due: Sequence[_TransferRow], actor: Actor, now: datetime
) -> None:
    """Release a batch of due transfers whose rows this transaction holds locked, set-based:
    the status, the events, the money (`ledger.return_held`) and the audit rows each one
    statement for the whole batch."""
    if not due:
        return
    batch = {"transfer_ids": [transfer.id for transfer in due], "now": now}
    changed = session.execute(_EXPIRE_MANY, batch)
    if changed.rowcount != len(due):  # type: ignore[attr-defined]
        raise WalletRefused(Refusal.NOT_PENDING)
    session.execute(_EXPIRED_EVENTS, batch)
    amounts = {transfer.id: transfer.amount_fen for transfer in due}
    ledger.return_held(session, "expire", amounts, at=now, actor_label=ledger.SYSTEM)
    by = {
        "actor_user_id": actor.user_id,
        "actor_token_id": actor.token_id,
        "actor_label": audit.label_of(actor),
    }
    audited = session.execute(_EXPIRED_AUDIT, batch | by).scalars().all()
    audit.chain_at_commit(session, audited)


_PENDING_IN_RELATIONSHIP = (
    select(*_DECIDED)
    .where(_TRANSFERS.c.relationship_id == bindparam("relationship_id"), _PENDING)
    .with_for_update()
)


def void_pending(session: Session, relationship_id: int, actor_label: str, now: datetime) -> None:
    pending = session.execute(_PENDING_IN_RELATIONSHIP, {"relationship_id": relationship_id})
    for transfer in pending.all():
        _release(session, transfer, TransferStatus.VOIDED, actor_label, now)


_NEW_EVENT = insert(_EVENTS).inline()  # no RETURNING of the new id, which nobody reads


def _event(
    session: Session,
    transfer_id: int,
    old: TransferStatus | None,
    new: TransferStatus,
    actor_label: str,
    now: datetime,
) -> None:
    event = {
        "transfer_id": transfer_id,
        "from_status": old,
        "to_status": new,
        "at": now,
        "actor_label": actor_label,
    }
    session.execute(_NEW_EVENT, event)
