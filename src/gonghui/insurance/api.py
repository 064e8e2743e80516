"""The insurance JSON API under /api/v1/insurance."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from gonghui.core.auth import Actor, Permission, Role
from gonghui.core.errors import InvalidInput, NotFound
from gonghui.core.money import parse_yuan, yuan_string
from gonghui.insurance import claims, figures, queries, service
from gonghui.insurance.balances import Source, import_balance_rows
from gonghui.insurance.rules import RuleError, parse_month
from gonghui.insurance.schemas import (
    BalanceBatchIn,
    BalanceBatchOut,
    ClaimOut,
    EstimateIn,
    EstimateOut,
    FiguresOut,
    StandingOut,
)
from gonghui.insurance.web import Balances
from gonghui.members import queries as member_queries
from gonghui.members.models import Bank
from gonghui.web.deps import ApiActor, Db, Now, api_permitted

router = APIRouter(prefix="/insurance", tags=["insurance"])


def _bank(db: Db, actor: Actor, code: str | None) -> Bank:
    if code is None:
        if actor.bank_id is None:
            raise InvalidInput("bank_required", "请指定 bank_code")
        return member_queries.bank_for(db, actor, actor.bank_id)
    bank = next((b for b in member_queries.all_banks(db) if b.code == code), None)
    if bank is None:
        raise InvalidInput("unknown_bank", f"银行代码 {code} 不存在")
    return member_queries.bank_for(db, actor, bank.id)


@router.post("/balances", response_model=BalanceBatchOut)
def push_balances(
    batch: BalanceBatchIn,
    db: Db,
    now: Now,
    store: Balances,
    actor: Annotated[Actor, Depends(api_permitted(Permission.BALANCES_IMPORT))],
) -> BalanceBatchOut:
    """A bank pushes end-of-day balances; all-or-nothing, with every bad row in
    `error.details` as "第N行" (N = position in `rows` + 1, the header being line 1)."""
    report = import_balance_rows(
        db,
        [(row.card_no, row.date, row.balance) for row in batch.rows],
        bank=_bank(db, actor, batch.bank_code),
        source=Source.API,
        actor=actor,
        now=now,
        store=store,
    )
    db.commit()
    return BalanceBatchOut(
        rows=report.rows,
        new_rows=report.new_rows,
        already_known=report.already_known,
        summary=report.summary,
    )


def _holding_in_reach(db: Db, actor: Actor, card_no: str) -> int:
    """The member holding the card, if the actor may ask about it."""
    plan = service.plan_by_code(db)
    holdings = member_queries.card_holdings(db, service.plan_bank_ids(db, plan), card_no=card_no)
    if not holdings:
        raise NotFound(f"会员卡 {card_no}")
    holding = holdings[0]
    if actor.bank_id is not None and holding.bank_id != actor.bank_id:
        raise NotFound(f"会员卡 {card_no}")
    if actor.role in {Role.MEMBER, Role.UNIT_OFFICER}:
        member_queries.member_for(db, actor, holding.member_id)
    return holding.member_id


@router.post("/estimate", response_model=EstimateOut)
def estimate(
    request: EstimateIn,
    db: Db,
    actor: Annotated[Actor, Depends(api_permitted(Permission.CLAIMS_VIEW))],
) -> EstimateOut:
    """The trial calculation (试算) before a claim is submitted."""
    try:
        eligible = parse_yuan(request.eligible_amount)
    except ValueError as error:
        raise InvalidInput("bad_amount", str(error)) from None
    if eligible < 0:
        raise InvalidInput("bad_amount", "可报销费用不能为负数")
    member_id = _holding_in_reach(db, actor, request.card_no)
    result = claims.estimate(db, service.plan_by_code(db), member_id, request.admission, eligible)
    return EstimateOut.of(result)


def _standing_reader(actor: ApiActor) -> Actor:
    # Members and officers ask about their own cards, banks about theirs, staff about any.
    if not actor.can(Permission.CLAIMS_VIEW):
        actor.require(Permission.INSURANCE_FIGURES)
    return actor


@router.get("/cards/{card_no}/standing", response_model=StandingOut)
def card_standing(
    card_no: str,
    period: str,
    db: Db,
    store: Balances,
    actor: Annotated[Actor, Depends(_standing_reader)],
) -> StandingOut:
    """A card's average daily balance for a month and whether it qualifies, in words too."""
    _holding_in_reach(db, actor, card_no)
    try:
        month = parse_month(period)
    except RuleError as error:
        raise InvalidInput("bad_period", str(error)) from None
    standing = queries.card_standing(db, service.plan_by_code(db), card_no, month, store=store)
    return StandingOut(
        card_no=standing.card_no,
        period=standing.period.code,
        average_daily_balance=yuan_string(standing.decision.average_fen),
        days=standing.decision.days,
        eligible=standing.decision.eligible,
        explanation=standing.explanation,
    )


@router.get("/claims", response_model=list[ClaimOut])
def list_claims(
    db: Db, actor: Annotated[Actor, Depends(api_permitted(Permission.CLAIMS_VIEW))], page: int = 1
) -> list[ClaimOut]:
    return [ClaimOut.of(claim) for claim in queries.claims_visible(db, actor, page=page).items]


@router.get("/claims/{claim_id}", response_model=ClaimOut)
def get_claim(
    claim_id: int, db: Db, actor: Annotated[Actor, Depends(api_permitted(Permission.CLAIMS_VIEW))]
) -> ClaimOut:
    return ClaimOut.of(claims.claim_for(db, actor, claim_id))


@router.get("/figures", response_model=FiguresOut)
def get_figures(
    db: Db, actor: Annotated[Actor, Depends(api_permitted(Permission.INSURANCE_FIGURES))]
) -> FiguresOut:
    """The four figures the federation reports."""
    return FiguresOut.of(figures.headline(db, actor))
