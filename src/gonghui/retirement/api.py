"""The retirement JSON API under /api/v1/retirement: the same answers as `gonghui retirement`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from gonghui.core.auth import Actor, Permission
from gonghui.core.clock import business_date
from gonghui.edge.deps import Db, Now, api_permitted
from gonghui.edge.errors import refusals
from gonghui.jobs.starting import TaskOut, accepted, queue_task
from gonghui.jobs.tasks import IMPACT_EXPORT
from gonghui.retirement import inputs, queries
from gonghui.retirement.schemas import AgeOut, ImpactOut, PensionOut

router = APIRouter(prefix="/retirement", tags=["retirement"])

# Parameters arrive as text and are read by `retirement.inputs`, so that a bad value is refused
# with the same code and Chinese message as in the CLI and on the pages.
CategoryParam = Annotated[str, Query(description="male、female55 或 female50", examples=["male"])]
BirthParam = Annotated[str, Query(description="出生年月 YYYY-MM", examples=["1965-01"])]
YuanParam = Annotated[str, Query(description="元，最多两位小数", examples=["10000"])]


@router.get("/age", response_model=AgeOut)
def retirement_age(category: CategoryParam, birth: BirthParam) -> AgeOut:
    """Statutory retirement age and month under the 2025 reform, the flexible window and the
    minimum contribution (in months) for the year of the statutory month. No login needed."""
    return AgeOut.of(inputs.decision(category, birth))


@router.get("/pension", response_model=PensionOut)
def pension_estimate(
    base: YuanParam,
    index: Annotated[str, Query(description="本人平均缴费指数", examples=["1.0"])],
    contribution_years: Annotated[str, Query(description="累计缴费年限", examples=["35"])],
    account_balance: YuanParam,
    age_months: Annotated[str, Query(description="退休年龄（月）", examples=["720"])],
) -> PensionOut:
    """Monthly pension under 国发〔2005〕38号: 基础养老金 and 个人账户养老金 (yuan strings),
    and the 计发月数 used. No login needed."""
    return PensionOut.of(
        inputs.pension(base, index, contribution_years, account_balance, age_months)
    )


@router.get("/impact", response_model=ImpactOut, responses=refusals(404))
def retirement_impact(
    db: Db,
    now: Now,
    actor: Annotated[Actor, Depends(api_permitted(Permission.MEMBERS_VIEW))],
    unit: Annotated[str, Query(description="统一社会信用代码：只统计该单位")] = "",
    industry: Annotated[str, Query(description="只统计该行业")] = "",
) -> ImpactOut:
    """The reform's impact on the members the caller may see (a unit officer: their unit)."""
    scoped = queries.impact_for(db, actor, business_date(now), unit_code=unit, industry=industry)
    return ImpactOut.of(scoped)


@router.post(
    "/impact/exports",
    status_code=202,
    response_model=TaskOut,
    responses={202: {"description": "已排队；`Location` 为任务地址"}},
)
def queue_impact_export(
    request: Request,
    db: Db,
    now: Now,
    actor: Annotated[Actor, Depends(api_permitted(Permission.MEMBERS_VIEW))],
    unit: Annotated[str, Query(description="统一社会信用代码：只统计该单位")] = "",
    industry: Annotated[str, Query(description="只统计该行业")] = "",
) -> JSONResponse:
    """Queue the impact workbook (XLSX) for the worker; answers 202 with the task's URL, whose
    `result_url` downloads the file once it is built."""
    parameters = {"unit": unit.strip(), "industry": industry.strip()}
    task = queue_task(request, db, IMPACT_EXPORT, parameters, actor=actor, now=now)
    return accepted(request, task)
