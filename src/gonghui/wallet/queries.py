"""Reads of the wallet: a person's balances, history, relatives and transfers; the agency's
monitoring figures and the monthly settlement between regions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import BindParameter, ColumnElement, bindparam, func, or_, select
from sqlalchemy.orm import Session, aliased

from gonghui.core.auth import Actor, Permission
from gonghui.core.clock import business_date, business_midnight, full_months, month_of
from gonghui.core.errors import InvalidInput, NotFound
from gonghui.core.inputs import InputError, input_error, parse_id_number, parse_month
from gonghui.core.money import Fen
from gonghui.core.pagination import Page, paged
from gonghui.core.pii import IdentityVault
from gonghui.wallet import ledger
from gonghui.wallet.models import (
    Account,
    Entry,
    Insured,
    Payment,
    Posting,
    Region,
    Relationship,
    Spending,
    Transfer,
    Wallet,
)
from gonghui.wallet.regions_data import PROVINCES
from gonghui.wallet.rules import (
    AccountKind,
    Kinship,
    Refusal,
    RelationshipStatus,
    TransferStatus,
    WalletRefused,
    business_day_bounds,
    kinship_seen_by,
)
from gonghui.wallet.verification import Credentials

# Which insured person the actor is: by their login, or by their member record. Built once, with
# both as parameters: an actor without one binds it as NULL, and `column = NULL` matches no row,
# so the one condition serves every actor (and one with neither finds nobody).
_INSURED = Insured.__table__
_OWN = or_(
    _INSURED.c.user_id == bindparam("user_id"), _INSURED.c.member_id == bindparam("member_id")
)
_OWN_INSURED = select(Insured).where(_OWN)
_OWN_INSURED_ID = select(_INSURED.c.id).where(_OWN)


def _own(actor: Actor) -> dict[str, int | None]:
    """The parameters of `_OWN` for an actor allowed to use a wallet."""
    actor.require(Permission.WALLET_USE)
    return {"user_id": actor.user_id, "member_id": actor.member_id}


# For a statement that is scoped to the actor's own insured record without loading it first
# (`insured_id IN OWN_INSURED_IDS`, bound with `own_parameters`): one round trip fewer.
OWN_INSURED_IDS = _OWN_INSURED_ID
own_parameters = _own


def own_insured(session: Session, actor: Actor) -> Insured:
    """The insured person the actor is."""
    found = session.scalars(_OWN_INSURED, _own(actor)).first()
    if found is None:
        raise NotFound("参保信息")
    return found


def own_insured_id(session: Session, actor: Actor) -> int:
    """The id of the insured person the actor is, where nothing else of them is needed."""
    found: int | None = session.scalars(_OWN_INSURED_ID, _own(actor)).first()
    if found is None:
        raise NotFound("参保信息")
    return found


@dataclass(frozen=True)
class Sender:
    """The insured person about to send a transfer, as the submit rules need them."""

    id: int
    region_id: int
    ended_on: date | None
    wallet: Credentials


_WALLETS = Wallet.__table__
_RECIPIENT = _INSURED.alias("recipient")
# The sender, their wallet and whether the recipient exists: one statement, columns only.
_SENDER = (
    select(
        _INSURED.c.id,
        _INSURED.c.region_id,
        _INSURED.c.ended_on,
        _WALLETS.c.id.label("wallet_id"),
        _WALLETS.c.password_hash,
        _WALLETS.c.password_failures,
        _WALLETS.c.last_password_failure,
        select(_RECIPIENT.c.id)
        .where(_RECIPIENT.c.id == bindparam("recipient_id"))
        .exists()
        .label("recipient_found"),
    )
    .select_from(_INSURED.outerjoin(_WALLETS, _WALLETS.c.insured_id == _INSURED.c.id))
    .where(_OWN)
)


def own_sender(session: Session, actor: Actor, recipient_id: int) -> Sender:
    """The insured person the actor is, with their wallet, about to send to `recipient_id`:
    refused if they have no wallet; not found if the recipient names nobody."""
    found = session.execute(_SENDER, {**_own(actor), "recipient_id": recipient_id}).first()
    if found is None:
        raise NotFound("参保信息")
    if found.wallet_id is None:
        raise WalletRefused(Refusal.NO_WALLET)
    if not found.recipient_found:
        # Not a refusal of the transfer rules (which would record it under the key): there is
        # nobody to send to, as for any other id that names nothing.
        raise NotFound("共济对象")
    credentials = Credentials(
        found.wallet_id, found.password_hash, found.password_failures, found.last_password_failure
    )
    return Sender(found.id, found.region_id, found.ended_on, credentials)


def relationship_for(session: Session, actor: Actor, relationship_id: int) -> Relationship:
    """A relationship the actor is a party to."""
    me = own_insured(session, actor)
    found = session.scalars(
        select(Relationship).where(
            Relationship.id == relationship_id,
            or_(Relationship.giver_id == me.id, Relationship.recipient_id == me.id),
        )
    ).one_or_none()
    if found is None:
        raise NotFound("共济关系")
    return found


POSTING_LABELS = {
    "fund": "个人账户划入",
    "hold": "转出（待对方接收）",
    "accept": "转账已接收",
    "expire": "未接收退回",
    "void": "关系解除退回",
    "pay": "钱包支付",
    "return": "共济额度退回",
}


@dataclass(frozen=True)
class Balances:
    personal_fen: Fen
    held_fen: Fen
    quota_fen: Fen
    quota_by_giver: list[tuple[str, Fen]]


# The wallet page's reads are built once, with the person as a parameter: building them on every
# view (expressions, joins, aliases) cost more than the database's work for them.
_ME: BindParameter[int] = bindparam("me")
_QUOTAS = (
    select(Insured.name, Account.balance_fen)
    .join(Insured, Insured.id == Account.giver_id)
    .where(Account.kind == AccountKind.QUOTA, Account.insured_id == _ME)
    .order_by(Account.id)
)
_BALANCES_BY_KEY = select(Account.key, Account.balance_fen).where(
    Account.key.in_(bindparam("keys", expanding=True))
)


def balances_of(session: Session, insured: Insured) -> Balances:
    quotas = session.execute(_QUOTAS, {"me": insured.id}).all()
    by_giver = [(name, fen or 0) for name, fen in quotas]
    personal, held = ledger.personal(insured.id).key, ledger.held(insured.id).key
    balances = dict(session.execute(_BALANCES_BY_KEY, {"keys": [personal, held]}).all())
    return Balances(
        balances.get(personal) or 0,
        balances.get(held) or 0,
        sum(fen for _, fen in by_giver),
        by_giver,
    )


@dataclass(frozen=True)
class HistoryLine:
    at: datetime
    label: str
    memo: str
    amount_fen: Fen


# What became of a transfer, for the line of the money it took out of the giver's account: the
# hold is one posting, written once, and the page reads the transfer's status now.
HOLD_OUTCOMES = {
    TransferStatus.PENDING: "待对方接收",
    TransferStatus.ACCEPTED: "对方已接收",
    TransferStatus.EXPIRED: "对方未接收，已退回",
    TransferStatus.VOIDED: "关系解除，已退回",
}


def _history_label(kind: str, status: TransferStatus | None, other: str | None) -> str:
    if kind == "hold" and status is not None:
        return f"转给{other}（{HOLD_OUTCOMES[status]}）"
    if kind == "accept" and other is not None:
        return f"接收{other}的转账"
    label = POSTING_LABELS.get(kind, kind)
    return f"{label}（{other}）" if other is not None else label


# The transfer's other party: whichever of giver and recipient is not the reader.
_OTHER = aliased(Insured)
_HISTORY = (
    select(Posting.at, Posting.kind, Posting.memo, Entry.amount_fen, Transfer.status, _OTHER.name)
    .join(Entry, Entry.posting_id == Posting.id)
    .join(Account, Account.id == Entry.account_id)
    .outerjoin(Transfer, Transfer.id == Posting.transfer_id)
    .outerjoin(
        _OTHER,
        _OTHER.id == func.coalesce(func.nullif(Transfer.giver_id, _ME), Transfer.recipient_id),
    )
    .where(
        Account.insured_id == _ME,
        Account.kind.in_([AccountKind.PERSONAL, AccountKind.QUOTA]),
    )
    .order_by(Posting.id.desc())
    .limit(bindparam("limit"))
)


def history_of(session: Session, insured: Insured, limit: int = 50) -> list[HistoryLine]:
    """Movements of the person's own money: personal account and wallet quota, each transfer's
    line saying who the other party is and what became of it."""
    rows = session.execute(_HISTORY, {"me": insured.id, "limit": limit}).all()
    lines = []
    for row in rows:
        label = _history_label(row.kind, row.status, row.name)
        # The fund's memo repeats its label (个人账户划入 ¥3,000.00 个人账户划入): said once.
        memo = "" if row.memo in {label, POSTING_LABELS.get(row.kind)} else row.memo
        lines.append(HistoryLine(row.at, label, memo, row.amount_fen))
    return lines


@dataclass(frozen=True)
class RelativeLine:
    relationship: Relationship
    other_name: str
    other_id: int
    i_give: bool
    kinship: Kinship  # who the other party is to the reader
    unspent_fen: Fen  # the recipient's quota from this giver, returned on dissolution
    pending_fen: Fen  # the pair's transfer awaiting acceptance, voided on dissolution


_RELATIONSHIPS = (
    select(Relationship)
    .where(or_(Relationship.giver_id == _ME, Relationship.recipient_id == _ME))
    .order_by(Relationship.id)
)
_NAMES = select(Insured.id, Insured.name).where(Insured.id.in_(bindparam("ids", expanding=True)))
_QUOTAS_BOTH_WAYS = select(Account.insured_id, Account.giver_id, Account.balance_fen).where(
    Account.kind == AccountKind.QUOTA, or_(Account.insured_id == _ME, Account.giver_id == _ME)
)
_PENDING = (
    select(Transfer.relationship_id, func.sum(Transfer.amount_fen))
    .where(
        Transfer.relationship_id.in_(bindparam("ids", expanding=True)),
        Transfer.status == TransferStatus.PENDING,
    )
    .group_by(Transfer.relationship_id)
)


def relationships_of(session: Session, insured: Insured) -> list[RelativeLine]:
    me = {"me": insured.id}
    found = session.scalars(_RELATIONSHIPS, me).all()
    if not found:
        return []
    others = {r.recipient_id if r.giver_id == insured.id else r.giver_id for r in found}
    names = dict(session.execute(_NAMES, {"ids": list(others)}).all())
    quotas = {
        (row.insured_id, row.giver_id): row.balance_fen or 0
        for row in session.execute(_QUOTAS_BOTH_WAYS, me)
    }
    pending = dict(session.execute(_PENDING, {"ids": [r.id for r in found]}).all())
    return [
        RelativeLine(
            r,
            names[r.recipient_id if r.giver_id == insured.id else r.giver_id],
            r.recipient_id if r.giver_id == insured.id else r.giver_id,
            r.giver_id == insured.id,
            kinship_seen_by(r.kinship, giver=r.giver_id == insured.id),
            quotas.get((r.recipient_id, r.giver_id), 0),
            int(pending.get(r.id) or 0),
        )
        for r in found
    ]


_TRANSFERS = (
    select(Transfer, Insured.name)
    .join(
        Insured,
        Insured.id == func.coalesce(func.nullif(Transfer.giver_id, _ME), Transfer.recipient_id),
    )
    .where(or_(Transfer.giver_id == _ME, Transfer.recipient_id == _ME))
    .order_by(Transfer.id.desc())
    .limit(bindparam("limit"))
)


def transfers_of(session: Session, insured: Insured, limit: int = 30) -> list[tuple[Transfer, str]]:
    rows = session.execute(_TRANSFERS, {"me": insured.id, "limit": limit}).all()
    return [(transfer, name) for transfer, name in rows]


_WALLET_WITH_REGION = (
    select(Wallet, Region)
    .join(Region, Region.id == Wallet.usage_region_id)
    .where(Wallet.insured_id == _ME)
)


def wallet_with_region(session: Session, insured: Insured) -> tuple[Wallet, Region] | None:
    row = session.execute(_WALLET_WITH_REGION, {"me": insured.id}).first()
    return (row[0], row[1]) if row else None


@dataclass(frozen=True)
class Monitoring:
    """What the agency watches: the wallets and transfers as they stand now, and the flows of
    the last day and the last month that have ended (Beijing time); a day still running is not
    reported as a day's figures."""

    wallets: int
    active_relationships: int
    pending: int
    held_fen: Fen
    day: date  # the last day that has ended: yesterday in Beijing
    accepted_on_day: int
    accepted_on_day_fen: Fen
    expired_on_day: int
    month: date  # the first day of the last month that has ended
    paid_in_month_fen: Fen


def monitoring(session: Session, actor: Actor, now: datetime) -> Monitoring:
    actor.require(Permission.WALLET_OPERATE)
    today = business_date(now)
    day = today - timedelta(days=1)
    start, end = business_day_bounds(day)
    month, month_ends = full_months(today, 1)

    def count_and_sum(status: TransferStatus, *window: ColumnElement[bool]) -> tuple[int, int]:
        row = session.execute(
            select(func.count(), func.coalesce(func.sum(Transfer.amount_fen), 0)).where(
                Transfer.status == status, *window
            )
        ).one()
        return int(row[0]), int(row[1])

    pending, held = count_and_sum(TransferStatus.PENDING)
    accepted = count_and_sum(
        TransferStatus.ACCEPTED, Transfer.decided_at >= start, Transfer.decided_at < end
    )
    expired, _ = count_and_sum(
        TransferStatus.EXPIRED, Transfer.decided_at >= start, Transfer.decided_at < end
    )
    paid = session.scalar(
        select(func.coalesce(func.sum(Payment.amount_fen), 0)).where(
            Payment.at >= business_midnight(month), Payment.at < business_midnight(month_ends)
        )
    )
    return Monitoring(
        wallets=session.scalar(select(func.count()).select_from(Wallet)) or 0,
        active_relationships=session.scalar(
            select(func.count()).where(Relationship.status == RelationshipStatus.ACTIVE)
        )
        or 0,
        pending=pending,
        held_fen=held,
        day=day,
        accepted_on_day=accepted[0],
        accepted_on_day_fen=accepted[1],
        expired_on_day=expired,
        month=month,
        paid_in_month_fen=int(paid or 0),
    )


@dataclass(frozen=True)
class SettlementLine:
    spent_code: str
    spent_name: str
    giver_code: str
    giver_name: str
    amount_fen: Fen


def settlement_month(text: str, today: date) -> date:
    """The month a settlement is asked for (YYYY-MM), the last that has ended when none is
    named; a month not yet over is refused: its spending is still coming in."""
    if not text.strip():
        return month_of(month_of(today) - timedelta(days=1))
    try:
        month = parse_month(text)
    except InputError as error:
        raise input_error("bad_month", error) from None
    if month >= month_of(today):
        raise InvalidInput(
            "month_not_ended", f"{month:%Y-%m} 尚未结束，清算只列已结束的月份（北京时间）"
        )
    return month


def settlement(
    session: Session, actor: Actor, month: date
) -> tuple[list[SettlementLine], list[SettlementLine]]:
    """What recipients spent in each region (their usage location) from givers insured in
    each other region, in a month: by pair of regions, and by pair of provinces."""
    actor.require(Permission.WALLET_OPERATE)
    rows = session.execute(
        select(
            Spending.spent_region_code,
            Spending.giver_region_code,
            func.sum(Spending.amount_fen),
        )
        .where(Spending.month == month.replace(day=1))
        .group_by(Spending.spent_region_code, Spending.giver_region_code)
        .order_by(Spending.spent_region_code, Spending.giver_region_code)
    ).all()
    names = dict(session.execute(select(Region.code, Region.name)).all())
    pairs = [
        SettlementLine(spent, names.get(spent, spent), giver, names.get(giver, giver), int(fen))
        for spent, giver, fen in rows
        if spent != giver
    ]
    provinces: dict[tuple[str, str], int] = {}
    for line in pairs:
        key = (line.spent_code[:2] + "0000", line.giver_code[:2] + "0000")
        provinces[key] = provinces.get(key, 0) + line.amount_fen
    by_province = [
        SettlementLine(s, PROVINCES.get(s, s), g, PROVINCES.get(g, g), fen)
        for (s, g), fen in sorted(provinces.items())
        if s != g
    ]
    return pairs, by_province


@dataclass(frozen=True)
class RegistryLine:
    insured: Insured
    region_code: str
    region_name: str
    wallet_open: bool


def registry(
    session: Session, actor: Actor, vault: IdentityVault, query: str = "", page: int = 1
) -> Page[RegistryLine]:
    """The agency's insured registry: by name, or a whole ID number (through its keyed hash)."""
    actor.require(Permission.WALLET_OPERATE)
    statement = select(Insured)
    if query.strip():
        statement = statement.where(_insured_matches(query.strip(), vault))
    found = paged(session, statement.order_by(Insured.id.desc()), page)
    ids = [insured.id for insured in found.items]
    region_ids = {insured.region_id for insured in found.items}
    where = {
        row.id: (row.code, row.name)
        for row in session.execute(
            select(Region.id, Region.code, Region.name).where(Region.id.in_(region_ids))
        )
    }
    with_wallet = set(session.scalars(select(Wallet.insured_id).where(Wallet.insured_id.in_(ids))))
    lines = [
        RegistryLine(insured, *where[insured.region_id], wallet_open=insured.id in with_wallet)
        for insured in found.items
    ]
    return Page(lines, found.total, found.page)


def _insured_matches(query: str, vault: IdentityVault) -> ColumnElement[bool]:
    try:
        id_number = parse_id_number(query, today=date.max)
    except InputError:
        return Insured.name.contains(query, autoescape=True)
    return Insured.id_hash == vault.search_hash(id_number.value)
