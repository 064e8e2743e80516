"""Plan pages for the federation: create a plan, enrol and release units, amend the terms by a
new version after seeing what changes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from gonghui.core.auth import Actor, Permission
from gonghui.core.clock import business_date
from gonghui.core.errors import DomainError, InvalidInput
from gonghui.core.inputs import whole_number_or_none
from gonghui.edge.deps import Csrf, Db, Id, Now, flash, permitted, render
from gonghui.insurance import service
from gonghui.insurance.models import Plan
from gonghui.insurance.plan_forms import read_day, read_terms
from gonghui.insurance.rules import SETTLEMENT_FIELDS, DayCount, PeriodKind
from gonghui.members import banks
from gonghui.members import queries as member_queries

router = APIRouter(include_in_schema=False)

Manager = Annotated[Actor, Depends(permitted(Permission.INSURANCE_MANAGE))]


def _choices() -> dict[str, Any]:
    return {
        "settlement_fields": SETTLEMENT_FIELDS,
        "periods": {PeriodKind.MONTH: "按月", PeriodKind.QUARTER: "按季", PeriodKind.YEAR: "按年"},
        "day_counts": {
            DayCount.CALENDAR: "自然日（开卡前按0计）",
            DayCount.CARD_DAYS: "仅计开卡后天数",
        },
    }


def _list_page(
    request: Request, db: Db, actor: Actor, status_code: int = 200, **context: Any
) -> Response:
    bank_names = {view.id: view.name for view in banks.bank_views(db)}
    plans = [
        (
            plan,
            service.latest_version(db, plan),
            [bank_names[bank_id] for bank_id in service.plan_bank_ids(db, plan)],
        )
        for plan in service.all_plans(db)
    ]
    return render(
        request,
        "insurance/plans.html",
        {
            "plans": plans,
            "enrolled": service.enrolment_counts(db, business_date(request.app.state.clock.now())),
            "banks": [view for view in banks.bank_views(db) if view.active],
            "form": {},
            **_choices(),
            **context,
        },
        actor=actor,
        status_code=status_code,
    )


@router.get("/insurance/plans")
def plans_page(request: Request, db: Db, actor: Manager) -> Response:
    return _list_page(request, db, actor)


@router.post("/insurance/plans", dependencies=[Csrf])
async def create_plan(request: Request, db: Db, now: Now, actor: Manager) -> Response:
    form = await request.form()
    fields = {key: str(value) for key, value in form.items() if isinstance(value, str)}
    bank_ids = [
        number for value in form.getlist("bank_id") if (number := whole_number_or_none(str(value)))
    ]
    try:
        if not bank_ids:
            raise InvalidInput("bank_required", "请至少选择一家合作银行")
        plan = service.create_plan(
            db,
            code=fields.get("code", "").strip().upper(),
            name=fields.get("name", "").strip(),
            insurer=fields.get("insurer", "").strip(),
            terms=read_terms(fields, [str(v) for v in form.getlist("eligible_fields")]),
            effective_from=read_day(fields.get("effective_from", ""), "生效日期"),
            bank_ids=bank_ids,
            actor=actor,
            now=now,
        )
    except DomainError as refusal:
        db.rollback()
        return _list_page(
            request, db, actor, refusal.http_status, form=fields, error=refusal.message
        )
    flash(request, f"已创建保险计划 {plan.code}，请登记参保单位")
    return RedirectResponse(f"/insurance/plans/{plan.id}", status_code=303)


def _detail_page(
    request: Request, db: Db, actor: Actor, plan: Plan, status_code: int = 200, **context: Any
) -> Response:
    versions = service.versions_of(db, plan)
    current = service.terms_of(versions[-1])
    districts, industries = member_queries.unit_choices(db)
    today = business_date(request.app.state.clock.now())
    return render(
        request,
        "insurance/plan.html",
        {
            "plan": plan,
            "versions": [(v, service.terms_lines(service.terms_of(v))) for v in versions],
            "current": current,
            "enrolled_now": len(service.enrolled_unit_ids(db, plan, today)),
            "units_total": member_queries.unit_count(db),
            "districts": districts,
            "industries": industries,
            "today": today,
            "amend": {},
            **_choices(),
            **context,
        },
        actor=actor,
        status_code=status_code,
    )


@router.get("/insurance/plans/{plan_id}")
def plan_page(request: Request, plan_id: Id, db: Db, actor: Manager) -> Response:
    return _detail_page(request, db, actor, service.plan_by_id(db, plan_id))


@router.post("/insurance/plans/{plan_id}/units", dependencies=[Csrf])
def enrol_units(
    request: Request,
    plan_id: Id,
    db: Db,
    now: Now,
    actor: Manager,
    action: Annotated[str, Form()] = "enrol",
    scope: Annotated[str, Form()] = "",
    district: Annotated[str, Form()] = "",
    industry: Annotated[str, Form()] = "",
    credit_codes: Annotated[str, Form()] = "",
    on: Annotated[str, Form()] = "",
) -> Response:
    plan = service.plan_by_id(db, plan_id)
    selection = member_queries.UnitSelection(
        everything=scope == "all",
        district=district if scope == "district" else "",
        industry=industry if scope == "industry" else "",
        credit_codes=tuple(credit_codes.replace("，", ",").replace(",", " ").split())
        if scope == "units"
        else (),
    )
    try:
        day = read_day(on, "日期")
        if selection.empty:
            raise InvalidInput("units_required", "请选择单位：全部、某区县、某行业或填写信用代码")
        unit_ids = member_queries.selected_unit_ids(db, selection)
        if not unit_ids:
            raise InvalidInput("no_units", "没有符合条件的单位（请先导入单位）")
        if action == "leave":
            changed = service.unenroll_units(db, plan, unit_ids, day, actor=actor, now=now)
            message = f"{changed} 个单位自 {day} 起退出计划"
        else:
            changed = service.enroll_units(db, plan, unit_ids, day, actor=actor, now=now)
            message = f"{changed} 个单位自 {day} 起参加计划（已参保的单位不变）"
    except DomainError as refusal:
        db.rollback()
        unit_form = {"scope": scope, "district": district, "industry": industry}
        unit_form |= {"credit_codes": credit_codes, "on": on, "action": action}
        return _detail_page(
            request,
            db,
            actor,
            plan,
            refusal.http_status,
            unit_form=unit_form,
            unit_error=refusal.message,
        )
    flash(request, message)
    return RedirectResponse(f"/insurance/plans/{plan.id}", status_code=303)


@router.post("/insurance/plans/{plan_id}/versions", dependencies=[Csrf])
async def amend_plan(request: Request, plan_id: Id, db: Db, now: Now, actor: Manager) -> Response:
    """First the changes against the version in force, then (confirmed) the new version."""
    plan = service.plan_by_id(db, plan_id)
    form = await request.form()
    fields = {key: str(value) for key, value in form.items() if isinstance(value, str)}
    eligible = [str(value) for value in form.getlist("eligible_fields")]
    current = service.terms_of(service.latest_version(db, plan))
    amend = {**fields, "eligible_fields": eligible}
    try:
        terms = read_terms(fields, eligible, current)
        day = read_day(fields.get("effective_from", ""), "生效日期")
        changes = service.compare_terms(current, terms)
        service.check_amendment(db, plan, terms, day, now=now)
        if fields.get("confirm") != "yes":
            return _detail_page(request, db, actor, plan, amend=amend, changes=changes)
        version = service.amend_plan(db, plan, terms, day, actor=actor, now=now)
    except DomainError as refusal:
        db.rollback()
        return _detail_page(
            request,
            db,
            actor,
            plan,
            refusal.http_status,
            amend=amend,
            amend_error=refusal.message,
        )
    flash(request, f"计划 {plan.code} 第{version.version}版自 {day} 起生效")
    return RedirectResponse(f"/insurance/plans/{plan.id}", status_code=303)
