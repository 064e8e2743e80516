"""Pages of the wallet for the medical-insurance agency: roll-out, monitoring, settlement."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from gonghui.core.auth import Actor, Permission
from gonghui.core.charts import Series, bar_chart
from gonghui.core.clock import business_date
from gonghui.core.errors import DomainError
from gonghui.core.inputs import InputError, input_error, parse_date
from gonghui.edge.deps import Csrf, Db, Now, flash, permitted, render
from gonghui.edge.responses import download
from gonghui.wallet import queries, regions
from gonghui.wallet.exports import settlement_workbook
from gonghui.wallet.regions_data import PROVINCES

router = APIRouter(include_in_schema=False)
Operator = Annotated[Actor, Depends(permitted(Permission.WALLET_OPERATE))]


@router.get("/wallet/regions")
def rollout_page(request: Request, db: Db, now: Now, actor: Operator) -> Response:
    today = business_date(now)
    lines = regions.rollout_by_province(db, today)
    shown = [line for line in lines if line.rollout.regions > 1 or line.rollout.open_regions]
    chart = bar_chart(
        "各省医保钱包开通统筹区",
        [line.name.removesuffix("省").removesuffix("自治区")[:3] for line in shown],
        [
            Series("统筹区", [line.rollout.regions for line in shown], color=5),
            Series("已开通", [line.rollout.open_regions for line in shown]),
        ],
        unit="个",
    )
    context = {
        "lines": lines,
        "chart": chart,
        "opened": sum(line.rollout.open_regions for line in lines),
        "wide": [line.name for line in lines if line.rollout.province_wide],
        "closed": [r for r in regions.all_regions(db) if not regions.is_open(r, today)],
        "provinces": PROVINCES,
        "today": today,
    }
    return render(request, "wallet/regions.html", context, actor=actor)


@router.post("/wallet/regions", dependencies=[Csrf])
def open_region(
    request: Request,
    db: Db,
    now: Now,
    actor: Operator,
    code: Annotated[str, Form()] = "",
    opened_on: Annotated[str, Form()] = "",
) -> Response:
    # A refusal raises: the form at the page's foot comes back with it (edge.form_again).
    try:
        day = parse_date(opened_on, "开通日期")
    except InputError as error:
        raise input_error("bad_date", error) from None
    region = regions.open_region(db, code, day, actor=actor, now=now)
    flash(request, f"{region.name}已开通医保钱包")
    return RedirectResponse("/wallet/regions", status_code=303)


@router.get("/wallet/monitor")
def monitor_page(request: Request, db: Db, now: Now, actor: Operator) -> Response:
    figures = queries.monitoring(db, actor, now)
    return render(request, "wallet/monitor.html", {"m": figures}, actor=actor)


@router.get("/wallet/settlement")
def settlement_page(
    request: Request, db: Db, now: Now, actor: Operator, month: str = ""
) -> Response:
    today = business_date(now)
    latest = queries.settlement_month("", today)
    try:
        first, refusal = queries.settlement_month(month, today), None
    except DomainError as error:
        # The month field comes back with what was typed and why; below it, the last month
        # that has ended, as the page opens.
        first, refusal = latest, error.message
    pairs, provinces = queries.settlement(db, actor, first)
    context = {
        "month": first.isoformat()[:7],
        "asked": month if refusal else first.isoformat()[:7],
        "latest": latest.isoformat()[:7],
        "refusal": refusal,
        "pairs": pairs,
        "provinces": provinces,
    }
    status = 422 if refusal else 200
    return render(request, "wallet/settlement.html", context, actor=actor, status_code=status)


@router.get("/wallet/settlement.xlsx")
def settlement_export(db: Db, now: Now, actor: Operator, month: str = "") -> Response:
    first = queries.settlement_month(month, business_date(now))
    pairs, provinces = queries.settlement(db, actor, first)
    content = settlement_workbook(pairs, provinces, month=first, who=actor.display_name, now=now)
    return download(content, f"统筹区间清算-{first:%Y-%m}.xlsx")
