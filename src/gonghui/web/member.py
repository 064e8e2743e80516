"""The member's app: a home that answers "where do I stand", the services grid and the
message centre. Each fact comes from its own module's reads; this file only gathers them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from gonghui.core.auth import Actor, Permission
from gonghui.core.clock import business_date
from gonghui.core.errors import DomainError, NotFound
from gonghui.core.inputs import whole_number_or_none
from gonghui.edge.deps import Csrf, Db, MaybeActor, Now, PageActor, flash, get_settings, render
from gonghui.insurance import queries as insurance_queries
from gonghui.insurance import service as insurance_service
from gonghui.insurance.claims_rules import ClaimStatus, next_step
from gonghui.insurance.models import Claim
from gonghui.insurance.store import BalanceStore
from gonghui.members import accounts, cardcode
from gonghui.members import queries as member_queries
from gonghui.members import service as member_service
from gonghui.members.models import Member
from gonghui.retirement.membership import category_of
from gonghui.retirement.rules import Month, decide_retirement
from gonghui.stations.qr import qr_svg
from gonghui.wallet import queries as wallet_queries
from gonghui.wallet.rules import TransferStatus

router = APIRouter(include_in_schema=False)

# 全国总工会职工服务热线 (ACFTU's national workers' service hotline, 12351), which 长辈模式
# puts at the top of the home page.
HOTLINE = "12351"

OPEN_CLAIMS = (
    ClaimStatus.DRAFT,
    ClaimStatus.SUBMITTED,
    ClaimStatus.DOCUMENTS_PENDING,
    ClaimStatus.UNDER_REVIEW,
    ClaimStatus.APPROVED,
    ClaimStatus.PARTIALLY_APPROVED,
)


@dataclass(frozen=True)
class Service:
    label: str
    path: str
    icon: str
    note: str
    permission: Permission = Permission.OWN_PROFILE


SERVICES = (
    Service("补充医保", "/insurance/me", "shield", "保障与日均余额"),
    Service("申请理赔", "/insurance/claims/new", "claim", "住院二次报销", Permission.CLAIMS_SUBMIT),
    Service("我的理赔", "/insurance/claims", "list", "进度与材料", Permission.CLAIMS_VIEW),
    Service("医保钱包", "/wallet", "wallet", "亲属共济", Permission.WALLET_USE),
    Service("退休测算", "/retirement/me", "clock", "退休时间与养老金"),
    Service("附近阵地", "/stations/find", "pin", "驿站、职工之家"),
    Service("会员电子卡", "/me/card", "card", "到阵地、商户出示"),
    Service("我的档案", "/me", "person", "会籍与会员卡"),
    Service("消息", "/messages", "bell", "通知与提醒"),
)


def services_for(actor: Actor) -> list[Service]:
    return [service for service in SERVICES if actor.can(service.permission)]


@dataclass(frozen=True)
class ClaimLine:
    claim: Claim
    who: str
    what: str


@dataclass(frozen=True)
class TransferLine:
    amount_fen: int
    other: str
    mine_to_accept: bool


@dataclass(frozen=True)
class Standing:
    """Where the member stands, as the home page tells it."""

    member: Member
    covered_today: bool
    cover_until: date | None
    why: list[str]
    running: list[insurance_queries.RunningStanding]
    claims: list[ClaimLine]
    transfers: list[TransferLine]
    retirement_month: Month | None
    unread: int


def _cover_and_why(
    db: Session, actor: Actor, member: Member, today: date, store: BalanceStore
) -> tuple[bool, date | None, list[str], list[insurance_queries.RunningStanding]]:
    cover = insurance_queries.cover_of(db, member, today)
    until = next((end for start, end in cover.periods if start <= today <= end), None)
    try:
        plan = insurance_service.plan_by_code(db)
    except DomainError:
        return cover.covered_today, until, [], []
    last_month = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    why, running = [], []
    for card in member_queries.cards_of(db, actor, member):
        try:
            standing = insurance_queries.card_standing(
                db, plan, card.card_no, last_month, store=store
            )
        except NotFound:
            continue  # a card of a bank outside the plan decides nothing
        why.append(standing.explanation)
        now_standing = insurance_queries.running_standing(
            db, plan, card.card_no, today, store=store
        )
        if now_standing is not None:
            running.append(now_standing)
    return cover.covered_today, until, why, running


def _claims(db: Session, actor: Actor) -> list[ClaimLine]:
    if not actor.can(Permission.CLAIMS_VIEW):
        return []
    found = insurance_queries.claims_visible(db, actor, OPEN_CLAIMS).items
    return [ClaimLine(claim, *next_step(claim.status)) for claim in found]


def _transfers(db: Session, actor: Actor) -> list[TransferLine]:
    if not actor.can(Permission.WALLET_USE):
        return []
    try:
        me = wallet_queries.own_insured(db, actor)
    except NotFound:
        return []
    return [
        TransferLine(transfer.amount_fen, other, mine_to_accept=transfer.recipient_id == me.id)
        for transfer, other in wallet_queries.transfers_of(db, me)
        if transfer.status is TransferStatus.PENDING
    ]


def _retirement_month(member: Member) -> Month | None:
    try:
        category = category_of(member.sex, member.post_type)
        birth = Month(member.birth_date.year, member.birth_date.month)
        return decide_retirement(category, birth).retirement_month
    except ValueError:
        return None


def standing_of(db: Session, actor: Actor, today: date, store: BalanceStore) -> Standing:
    member = member_queries.own_member(db, actor)
    covered, until, why, running = _cover_and_why(db, actor, member, today, store)
    return Standing(
        member=member,
        covered_today=covered,
        cover_until=until,
        why=why,
        running=running,
        claims=_claims(db, actor),
        transfers=_transfers(db, actor),
        retirement_month=_retirement_month(member),
        unread=member_queries.unread_notifications(db, actor),
    )


def member_home(request: Request, db: Session, now: datetime, actor: Actor) -> Response:
    store: BalanceStore = request.app.state.balance_store
    today = business_date(now)
    context = {
        "standing": standing_of(db, actor, today, store),
        "services": services_for(actor),
        "today": today,
        "hotline": HOTLINE,
    }
    return render(request, "member/home.html", context, actor=actor)


@router.get("/services")
def services_page(request: Request, actor: PageActor) -> Response:
    return render(request, "member/services.html", {"services": services_for(actor)}, actor=actor)


@router.get("/messages")
def messages_page(request: Request, db: Db, actor: PageActor) -> Response:
    """The member's notices from every module. Reading them here writes nothing: the member
    marks them read with the button (a POST)."""
    notices = member_queries.notifications_for(db, actor, limit=100)
    return render(request, "member/messages.html", {"notices": notices}, actor=actor)


@router.post("/messages/read", dependencies=[Csrf])
def mark_read(
    request: Request,
    db: Db,
    now: Now,
    actor: PageActor,
    notice_id: Annotated[str, Form(max_length=20)] = "",
    then: Annotated[str, Form(max_length=200)] = "",
) -> RedirectResponse:
    """标为已读, or 查看 on an unread notice: read, then on to what it is about (`then`, a
    path of this site)."""
    chosen = whole_number_or_none(notice_id)
    member_service.mark_notifications_read(db, actor, now=now, notice_id=chosen)
    if chosen is None:
        flash(request, "已全部标为已读")
    local = then.startswith("/") and not then.startswith(("//", "/\\"))
    return RedirectResponse(then if local else "/messages", status_code=303)


@router.post("/preferences/elder", dependencies=[Csrf])
def elder_mode(
    request: Request,
    db: Db,
    actor: PageActor,
    on: Annotated[str, Form(max_length=1)] = "",
    back: Annotated[str, Form(max_length=200)] = "/home",
) -> RedirectResponse:
    accounts.set_elder_mode(db, actor, on=on == "1")
    flash(request, "已切换到长辈模式：字更大，按钮更大" if on == "1" else "已切换到标准模式")
    target = back if back.startswith("/") and not back.startswith("//") else "/home"
    return RedirectResponse(target, status_code=303)


def _card_key(request: Request) -> bytes:
    return cardcode.derive_key(get_settings(request).secret_key.get_secret_value())


@router.get("/me/card")
def member_card(request: Request, db: Db, now: Now, actor: PageActor) -> Response:
    """The electronic member card: a QR code a station or partner shop scans to check that the
    holder is a member in good standing. It lasts ten minutes; the page makes a new one."""
    actor.require(Permission.OWN_PROFILE)
    member = member_queries.own_member(db, actor)
    token = cardcode.issue(_card_key(request), member.id, now)
    url = str(request.url_for("verify_card").include_query_params(t=token))
    context = {
        "member": member,
        "holder": member_queries.card_holder(db, member.id),
        "qr": qr_svg(url, label="会员电子卡二维码"),
        "url": url,
        "valid_until": now + cardcode.CARD_WINDOW,
    }
    return render(request, "member/card.html", context, actor=actor)


@router.get("/card/verify", name="verify_card")
def verify_card(request: Request, db: Db, now: Now, actor: MaybeActor, t: str = "") -> Response:
    """What a scanner sees: the holder's name masked, their unit, and whether the card is valid."""
    try:
        scan = cardcode.verify(_card_key(request), t[:200], now)
    except cardcode.CardRefused as refusal:
        refused: dict[str, object] = {"refusal": str(refusal)}
        return render(request, "member/card_verify.html", refused, actor=actor, status_code=422)
    holder = member_queries.card_holder(db, scan.member_id)
    context = {
        "holder": holder,
        "masked": cardcode.masked_name(holder.name) if holder else "",
        "issued_at": scan.issued_at,
    }
    return render(request, "member/card_verify.html", context, actor=actor)
