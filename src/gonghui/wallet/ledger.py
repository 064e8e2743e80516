"""The double-entry ledger: accounts, balanced postings under row locks taken in a fixed order,
idempotency keys, and the check that the books hold.

Invariants (checked by `verify`, run by `gonghui wallet verify-ledger`):
- every posting has two or more entries and they sum to zero, so all entries sum to zero;
- no account but the outside world's (funding, payees) is ever below zero;
- each cached balance equals the sum of its account's entries;
- a giver's held account equals their pending transfers, and every transfer was held once and,
  once decided, settled once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import bindparam, case, delete, func, insert, literal, select, true, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from gonghui.core.committed import after_commit
from gonghui.core.db import insert_if_absent, table_of
from gonghui.core.errors import DomainError, InvalidInput
from gonghui.core.metrics import money_moved
from gonghui.core.money import Fen
from gonghui.wallet.models import Account, Entry, IdempotentRequest, Posting, Transfer
from gonghui.wallet.rules import (
    AccountKind,
    Refusal,
    TransferStatus,
    WalletRefused,
    check_balanced,
    request_hash,
)

MAX_KEY_LENGTH = 128
# Who the ledger names for the moves nobody asked for (the 06:00 return).
SYSTEM = "system"


ACCOUNTS = table_of(Account)
POSTINGS = table_of(Posting)
ENTRIES = table_of(Entry)
TRANSFERS = table_of(Transfer)
REQUESTS = table_of(IdempotentRequest)


@dataclass(frozen=True)
class AccountRef:
    key: str
    kind: AccountKind
    insured_id: int | None = None
    giver_id: int | None = None


FUNDING = AccountRef("funding", AccountKind.FUNDING)
PAYEES = AccountRef("payees", AccountKind.PAYEES)


def personal(insured_id: int) -> AccountRef:
    return AccountRef(f"personal:{insured_id}", AccountKind.PERSONAL, insured_id)


def held(giver_id: int) -> AccountRef:
    return AccountRef(f"held:{giver_id}", AccountKind.HELD, giver_id)


def quota(recipient_id: int, giver_id: int) -> AccountRef:
    return AccountRef(f"quota:{recipient_id}:{giver_id}", AccountKind.QUOTA, recipient_id, giver_id)


_IDS_BY_KEY = select(ACCOUNTS.c.key, ACCOUNTS.c.id).where(
    ACCOUNTS.c.key.in_(bindparam("keys", expanding=True))
)


def ensure_accounts(session: Session, refs: Sequence[AccountRef], now: datetime) -> dict[str, int]:
    """The ids of these accounts, creating any that do not exist yet (safely, if concurrent
    transactions create the same one)."""
    keys = {"keys": [ref.key for ref in refs]}
    found: dict[str, int] = {row.key: row.id for row in session.execute(_IDS_BY_KEY, keys)}
    missing = [ref for ref in refs if ref.key not in found]
    for ref in missing:
        _create(session, ref, now)
    if missing:
        found = {row.key: row.id for row in session.execute(_IDS_BY_KEY, keys)}
    return found


def _create(session: Session, ref: AccountRef, now: datetime) -> None:
    values = {
        "key": ref.key,
        "kind": ref.kind,
        "insured_id": ref.insured_id,
        "giver_id": ref.giver_id,
        "balance_fen": None if ref.kind.external else 0,
        "created_at": now,
    }
    insert_if_absent(session, Account, values, ["key"])


@dataclass(frozen=True)
class Locked:
    """Accounts locked for the rest of the transaction: their ids and cached balances."""

    ids: Mapping[str, int]
    balances: Mapping[str, Fen]

    def __getitem__(self, key: str) -> Fen:
        return self.balances[key]


_LOCK = (
    select(ACCOUNTS.c.key, ACCOUNTS.c.id, ACCOUNTS.c.balance_fen)
    .where(ACCOUNTS.c.key.in_(bindparam("keys", expanding=True)))
    .order_by(ACCOUNTS.c.id)
    .with_for_update()
)


def lock(session: Session, refs: Sequence[AccountRef], now: datetime) -> Locked:
    """Lock the accounts' rows (the outside world's are never locked), always in ascending id
    order, so that two postings touching the same accounts queue instead of deadlocking.
    One round trip when the accounts exist already, which is nearly always."""
    internal = [ref for ref in refs if not ref.kind.external]
    keys = {"keys": [ref.key for ref in internal]}
    rows = session.execute(_LOCK, keys).all()
    if len(rows) < len(set(keys["keys"])):
        known = {row.key for row in rows}
        for ref in internal:
            if ref.key not in known:
                _create(session, ref, now)
        rows = session.execute(_LOCK, keys).all()
    ids = {row.key: row.id for row in rows}
    external = [ref for ref in refs if ref.kind.external]
    if external:
        ids |= ensure_accounts(session, external, now)
    balances = {ref.key: 0 for ref in refs} | {row.key: row.balance_fen or 0 for row in rows}
    return Locked(ids, balances)


# The guard is in the UPDATE itself: even without the row lock, no balance passes zero.
_MOVE = (
    update(ACCOUNTS)
    .where(
        ACCOUNTS.c.id == bindparam("account_id"),
        ACCOUNTS.c.balance_fen + bindparam("amount_fen") >= 0,
    )
    .values(balance_fen=ACCOUNTS.c.balance_fen + bindparam("amount_fen"))
)
_NEW_POSTING = insert(POSTINGS).returning(POSTINGS.c.id)
_NEW_ENTRY = insert(ENTRIES).inline()
# On PostgreSQL the posting and its entries are one statement: the posting's INSERT in a WITH,
# the entries from it and the legs (as two arrays, in the legs' order). One round trip fewer
# for every posting; the entries' posting id comes back.
_POSTED = (
    insert(POSTINGS)
    .values(
        kind=bindparam("posting_kind", type_=POSTINGS.c.kind.type),
        transfer_id=bindparam("posting_transfer_id", type_=POSTINGS.c.transfer_id.type),
        at=bindparam("posting_at", type_=POSTINGS.c.at.type),
        actor_label=bindparam("posting_actor_label", type_=POSTINGS.c.actor_label.type),
        memo=bindparam("posting_memo", type_=POSTINGS.c.memo.type),
    )
    .returning(POSTINGS.c.id)
    .cte("posting")
)
_LEGS = (
    func.unnest(
        bindparam("account_ids", type_=postgresql.ARRAY(ENTRIES.c.account_id.type)),
        bindparam("amounts", type_=postgresql.ARRAY(ENTRIES.c.amount_fen.type)),
    )
    .table_valued("account_id", "amount_fen")
    .render_derived(name="legs")
)
_POSTING_WITH_ENTRIES = (
    insert(ENTRIES)
    .from_select(
        ["posting_id", "account_id", "amount_fen"],
        select(_POSTED.c.id, _LEGS.c.account_id, _LEGS.c.amount_fen).select_from(
            _POSTED.join(_LEGS, true())  # one posting, each leg
        ),
    )
    .returning(ENTRIES.c.posting_id)
)


def post(
    session: Session,
    kind: str,
    legs: Sequence[tuple[AccountRef, Fen]],
    *,
    at: datetime,
    actor_label: str,
    transfer_id: int | None = None,
    memo: str = "",
    locked: Locked | None = None,
) -> int:
    """Append one balanced posting; refuse it whole if it would take an account (other than
    the outside world's) below zero. Returns the posting id. `locked`: the accounts as this
    transaction locked them, so that their ids need no second look-up."""
    check_balanced(legs)
    refs = [ref for ref, _ in legs]
    known = locked.ids if locked is not None else {}
    ids = (
        dict(known) if all(ref.key in known for ref in refs) else ensure_accounts(session, refs, at)
    )
    moves = [
        {"account_id": ids[ref.key], "amount_fen": amount}
        for ref, amount in legs
        if not ref.kind.external
    ]
    moves.sort(key=lambda move: move["account_id"])  # the lock order, should any still wait
    # One guarded UPDATE per account, sent together (executemany: one round trip where the
    # driver pipelines them, as psycopg does); the row count is their sum, so any shortfall
    # means a guard refused and the whole posting is refused.
    if moves:
        changed = session.execute(_MOVE, moves)
        if changed.rowcount != len(moves):  # type: ignore[attr-defined]
            raise WalletRefused(Refusal.INSUFFICIENT_BALANCE)
    posting = {
        "kind": kind,
        "transfer_id": transfer_id,
        "at": at,
        "actor_label": actor_label,
        "memo": memo,
    }
    posting_id = _insert_posting(session, posting, [(ids[ref.key], amount) for ref, amount in legs])
    moved = sum(amount for _, amount in legs if amount > 0)
    report_at_commit(session, kind, moved, posting_id, transfer_id, actor_label)
    return posting_id


def report_at_commit(
    session: Session,
    kind: str,
    moved: Fen,
    posting_id: int,
    transfer_id: int | None,
    actor_label: str,
) -> None:
    """The money a posting moved, counted in the metrics once its transaction has committed
    (`post`'s, or one a server-side function wrote)."""
    after_commit(
        session,
        lambda: money_moved(
            kind, moved, posting=posting_id, transfer=transfer_id, actor=actor_label
        ),
    )


def _insert_posting(
    session: Session, posting: Mapping[str, Any], entries: Sequence[tuple[int, Fen]]
) -> int:
    """The posting and its entries (account id, amount), in that order; the posting's id."""
    if session.get_bind().dialect.name == "postgresql":
        values = {f"posting_{name}": value for name, value in posting.items()}
        values["account_ids"] = [account_id for account_id, _ in entries]
        values["amounts"] = [amount for _, amount in entries]
        posted: Sequence[int] = session.execute(_POSTING_WITH_ENTRIES, values).scalars().all()
        return posted[0]  # the same id on each of its entries
    posting_id: int = session.execute(_NEW_POSTING, posting).scalar_one()
    session.execute(
        _NEW_ENTRY,
        [
            {"posting_id": posting_id, "account_id": account_id, "amount_fen": amount}
            for account_id, amount in entries
        ],
    )
    return posting_id


# Returning held money for a batch of transfers, set-based: a thousand postings cost the same
# few statements as one. Each listed transfer's amount goes from its giver's held account back
# to their personal account; a giver has at most one pending transfer (a unique index), so each
# account moves once per batch and an UPDATE … FROM meets each account row once.
_LISTED = TRANSFERS.c.id.in_(bindparam("transfer_ids", expanding=True))
_HOLDERS = (ACCOUNTS.c.insured_id == TRANSFERS.c.giver_id) & ACCOUNTS.c.kind.in_(
    [AccountKind.HELD, AccountKind.PERSONAL]
)
_RETURNED = case(
    (ACCOUNTS.c.kind == AccountKind.HELD, -TRANSFERS.c.amount_fen), else_=TRANSFERS.c.amount_fen
)
_LOCK_HOLDERS = (
    select(ACCOUNTS.c.id)
    .select_from(ACCOUNTS.join(TRANSFERS, _HOLDERS))
    .where(_LISTED)
    .order_by(ACCOUNTS.c.id)
    .with_for_update(of=ACCOUNTS)
)
# The same guard as `_MOVE`: no held account passes zero.
_RETURN = (
    update(ACCOUNTS)
    .where(_LISTED, _HOLDERS, ACCOUNTS.c.balance_fen + _RETURNED >= 0)
    .values(balance_fen=ACCOUNTS.c.balance_fen + _RETURNED)
)
_RETURN_POSTINGS = (
    insert(POSTINGS)
    .from_select(
        ["kind", "transfer_id", "at", "actor_label", "memo"],
        select(
            bindparam("kind", type_=POSTINGS.c.kind.type),
            TRANSFERS.c.id,
            bindparam("at", type_=POSTINGS.c.at.type),
            bindparam("actor_label", type_=POSTINGS.c.actor_label.type),
            literal("", POSTINGS.c.memo.type),
        )
        .where(_LISTED)
        .order_by(TRANSFERS.c.id),
    )
    .returning(POSTINGS.c.id, POSTINGS.c.transfer_id)
)
_RETURN_ENTRIES = insert(ENTRIES).from_select(
    ["posting_id", "account_id", "amount_fen"],
    select(POSTINGS.c.id, ACCOUNTS.c.id, _RETURNED)
    .select_from(
        POSTINGS.join(TRANSFERS, TRANSFERS.c.id == POSTINGS.c.transfer_id).join(ACCOUNTS, _HOLDERS)
    )
    .where(POSTINGS.c.id.in_(bindparam("posting_ids", expanding=True))),
)


def return_held(
    session: Session, kind: str, amounts: Mapping[int, Fen], *, at: datetime, actor_label: str
) -> None:
    """Give back the held money of these transfers (id → amount), whose rows this transaction
    has locked and decided: their givers' held and personal accounts locked in ascending id
    order, one guarded UPDATE of all their balances, one posting per transfer and its two
    entries, each kind of row by one INSERT … SELECT. All or nothing, as `post` is."""
    if not amounts:
        return
    listed = {"transfer_ids": list(amounts)}
    session.execute(_LOCK_HOLDERS, listed)
    moved = session.execute(_RETURN, listed)
    if moved.rowcount != 2 * len(amounts):  # type: ignore[attr-defined]
        raise WalletRefused(Refusal.INSUFFICIENT_BALANCE)
    posting = {**listed, "kind": kind, "at": at, "actor_label": actor_label}
    posted = {row.transfer_id: row.id for row in session.execute(_RETURN_POSTINGS, posting)}
    session.execute(_RETURN_ENTRIES, {"posting_ids": list(posted.values())})

    def report() -> None:
        for transfer_id, posting_id in sorted(posted.items()):
            fen = amounts[transfer_id]
            money_moved(kind, fen, posting=posting_id, transfer=transfer_id, actor=actor_label)

    after_commit(session, report)


def balance_of(session: Session, ref: AccountRef) -> Fen:
    value = session.scalar(select(Account.balance_fen).where(Account.key == ref.key))
    return value or 0


def check_key(key: str) -> str:
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidInput("bad_idempotency_key", "请求编号（Idempotency-Key）须为1至128个可见字符")
    return key


# The claim: INSERT … ON CONFLICT DO NOTHING on the unique (scope, key), spelt once for each
# dialect (`insert_if_absent` builds it on every call). Its row count says who claimed the key.
# (`inline()`, here and for other rows whose new id nobody reads: no RETURNING of the id.)
_UNIQUE = ["scope", "key"]
_CLAIM = {
    "postgresql": postgresql.insert(REQUESTS)
    .inline()
    .on_conflict_do_nothing(index_elements=_UNIQUE),
    "sqlite": sqlite.insert(REQUESTS).inline().on_conflict_do_nothing(index_elements=_UNIQUE),
}
_THIS_REQUEST = (REQUESTS.c.scope == bindparam("request_scope")) & (
    REQUESTS.c.key == bindparam("request_key")
)
_ANSWER = (
    update(REQUESTS)
    .where(_THIS_REQUEST)
    .values(result=bindparam("answer", type_=REQUESTS.c.result.type))
)
_FORGET = delete(REQUESTS).where(_THIS_REQUEST)
_RECORDED = select(REQUESTS.c.request_hash, REQUESTS.c.result).where(_THIS_REQUEST)


def once(
    session: Session,
    scope: str,
    key: str,
    operation: str,
    body: Mapping[str, Any],
    now: datetime,
    work: Callable[[], dict[str, Any]],
    *,
    in_one_call: Callable[[Mapping[str, Any]], dict[str, Any] | Claim] | None = None,
) -> dict[str, Any]:
    """Apply a money-moving request at most once under its idempotency key, and give every
    request with that key the same answer.

    The key is claimed first (INSERT … ON CONFLICT DO NOTHING), then `work` runs in a
    savepoint. Its result is the key's answer; so is a refusal (`WalletRefused`): the work is
    undone, the refusal recorded under the key and raised, and the entry point commits that
    record (`verification.run_money_request`). Any other error undoes the claim too. A key
    already used: the same body gets the recorded answer (the result, or the refusal raised
    again) and nothing is done; another body is refused. Between two concurrent requests with
    one key, the unique index decides: the second claim waits for the first transaction and
    then reads its answer, so that a client who retried while its first attempt was still on
    the way never hears "refused" from one attempt while the other moves the money.

    `in_one_call`, given the claim's values, claims the key, does the work and records its
    answer in one call of a server-side function, all or nothing (PostgreSQL; see `one_call`):
    its result, or `Claim.ANSWERED` (the key was used before), or `Claim.CLAIMED` (the key is
    claimed and nothing else written: `work` does it, as above)."""
    key = check_key(key)
    digest = request_hash(operation, body)
    claim = {
        "scope": scope,
        "key": key,
        "operation": operation,
        "request_hash": digest,
        "result": None,
        "created_at": now,
    }
    this_request = {"request_scope": scope, "request_key": key}
    outcome = _claim(session, claim) if in_one_call is None else in_one_call(claim)
    if outcome is Claim.ANSWERED:
        return _recorded_answer(session, this_request, digest)
    if outcome is not Claim.CLAIMED:
        return outcome  # done in one call, its answer recorded with it
    savepoint = session.begin_nested()
    try:
        result = work()
    except WalletRefused as refused:
        savepoint.rollback()
        answer = {REFUSED: refused.refusal.value, "detail": refused.detail}
        session.execute(_ANSWER, {**this_request, "answer": answer})
        raise
    except DomainError:
        savepoint.rollback()
        session.execute(_FORGET, this_request)
        raise
    except BaseException:
        if savepoint.is_active:
            savepoint.rollback()
        raise
    savepoint.commit()
    session.execute(_ANSWER, {**this_request, "answer": result})
    return result


class Claim(StrEnum):
    """What claiming an idempotency key found, when that is all that was done."""

    ANSWERED = "answered"  # the key was used before: its recorded answer is the answer
    CLAIMED = "claimed"  # the key is this request's now; its work is still to do


def _claim(session: Session, claim: Mapping[str, Any]) -> Claim:
    dialect = session.get_bind().dialect.name
    claimed = session.execute(_CLAIM[dialect], claim, execution_options={"preserve_rowcount": True})
    return Claim.CLAIMED if claimed.rowcount else Claim.ANSWERED  # type: ignore[attr-defined]


REFUSED = "refused"  # the recorded answer of a refused request: {REFUSED: code, "detail": …}


def _recorded_answer(
    session: Session, this_request: Mapping[str, str], digest: str
) -> dict[str, Any]:
    earlier = session.execute(_RECORDED, this_request).one()
    if earlier.request_hash != digest or earlier.result is None:
        raise WalletRefused(Refusal.IDEMPOTENCY_MISMATCH)
    if REFUSED in earlier.result:
        raise WalletRefused(Refusal(earlier.result[REFUSED]), earlier.result["detail"])
    answer: dict[str, Any] = earlier.result
    return answer


_EXTERNAL = [kind for kind in AccountKind if kind.external]
# Each check is one set-based query that returns only the rows in breach, so that the check
# costs a few scans of the ledger however many accounts and transfers it holds (no row of a
# healthy ledger travels to Python).
_UNBALANCED = (
    select(ENTRIES.c.posting_id, func.sum(ENTRIES.c.amount_fen), func.count())
    .group_by(ENTRIES.c.posting_id)
    .having((func.sum(ENTRIES.c.amount_fen) != 0) | (func.count() < 2))  # noqa: PLR2004
)
_EMPTY = (
    select(func.count())
    .select_from(POSTINGS)
    .where(~select(ENTRIES.c.id).where(ENTRIES.c.posting_id == POSTINGS.c.id).exists())
)
_TOTALS = (
    select(ENTRIES.c.account_id, func.sum(ENTRIES.c.amount_fen).label("total"))
    .group_by(ENTRIES.c.account_id)
    .subquery()
)
_ACCOUNT_TOTAL = func.coalesce(_TOTALS.c.total, 0)
_ACCOUNTS_IN_BREACH = (
    select(ACCOUNTS.c.key, ACCOUNTS.c.kind, ACCOUNTS.c.balance_fen, _ACCOUNT_TOTAL.label("total"))
    .select_from(ACCOUNTS.outerjoin(_TOTALS, _TOTALS.c.account_id == ACCOUNTS.c.id))
    .where(
        (ACCOUNTS.c.kind.not_in(_EXTERNAL) & (_ACCOUNT_TOTAL < 0))
        | (ACCOUNTS.c.balance_fen.is_not(None) & (ACCOUNTS.c.balance_fen != _ACCOUNT_TOTAL))
    )
    .order_by(ACCOUNTS.c.id)
)
_PENDING_BY_GIVER = (
    select(TRANSFERS.c.giver_id, func.sum(TRANSFERS.c.amount_fen).label("pending"))
    .where(TRANSFERS.c.status == TransferStatus.PENDING)
    .group_by(TRANSFERS.c.giver_id)
    .subquery()
)
_HELD_IN_BREACH = (
    select(ACCOUNTS.c.insured_id)
    .select_from(
        ACCOUNTS.outerjoin(_TOTALS, _TOTALS.c.account_id == ACCOUNTS.c.id).outerjoin(
            _PENDING_BY_GIVER, _PENDING_BY_GIVER.c.giver_id == ACCOUNTS.c.insured_id
        )
    )
    .where(
        ACCOUNTS.c.kind == AccountKind.HELD,
        func.coalesce(_PENDING_BY_GIVER.c.pending, 0) != _ACCOUNT_TOTAL,
    )
    .order_by(ACCOUNTS.c.id)
)
_POSTINGS_PER_TRANSFER = (
    select(POSTINGS.c.transfer_id, func.count().label("n"))
    .where(POSTINGS.c.transfer_id.is_not(None))
    .group_by(POSTINGS.c.transfer_id)
    .subquery()
)
_FOUND = func.coalesce(_POSTINGS_PER_TRANSFER.c.n, 0)
_EXPECTED = case((TRANSFERS.c.status == TransferStatus.PENDING, 1), else_=2)
_TRANSFERS_IN_BREACH = (
    select(TRANSFERS.c.id, TRANSFERS.c.status, _EXPECTED.label("expected"), _FOUND.label("found"))
    .select_from(
        TRANSFERS.outerjoin(
            _POSTINGS_PER_TRANSFER, _POSTINGS_PER_TRANSFER.c.transfer_id == TRANSFERS.c.id
        )
    )
    .where(_FOUND != _EXPECTED)
    .order_by(TRANSFERS.c.id)
)


def verify(session: Session) -> list[str]:
    """Every violation of the ledger's invariants, in words; empty when the books hold."""
    problems = [
        f"记账凭证 {posting_id} 借贷不平：分录合计 {total} 分，{count} 条分录"
        for posting_id, total, count in session.execute(_UNBALANCED)
    ]
    empty = session.scalar(_EMPTY)
    if empty:
        problems.append(f"{empty} 张记账凭证没有分录")
    for account in session.execute(_ACCOUNTS_IN_BREACH):
        total = int(account.total)
        if not account.kind.external and total < 0:
            problems.append(f"账户 {account.key} 余额为负：{total} 分")
        if account.balance_fen is not None and account.balance_fen != total:
            problems.append(
                f"账户 {account.key} 缓存余额 {account.balance_fen} 分与分录合计 {total} 分不符"
            )
    problems += [
        f"参保人 {giver_id} 的在途金额与待接收转账合计不符"
        for (giver_id,) in session.execute(_HELD_IN_BREACH)
    ]
    problems += [
        f"转账 {row.id}（{row.status.label}）应有 {row.expected} 张凭证，实有 {row.found} 张"
        for row in session.execute(_TRANSFERS_IN_BREACH)
    ]
    return problems
