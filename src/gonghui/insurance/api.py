"""The insurance JSON API under /api/v1/insurance."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from gonghui.core import audit
from gonghui.core.auth import Actor, Permission, Role
from gonghui.core.clock import business_date
from gonghui.core.errors import InvalidInput, NotFound
from gonghui.core.inputs import InputError, input_error, parse_amount, parse_month
from gonghui.core.money import yuan_string
from gonghui.edge.deps import ApiActor, Db, Id, Now, PageNo, api_permitted
from gonghui.edge.viewlog import record_view
from gonghui.insurance import assessment, claims, figures, queries, service
from gonghui.insurance.balances import Source, import_balance_rows
from gonghui.insurance.models import Plan
from gonghui.insurance.plan_forms import read_terms
from gonghui.insurance.schemas import (
    AmendmentIn,
    AmendmentOut,
    AssessmentIn,
    BalanceBatchIn,
    BalanceBatchOut,
    ClaimOut,
    EnrolmentIn,
    EnrolmentOut,
    EstimateIn,
    EstimateOut,
    FiguresOut,
    PlanIn,
    PlanOut,
    StandingOut,
    TermChangeOut,
)
from gonghui.insurance.web import Balances
from gonghui.jobs.starting import TaskOut, accepted, queue_task
from gonghui.jobs.tasks import ASSESSMENT
from gonghui.members import banks
from gonghui.members import queries as member_queries
from gonghui.members.queries import Bank

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
    return BalanceBatchOut(
        rows=report.rows,
        new_rows=report.new_rows,
        already_known=report.already_known,
        summary=report.summary,
    )


@router.post(
    "/assessments",
    status_code=202,
    response_model=TaskOut,
    responses={202: {"description": "已排队；`Location` 为任务地址"}},
)
def run_assessment(
    request: Request,
    body: AssessmentIn,
    db: Db,
    now: Now,
    actor: Annotated[Actor, Depends(api_permitted(Permission.INSURANCE_MANAGE))],
) -> JSONResponse:
    """Queue the assessment of a finished period for the worker; answers 202 with the task's
    URL (`Location`, and `url` in the body), which gives its progress and then its result.
    Refused at once (422 `period_open` or `balances_incomplete`) as the page and the CLI
    refuse it."""
    try:
        month = parse_month(body.period, "考核期间")
    except InputError as error:
        raise input_error("bad_period", error) from None
    assessment.check_assessable(
        db,
        service.plan_by_code(db, body.plan_code),
        month,
        actor=actor,
        now=now,
        allow_missing_banks=body.allow_missing_banks,
    )
    parameters = {
        "period": f"{month:%Y-%m}",
        "plan_code": body.plan_code,
        "allow_missing_banks": body.allow_missing_banks,
    }
    task = queue_task(request, db, ASSESSMENT, parameters, actor=actor, now=now)
    return accepted(request, task)


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
        eligible = parse_amount(request.eligible_amount, "可报销费用")
    except InputError as error:
        raise input_error("bad_amount", error) from None
    member_id = _holding_in_reach(db, actor, request.card_no)
    plan = service.plan_by_code(db)
    result = claims.estimate(db, plan, member_id, request.admission, eligible)
    not_covered = claims.not_covered(db, plan, member_id, request.admission, actor=actor)
    return EstimateOut.of(result, not_covered)


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
        month = parse_month(period, "期间")
    except InputError as error:
        raise input_error("bad_period", error) from None
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
    db: Db,
    actor: Annotated[Actor, Depends(api_permitted(Permission.CLAIMS_VIEW))],
    page: PageNo = 1,
) -> list[ClaimOut]:
    return [ClaimOut.of(claim) for claim in queries.claims_visible(db, actor, page=page).items]


@router.get("/claims/{claim_id}", response_model=ClaimOut)
def get_claim(
    request: Request,
    claim_id: Id,
    db: Db,
    now: Now,
    actor: Annotated[Actor, Depends(api_permitted(Permission.CLAIMS_VIEW))],
) -> ClaimOut:
    claim = queries.claim_for(db, actor, claim_id)
    if actor.member_id != claim.member_id:
        record_view(
            request,
            db,
            actor=actor,
            now=now,
            action=audit.CLAIM_VIEWED,
            target_type="claim",
            target_ids=[claim.id],
            detail={"member_id": claim.member_id},
        )
    return ClaimOut.of(claim)


@router.get("/figures", response_model=FiguresOut)
def get_figures(
    db: Db, actor: Annotated[Actor, Depends(api_permitted(Permission.INSURANCE_DASHBOARD))]
) -> FiguresOut:
    """The four figures the federation reports."""
    return FiguresOut.of(figures.headline(db, actor))


PlanManager = Annotated[Actor, Depends(api_permitted(Permission.INSURANCE_MANAGE))]


def _plan_out(db: Db, plan: Plan, today: date) -> PlanOut:
    version = service.latest_version(db, plan)
    return PlanOut(
        id=plan.id,
        code=plan.code,
        name=plan.name,
        insurer=plan.insurer,
        version=version.version,
        version_effective_from=version.effective_from,
        enrolled_units=len(service.enrolled_unit_ids(db, plan, today)),
    )


@router.get("/plans", response_model=list[PlanOut])
def list_plans(db: Db, now: Now, _actor: PlanManager) -> list[PlanOut]:
    return [_plan_out(db, plan, business_date(now)) for plan in service.all_plans(db)]


@router.post("/plans", response_model=PlanOut, status_code=201)
def create_plan(body: PlanIn, db: Db, now: Now, actor: PlanManager) -> PlanOut:
    """A plan with its first version; enrol its units next."""
    bank_ids = [banks.bank_by_code(db, code).id for code in body.bank_codes]
    plan = service.create_plan(
        db,
        code=body.code.strip().upper(),
        name=body.name.strip(),
        insurer=body.insurer.strip(),
        terms=read_terms(body.fields(), body.eligible_fields),
        effective_from=body.effective_from,
        bank_ids=bank_ids,
        actor=actor,
        now=now,
    )
    return _plan_out(db, plan, business_date(now))


@router.post("/plans/{plan_id}/units", response_model=EnrolmentOut)
def enrol_units(
    plan_id: Id,
    body: EnrolmentIn,
    db: Db,
    now: Now,
    actor: PlanManager,
) -> EnrolmentOut:
    """Enrol units (all, a district, an industry, or by credit code) from a day, or let them
    leave from a day."""
    plan = service.plan_by_id(db, plan_id)
    selection = member_queries.UnitSelection(
        body.all_units, body.district, body.industry, tuple(body.credit_codes)
    )
    if selection.empty:
        raise InvalidInput("units_required", "请指定 all_units、district、industry 或 credit_codes")
    unit_ids = member_queries.selected_unit_ids(db, selection)
    if body.action == "leave":
        changed = service.unenroll_units(db, plan, unit_ids, body.on, actor=actor, now=now)
    else:
        changed = service.enroll_units(db, plan, unit_ids, body.on, actor=actor, now=now)
    return EnrolmentOut(
        changed=changed, enrolled_on_date=len(service.enrolled_unit_ids(db, plan, body.on))
    )


@router.post("/plans/{plan_id}/versions", response_model=AmendmentOut)
def amend_plan(
    plan_id: Id,
    body: AmendmentIn,
    db: Db,
    now: Now,
    actor: PlanManager,
) -> AmendmentOut:
    """New terms from a date (today or later); `dry_run` lists the changes only."""
    plan = service.plan_by_id(db, plan_id)
    current = service.terms_of(service.latest_version(db, plan))
    terms = read_terms(body.fields(), body.eligible_fields, current)
    changes = [
        TermChangeOut(label=c.label, before=c.before, after=c.after, changed=c.changed)
        for c in service.compare_terms(current, terms)
    ]
    if body.dry_run:
        service.check_amendment(db, plan, terms, body.effective_from, now=now)
        return AmendmentOut(version=None, changes=changes)
    version = service.amend_plan(db, plan, terms, body.effective_from, actor=actor, now=now)
    return AmendmentOut(version=version.version, changes=changes)
