"""The agency's insured registry page: find a person, record one who is not on the union's
roll (a member's relative, most often), end an insurance or move it to another region."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from gonghui.core.auth import Actor, Permission
from gonghui.core.errors import InvalidInput
from gonghui.core.inputs import InputError, input_error, parse_date
from gonghui.edge.deps import (
    Csrf,
    Db,
    Id,
    Now,
    PageNo,
    Vault,
    flash,
    get_settings,
    permitted,
    render,
)
from gonghui.wallet import people, queries, regions, spending
from gonghui.wallet.regions_data import PROVINCES
from gonghui.wallet.rules import Scheme

router = APIRouter(include_in_schema=False)
Operator = Annotated[Actor, Depends(permitted(Permission.WALLET_OPERATE))]
PATH = "/wallet/insured"


def _back(request: Request, message: str) -> RedirectResponse:
    flash(request, message)
    return RedirectResponse(PATH, status_code=303)


def read_date(text: str, what: str) -> date:
    try:
        return parse_date(text, what)
    except InputError as error:
        raise input_error("bad_date", error) from None


@router.get(PATH)
def registry_page(
    request: Request, db: Db, vault: Vault, actor: Operator, q: str = "", page: PageNo = 1
) -> Response:
    context = {
        "results": queries.registry(db, actor, vault, q, page),
        "q": q,
        "schemes": list(Scheme),
        "regions": regions.all_regions(db),
        "provinces": PROVINCES,
    }
    return render(request, "wallet/insured.html", context, actor=actor)


@router.post(PATH, dependencies=[Csrf])
def register(
    request: Request,
    db: Db,
    now: Now,
    vault: Vault,
    actor: Operator,
    name: Annotated[str, Form()] = "",
    id_number: Annotated[str, Form()] = "",
    scheme: Annotated[str, Form()] = "",
    region: Annotated[str, Form()] = "",
) -> Response:
    # A refusal raises: the form comes back with what was typed and why (edge.form_again).
    if scheme not in {s.value for s in Scheme}:
        raise InvalidInput("bad_scheme", "请选择参保险种")
    insured = people.register_insured(
        db, name=name, id_number=id_number, scheme=Scheme(scheme), region_code=region,
        vault=vault, actor=actor, now=now,
    )  # fmt: skip
    linked = "，已关联会员名册" if insured.member_id else ""
    return _back(request, f"已登记参保人：{insured.name}（{insured.id_masked}）{linked}")


@router.post(PATH + "/{insured_id}/activation-code", dependencies=[Csrf])
def issue_activation_code(
    request: Request, insured_id: Id, db: Db, now: Now, vault: Vault, actor: Operator
) -> Response:
    """The one-time code with which the relative opens their wallet, shown once here."""
    settings = get_settings(request)
    insured, code = people.issue_activation_code(
        db, insured_id, actor=actor, settings=settings, now=now
    )
    context = {
        "results": queries.registry(db, actor, vault, "", 1),
        "q": "",
        "schemes": list(Scheme),
        "regions": regions.all_regions(db),
        "provinces": PROVINCES,
        "new_code": code,
        "code_for": f"{insured.name}（{insured.id_masked}）",
        "code_hours": settings.activation_code_hours,
    }
    return render(request, "wallet/insured.html", context, actor=actor)


@router.post(PATH + "/{insured_id}/end", dependencies=[Csrf])
def end(
    request: Request,
    insured_id: Id,
    db: Db,
    now: Now,
    actor: Operator,
    ended_on: Annotated[str, Form()] = "",
) -> Response:
    ended = spending.end_insurance(
        db, insured_id, read_date(ended_on, "终止日期"), actor=actor, now=now
    )
    return _back(request, f"已登记参保终止，自动解除共济关系{ended}个")


@router.post(PATH + "/{insured_id}/move", dependencies=[Csrf])
def move(
    request: Request,
    insured_id: Id,
    db: Db,
    now: Now,
    actor: Operator,
    region: Annotated[str, Form()] = "",
) -> Response:
    ended = spending.move_insured(db, insured_id, region, actor=actor, now=now)
    return _back(request, f"已登记参保地转移，自动解除共济关系{ended}个")
