"""Spending the wallet, and the endings of a relationship that return unspent money.

The recipient pays a designated institution or a resident / long-term-care contribution; never
cash. Several givers' quotas are spent oldest lot first (`rules.spend_oldest_first`). A
dissolution, by either party or because an insurance ended or moved region, voids the pair's
pending transfer and returns the giver's unspent quota to the giver's personal account.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gonghui.core import audit
from gonghui.core.auth import Actor, Permission
from gonghui.core.clock import business_date
from gonghui.core.errors import Conflict, InvalidInput, NotFound
from gonghui.core.money import Fen
from gonghui.wallet import ledger, people, queries, regions, transfers
from gonghui.wallet.models import (
    Account,
    Insured,
    Payment,
    Region,
    Relationship,
    Spending,
    Transfer,
    Wallet,
)
from gonghui.wallet.rules import (
    AccountKind,
    Lot,
    Purpose,
    Refusal,
    RelationshipStatus,
    TransferStatus,
    WalletRefused,
    remaining_lots,
    spend_oldest_first,
)


def quota_balances(session: Session, recipient_id: int) -> dict[int, Fen]:
    """What the recipient may still spend, per giver."""
    rows = session.execute(
        select(Account.giver_id, Account.balance_fen).where(
            Account.kind == AccountKind.QUOTA, Account.insured_id == recipient_id
        )
    ).all()
    return {row.giver_id: row.balance_fen or 0 for row in rows if row.giver_id is not None}


def lots_of(session: Session, recipient_id: int, balances: dict[int, Fen]) -> list[Lot]:
    accepted = session.execute(
        select(Transfer.giver_id, Transfer.decided_at, Transfer.id, Transfer.amount_fen).where(
            Transfer.recipient_id == recipient_id, Transfer.status == TransferStatus.ACCEPTED
        )
    ).all()
    lots = [Lot(row.giver_id, row.decided_at, row.id, row.amount_fen) for row in accepted]
    return remaining_lots(lots, balances)


def pay_from_wallet(
    session: Session,
    *,
    actor: Actor,
    amount_fen: Fen,
    purpose: Purpose,
    payee: str,
    idempotency_key: str,
    now: datetime,
) -> dict[str, Any]:
    me = queries.own_insured(session, actor)
    wallet = people.require_wallet(session, me.id)
    if not payee.strip():
        raise InvalidInput("payee_required", "请填写定点医药机构或缴费项目名称")
    body = {"amount_fen": amount_fen, "purpose": purpose.value, "payee": payee.strip()}
    return ledger.once(
        session,
        transfers.scope_of(actor),
        idempotency_key,
        "pay",
        body,
        now,
        lambda: _pay(session, actor, me, wallet, amount_fen, purpose, payee.strip(), now),
    )


def _pay(
    session: Session,
    actor: Actor,
    me: Insured,
    wallet: Wallet,
    amount_fen: Fen,
    purpose: Purpose,
    payee: str,
    now: datetime,
) -> dict[str, Any]:
    usage = session.get(Region, wallet.usage_region_id)
    if usage is None or not regions.is_open(usage, business_date(now)):
        raise WalletRefused(Refusal.REGION_NOT_OPEN)
    givers = list(quota_balances(session, me.id))
    balances = ledger.lock(session, [ledger.quota(me.id, giver) for giver in givers], now)
    by_giver = {giver: balances[ledger.quota(me.id, giver).key] for giver in givers}
    portions = spend_oldest_first(lots_of(session, me.id, by_giver), amount_fen)
    legs = [(ledger.quota(me.id, giver), -fen) for giver, fen in portions]
    posting = ledger.post(
        session,
        "pay",
        [*legs, (ledger.PAYEES, amount_fen)],
        at=now,
        actor_label=actor.username,
        memo=f"{purpose.label}：{payee.strip()}"[:200],
    )
    payment = Payment(
        recipient_id=me.id,
        posting_id=posting,
        purpose=purpose,
        payee=payee.strip()[:128],
        amount_fen=amount_fen,
        at=now,
    )
    session.add(payment)
    session.flush()
    _spendings(session, payment, usage.code, portions, business_date(now))
    audit.record(
        session,
        actor=actor,
        at=now,
        action="wallet.paid",
        target_type="wallet_payment",
        target_id=payment.id,
        after={"amount_fen": amount_fen, "purpose": purpose.value},
    )
    portions_by_giver = {str(giver): fen for giver, fen in portions}
    return {"payment_id": payment.id, "amount_fen": amount_fen, "portions": portions_by_giver}


def _spendings(
    session: Session, payment: Payment, spent_in: str, portions: list[tuple[int, Fen]], day: date
) -> None:
    giver_regions = dict(
        session.execute(
            select(Insured.id, Region.code)
            .join(Region, Region.id == Insured.region_id)
            .where(Insured.id.in_([giver for giver, _ in portions]))
        ).all()
    )
    session.add_all(
        Spending(
            payment_id=payment.id,
            giver_id=giver,
            spent_region_code=spent_in,
            giver_region_code=giver_regions[giver],
            amount_fen=fen,
            month=day.replace(day=1),
        )
        for giver, fen in portions
    )


def dissolve_relationship(
    session: Session, relationship_id: int, *, actor: Actor, reason: str, now: datetime
) -> Fen:
    """Either party ends the relationship. Returns the fen given back to the giver."""
    relationship = queries.relationship_for(session, actor, relationship_id)
    return end_relationship(
        session, relationship, actor=actor, reason=reason or "本人解除", now=now
    )


def end_relationship(
    session: Session, relationship: Relationship, *, actor: Actor, reason: str, now: datetime
) -> Fen:
    # The relationship row first, as submit locks it (see `transfers`): a submit under way
    # commits its transfer before this looks for pending ones, and one after it finds none.
    status = session.scalar(
        select(Relationship.status).where(Relationship.id == relationship.id).with_for_update()
    )
    if status is RelationshipStatus.DISSOLVED:
        raise Conflict("relationship_dissolved", "该共济关系已解除")
    transfers.void_pending(session, relationship.id, actor.username, now)
    giver, recipient = relationship.giver_id, relationship.recipient_id
    balances = ledger.lock(session, [ledger.quota(recipient, giver), ledger.personal(giver)], now)
    unspent = balances[ledger.quota(recipient, giver).key]
    if unspent:
        legs = [(ledger.quota(recipient, giver), -unspent), (ledger.personal(giver), unspent)]
        ledger.post(session, "return", legs, at=now, actor_label=actor.username, memo=reason)
    relationship.dissolved_at, relationship.dissolution_reason = now, reason[:200]
    people.move_relationship(
        session,
        relationship,
        RelationshipStatus.DISSOLVED,
        actor_label=actor.username,
        now=now,
        note=reason,
    )
    audit.record(
        session,
        actor=actor,
        at=now,
        action="wallet.relationship_dissolved",
        target_type="wallet_relationship",
        target_id=relationship.id,
        after={"returned_fen": unspent, "reason": reason[:100]},
    )
    return unspent


def _live_relationships(session: Session, insured_id: int) -> list[Relationship]:
    # All of them locked, in id order, before any is ended: ending one locks the giver's
    # accounts, and a submit in another (which locks its relationship first, then the same
    # accounts) would otherwise wait on this while this waits on its relationship row.
    return list(
        session.scalars(
            select(Relationship)
            .where(
                (Relationship.giver_id == insured_id) | (Relationship.recipient_id == insured_id),
                Relationship.status != RelationshipStatus.DISSOLVED,
            )
            .order_by(Relationship.id)
            .with_for_update()
        )
    )


def end_insurance(
    session: Session, insured_id: int, ended_on: date, *, actor: Actor, now: datetime
) -> int:
    """The agency records that an insurance ended: every relationship of the person ends."""
    insured = _insured_for_agency(session, actor, insured_id)
    insured.ended_on = ended_on
    ended = _dissolve_all(session, insured, actor, "参保关系终止，自动解除", now)
    audit.record(
        session,
        actor=actor,
        at=now,
        action="wallet.insurance_ended",
        target_type="wallet_insured",
        target_id=insured.id,
        after={"ended_on": ended_on.isoformat()},
    )
    return ended


def move_insured(
    session: Session, insured_id: int, region_code: str, *, actor: Actor, now: datetime
) -> int:
    """The insurance moved to another pooling region (转移接续): relationships end."""
    insured = _insured_for_agency(session, actor, insured_id)
    target = regions.region_by_code(session, region_code)
    if target.id == insured.region_id:
        raise InvalidInput("same_region", "参保地未变化")
    insured.region_id = target.id
    ended = _dissolve_all(session, insured, actor, f"参保地转移至{target.name}，自动解除", now)
    audit.record(
        session,
        actor=actor,
        at=now,
        action="wallet.insured_moved",
        target_type="wallet_insured",
        target_id=insured.id,
        after={"region": target.code},
    )
    return ended


def _insured_for_agency(session: Session, actor: Actor, insured_id: int) -> Insured:
    if actor.role is not None:
        actor.require(Permission.WALLET_OPERATE)
    insured = session.get(Insured, insured_id)
    if insured is None:
        raise NotFound("参保人")
    return insured


def _dissolve_all(
    session: Session, insured: Insured, actor: Actor, reason: str, now: datetime
) -> int:
    live = _live_relationships(session, insured.id)
    for relationship in live:
        end_relationship(session, relationship, actor=actor, reason=reason, now=now)
    session.flush()
    return len(live)
