"""Pages: the public calculator, "我的退休" for members, the impact report for the roll keepers.

The calculators change nothing, so they are GET forms: a result can be bookmarked or shared.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup

from gonghui.core.auth import Actor, Permission
from gonghui.core.clock import business_date
from gonghui.core.errors import DomainError
from gonghui.core.inputs import whole_number_or_none
from gonghui.core.snapshots import Drawings, Snapshot
from gonghui.edge.deps import (
    Csrf,
    Db,
    MaybeActor,
    Now,
    PageActor,
    SessionFactory,
    flash,
    permitted,
    render,
)
from gonghui.jobs.starting import queue_task, to_task_page
from gonghui.jobs.tasks import IMPACT_EXPORT
from gonghui.members import queries as members
from gonghui.retirement import display, inputs, queries
from gonghui.retirement.export import NOTE, impact_xlsx
from gonghui.retirement.membership import category_of
from gonghui.retirement.rules import (
    Category,
    Month,
    RetirementDecision,
    RetirementScenario,
    retirement_scenarios,
)

router = APIRouter(include_in_schema=False)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ImpactViewer = Annotated[Actor, Depends(permitted(Permission.MEMBERS_VIEW))]


def pension_form(
    base: str = "",
    index: str = "1.0",
    years: str = "",
    balance: str = "",
    monthly: str = "",
    rate: str = "",
    transitional: str = "",
    top_up: str = "",
) -> inputs.PensionForm:
    return inputs.PensionForm(base, index, years, balance, monthly, rate, transitional, top_up)


PensionFormQuery = Annotated[inputs.PensionForm, Depends(pension_form)]


@dataclass
class Calculation:
    """What the calculator pages show; every part may be missing or refused on its own."""

    category: str
    birth: str
    form: inputs.PensionForm
    decision: RetirementDecision | None = None
    error: str = ""
    pension_error: str = ""
    scenarios: tuple[RetirementScenario, ...] = ()
    chart: Markup | None = None
    highlights: list[tuple[str, RetirementScenario]] = field(default_factory=list)

    @property
    def status_code(self) -> int:
        return 422 if self.error or self.pension_error else 200


def calculate(category: str, birth: str, form: inputs.PensionForm, now: datetime) -> Calculation:
    result = Calculation(category, birth, form)
    if not (category.strip() or birth.strip()):
        return result
    try:
        result.decision = inputs.decision(category, birth)
    except DomainError as error:
        result.error = error.message
        return result
    if not form.asked:
        return result
    today = business_date(now)
    try:
        scenario_inputs = form.scenario_inputs(Month(today.year, today.month))
        decision = result.decision
        result.scenarios = inputs.checked(lambda: retirement_scenarios(decision, scenario_inputs))
    except DomainError as error:
        result.pension_error = error.message
        return result
    if result.scenarios:
        result.chart = display.pension_chart(result.scenarios)
        result.highlights = _highlights(result.scenarios)
    return result


def _highlights(scenarios: tuple[RetirementScenario, ...]) -> list[tuple[str, RetirementScenario]]:
    """The earliest, statutory and latest months still ahead, each once."""
    picked = [("最早退休", scenarios[0])]
    picked += [("法定退休", s) for s in scenarios if s.months_from_statutory == 0]
    picked.append(("最晚退休", scenarios[-1]))
    seen: set[Month] = set()
    unique = []
    for label, scenario in picked:
        if scenario.retirement_month not in seen:
            seen.add(scenario.retirement_month)
            unique.append((label, scenario))
    return unique


def _page_context(calculation: Calculation, **extra: Any) -> dict[str, Any]:
    return {
        "calc": calculation,
        "categories": list(Category),
        "labels": display.CATEGORY_LABELS,
        "age_text": display.age_text,
        "years_text": display.years_text,
        "month_text": display.month_text,
        "offset_text": display.offset_text,
        **extra,
    }


@router.get("/retirement")
def calculator(
    request: Request,
    now: Now,
    actor: MaybeActor,
    form: PensionFormQuery,
    category: str = "",
    birth: str = "",
    birth_year: Annotated[str, Query(max_length=4)] = "",
    birth_month: Annotated[str, Query(max_length=2)] = "",
) -> Response:
    # The page asks for the year and the month in two lists (Chromium draws an empty
    # <input type="month"> as "--------- ----"); links and the API still send `birth`.
    if not birth and birth_year and (month := whole_number_or_none(birth_month, 12)) is not None:
        birth = f"{birth_year}-{month:02d}"
    calculation = calculate(category, birth, form, now)
    return render(
        request,
        "retirement/calculator.html",
        _page_context(calculation, mine=False, action="/retirement"),
        actor=actor,
        status_code=calculation.status_code,
    )


@router.get("/retirement/me")
def my_retirement(
    request: Request,
    db: Db,
    now: Now,
    actor: PageActor,
    form: PensionFormQuery,
    category: str = "",
) -> Response:
    actor.require(Permission.OWN_PROFILE)
    member = members.own_member(db, actor)
    derived = category_of(member.sex, member.post_type)
    birth = Month(member.birth_date.year, member.birth_date.month)
    calculation = calculate(category or derived.value, str(birth), form, now)
    context = _page_context(
        calculation,
        mine=True,
        action="/retirement/me",
        member=member,
        derived=derived,
        birth_month=birth,
    )
    return render(
        request,
        "retirement/calculator.html",
        context,
        actor=actor,
        status_code=calculation.status_code,
    )


@router.get("/retirement/impact")
def impact_page(
    request: Request,
    db: Db,
    factory: SessionFactory,
    now: Now,
    actor: ImpactViewer,
    unit: str = "",
    industry: str = "",
) -> Response:
    snapshot = queries.impact_snapshot(db, factory, actor, now, unit_code=unit, industry=industry)
    scoped = snapshot.figures
    narrowed = {key: value for key, value in (("unit", unit), ("industry", industry)) if value}
    return render(
        request,
        "retirement/impact.html",
        {
            "scoped": scoped,
            "report": scoped.report,
            "total": scoped.report.total,
            "tables": _tables(request, snapshot),
            "export_query": urlencode(narrowed),
            "month_text": display.month_text,
            "note": NOTE,
            "snapshot": snapshot,
            "now": now,
            "narrowed": narrowed,
        },
        actor=actor,
    )


@router.post("/retirement/impact/export", dependencies=[Csrf])
def queue_impact_export(
    request: Request,
    db: Db,
    now: Now,
    actor: ImpactViewer,
    unit: Annotated[str, Form()] = "",
    industry: Annotated[str, Form()] = "",
) -> Response:
    """The province's workbook is built by the worker; its page offers the download."""
    parameters = {"unit": unit.strip(), "industry": industry.strip()}
    task = queue_task(request, db, IMPACT_EXPORT, parameters, actor=actor, now=now)
    return to_task_page(task)


# Drawing 200 units and the coming year's retirements took about 60 ms of every view.
_TABLES: Drawings[Markup] = Drawings()


def _tables(request: Request, snapshot: Snapshot[queries.ScopedImpact]) -> Markup:
    report = snapshot.figures.report
    template = request.app.state.templates.env.get_template("retirement/_impact_tables.html")
    return _TABLES.of(
        snapshot,
        lambda: Markup(  # noqa: S704 - rendered by the autoescaping template environment
            template.render(
                scoped=snapshot.figures,
                report=report,
                total=report.total,
                retirements_chart=display.retirements_chart(report.total),
                older_chart=display.older_workers_chart(report.total),
                labels=display.CATEGORY_SHORT,
            )
        ),
    )


@router.post("/retirement/impact/refresh", dependencies=[Csrf])
def impact_refresh(
    request: Request,
    db: Db,
    now: Now,
    actor: ImpactViewer,
    unit: Annotated[str, Form()] = "",
    industry: Annotated[str, Form()] = "",
) -> Response:
    queries.refresh_impact(db, actor, now, unit_code=unit, industry=industry)
    flash(request, "数据已更新")
    narrowed = {key: value for key, value in (("unit", unit), ("industry", industry)) if value}
    query = f"?{urlencode(narrowed)}" if narrowed else ""
    return RedirectResponse(f"/retirement/impact{query}", status_code=303)


@router.get("/retirement/impact.xlsx")
def impact_export(
    db: Db,
    factory: SessionFactory,
    now: Now,
    actor: ImpactViewer,
    unit: str = "",
    industry: str = "",
) -> Response:
    # The page's snapshot, so that the file says what the page says.
    snapshot = queries.impact_snapshot(db, factory, actor, now, unit_code=unit, industry=industry)
    scoped = snapshot.figures
    filename = f"延迟退休影响分析-{scoped.report.as_of}.xlsx"
    # RFC 5987 form, so that a Chinese file name survives every browser.
    return Response(
        impact_xlsx(scoped),
        media_type=XLSX,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"},
    )
