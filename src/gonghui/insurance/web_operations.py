"""Pages for the scheme's operators: banks send balance files, the federation runs the
assessment and watches its figures."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup

from gonghui.core.auth import Actor, Permission
from gonghui.core.charts import Series, bar_chart, line_chart
from gonghui.core.errors import ImportRejected, InvalidInput
from gonghui.core.inputs import MAX_ID, InputError, input_error, parse_month
from gonghui.core.money import fen_to_yuan
from gonghui.core.monthly import months_caption
from gonghui.core.snapshots import Drawings
from gonghui.core.tabular import write_xlsx
from gonghui.edge.deps import (
    Csrf,
    Db,
    Now,
    SessionFactory,
    flash,
    permitted,
    read_upload,
    render,
)
from gonghui.edge.responses import download
from gonghui.insurance import assessment, figures, queries, service
from gonghui.insurance.balances import Source, import_balances
from gonghui.insurance.web import Balances
from gonghui.jobs.starting import queue_task, queue_upload, to_task_page, too_big_for_request
from gonghui.jobs.tasks import ASSESSMENT, BALANCE_IMPORT
from gonghui.members import queries as member_queries

router = APIRouter(include_in_schema=False)

BalanceSender = Annotated[Actor, Depends(permitted(Permission.BALANCES_IMPORT))]
FigureViewer = Annotated[Actor, Depends(permitted(Permission.INSURANCE_FIGURES))]
DashboardViewer = Annotated[Actor, Depends(permitted(Permission.INSURANCE_DASHBOARD))]
Manager = Annotated[Actor, Depends(permitted(Permission.INSURANCE_MANAGE))]
MAX_BALANCE_FILE = 200 * 1024 * 1024


def _banks_for(db: Db, actor: Actor) -> list[object]:
    banks = member_queries.all_banks(db)
    return [bank for bank in banks if actor.bank_id in {None, bank.id}]


@router.get("/insurance/balances")
def balances_page(request: Request, db: Db, actor: BalanceSender) -> Response:
    return render(
        request,
        "insurance/balances.html",
        {"imports": queries.import_history(db, actor), "banks": _banks_for(db, actor)},
        actor=actor,
    )


@router.post("/insurance/balances", dependencies=[Csrf])
def balances_upload(
    request: Request,
    db: Db,
    now: Now,
    store: Balances,
    actor: BalanceSender,
    file: Annotated[UploadFile, File()],
    bank_id: Annotated[int, Form(ge=1, le=MAX_ID)],
) -> Response:
    bank = member_queries.bank_for(db, actor, bank_id)
    content = read_upload(file, MAX_BALANCE_FILE)
    if too_big_for_request(request, content):
        # A big file is checked and written by the worker; its page shows how it went.
        parameters = {"bank_id": bank.id, "filename": file.filename or ""}
        task = queue_upload(request, db, BALANCE_IMPORT, content, parameters, actor=actor, now=now)
        return to_task_page(task)
    try:
        report = import_balances(
            db,
            content,
            bank=bank,
            filename=file.filename or "",
            source=Source.UPLOAD,
            actor=actor,
            now=now,
            store=store,
        )
    except ImportRejected as rejected:
        db.rollback()
        context = {
            "imports": queries.import_history(db, actor),
            "banks": _banks_for(db, actor),
            "rejected": rejected,
            "filename": file.filename,
        }
        return render(request, "insurance/balances.html", context, actor=actor, status_code=422)
    flash(request, report.summary)
    return RedirectResponse("/insurance/balances", status_code=303)


def _assessments_context(db: Db, actor: Actor) -> dict[str, object]:
    runs = queries.assessment_runs(db, actor)
    if actor.bank_id is not None:
        # A bank's own cards only: its tally stands in for the federation's totals too.
        code = member_queries.bank_for(db, actor, actor.bank_id).code
        tallies = [{code: run.by_bank.get(code, {"assessed": 0, "passed": 0})} for run in runs]
        totals = [(tally[code]["assessed"], tally[code]["passed"]) for tally in tallies]
    else:
        tallies = [run.by_bank for run in runs]
        totals = [(run.cards_assessed, run.eligible) for run in runs]
    rows = [
        (run, assessed, passed, tally)
        for run, (assessed, passed), tally in zip(runs, totals, tallies, strict=True)
    ]
    return {
        "rows": rows,
        "bank_names": member_queries.bank_names(db),
        "can_run": actor.can(Permission.INSURANCE_MANAGE),
    }


@router.get("/insurance/assessments")
def assessments_page(request: Request, db: Db, actor: FigureViewer) -> Response:
    return render(
        request, "insurance/assessments.html", _assessments_context(db, actor), actor=actor
    )


@router.post("/insurance/assessments", dependencies=[Csrf])
def run_assessment(
    request: Request,
    db: Db,
    now: Now,
    actor: Manager,
    period: Annotated[str, Form()] = "",
    allow_missing_banks: Annotated[bool, Form()] = False,
) -> Response:
    try:
        month = _period_month(period)
        assessment.check_assessable(
            db,
            service.plan_by_code(db),
            month,
            actor=actor,
            now=now,
            allow_missing_banks=allow_missing_banks,
        )
    except InvalidInput as refused:
        # The form comes back as itself, the reason above it: the operator may correct the
        # month or tick the override.
        db.rollback()
        context = {
            **_assessments_context(db, actor),
            "error": refused.message,
            "period": period,
            "allow_missing_banks": allow_missing_banks,
        }
        return render(request, "insurance/assessments.html", context, actor=actor, status_code=422)
    # The province's assessment takes minutes: the worker runs it; its page shows the progress.
    parameters = {"period": f"{month:%Y-%m}", "allow_missing_banks": allow_missing_banks}
    task = queue_task(request, db, ASSESSMENT, parameters, actor=actor, now=now)
    return to_task_page(task)


def _period_month(text: str) -> date:
    try:
        return parse_month(text, "考核月份")
    except InputError as error:
        raise input_error("bad_period", error) from None


_CHARTS: Drawings[list[tuple[Markup, str]]] = Drawings()


def _charts(trend: figures.Trends, counted_at: datetime) -> list[tuple[Markup, str]]:
    """Each chart with its caption: where its figures come from and the period they cover."""
    months = [month[2:] for month in trend.months]
    period = months_caption(trend.months, counted_at)
    return [
        (
            bar_chart("每月赠送保险人次", months, [Series("人次", trend.covered_by_month)]),
            f"来源：每月余额考核赠送的保障，按保障起始月 · {period}",
        ),
        (
            line_chart(
                "每月赔付金额",
                months,
                [Series("赔付金额", [fen_to_yuan(fen) for fen in trend.paid_by_month])],
                unit="元",
            ),
            f"来源：理赔记录中已赔付的案件，按赔付月 · {period}",
        ),
    ]


@router.get("/insurance/dashboard")
def dashboard(
    request: Request, db: Db, factory: SessionFactory, now: Now, actor: DashboardViewer
) -> Response:
    snapshot = figures.dashboard(db, factory, actor, now)
    head, trend = snapshot.figures.head, snapshot.figures.trend
    charts = _CHARTS.of(snapshot, lambda: _charts(trend, snapshot.computed_at))
    return render(
        request,
        "insurance/dashboard.html",
        {"head": head, "trend": trend, "charts": charts, "snapshot": snapshot, "now": now},
        actor=actor,
    )


@router.post("/insurance/dashboard/refresh", dependencies=[Csrf])
def dashboard_refresh(request: Request, db: Db, now: Now, actor: DashboardViewer) -> Response:
    figures.refresh_dashboard(db, actor, now)
    flash(request, "数据已更新")
    return RedirectResponse("/insurance/dashboard", status_code=303)


@router.get("/insurance/dashboard.xlsx")
def dashboard_export(db: Db, factory: SessionFactory, now: Now, actor: DashboardViewer) -> Response:
    # The page's snapshot, so that the file says what the page says.
    snapshot = figures.dashboard(db, factory, actor, now)
    head, trend = snapshot.figures.head, snapshot.figures.trend
    rows: list[list[object]] = [
        ["参保单位", head.participating_units, "", ""],
        ["累计赠送保险人次", head.person_times, "", ""],
        ["办结理赔案件", head.claims_concluded, "", ""],
        ["赔付金额（元）", fen_to_yuan(head.paid_fen), "", ""],
        ["", "", "", ""],
        ["月份", "赠送人次", "赔付件数", "赔付金额（元）"],
    ]
    rows += [
        [month, covered, count, fen_to_yuan(paid)]
        for month, covered, count, paid in zip(
            trend.months,
            trend.covered_by_month,
            trend.claims_by_month,
            trend.paid_by_month,
            strict=True,
        )
    ]
    rows += [["", "", "", ""], ["考核期", "银行", "考核卡数", "达标卡数"]]
    rows += [list(row) for row in trend.pass_rates]
    content = write_xlsx("补充医保数据", ["项目", "数值", "", ""], rows)
    return download(content, "补充医保数据.xlsx")
