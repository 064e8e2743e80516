"""The partner banks page (合作银行): register, rename and set card prefixes, retire."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from gonghui.core.auth import Actor, Permission
from gonghui.core.errors import DomainError, InvalidInput
from gonghui.edge.deps import Csrf, Db, Id, Now, flash, permitted, render
from gonghui.members import banks, queries

router = APIRouter(include_in_schema=False)

BankManager = Annotated[Actor, Depends(permitted(Permission.BANKS_MANAGE))]
PAGE = "/admin/banks"


def _page(
    request: Request, db: Db, actor: Actor, status_code: int = 200, **context: Any
) -> Response:
    return render(
        request,
        "members/banks.html",
        {"banks": banks.bank_views(db), "form": {}, **context},
        actor=actor,
        status_code=status_code,
    )


@router.get(PAGE)
def banks_page(request: Request, db: Db, actor: BankManager) -> Response:
    return _page(request, db, actor)


@router.post(PAGE, dependencies=[Csrf])
def register(
    request: Request,
    db: Db,
    now: Now,
    actor: BankManager,
    code: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    prefixes: Annotated[str, Form()] = "",
) -> Response:
    try:
        bank = banks.register_bank(
            db, code=code, name=name, prefixes=banks.parse_prefixes(prefixes), actor=actor, now=now
        )
    except DomainError as refusal:
        db.rollback()
        form = {"code": code, "name": name, "prefixes": prefixes}
        return _page(request, db, actor, refusal.http_status, form=form, error=refusal.message)
    flash(request, f"已登记合作银行 {bank.name}（{bank.code}）")
    return RedirectResponse(PAGE, status_code=303)


@router.post(PAGE + "/{bank_id}", dependencies=[Csrf])
def update(
    request: Request,
    bank_id: Id,
    db: Db,
    now: Now,
    actor: BankManager,
    name: Annotated[str, Form()] = "",
    prefixes: Annotated[str, Form()] = "",
) -> Response:
    bank = queries.bank_for(db, actor, bank_id)
    try:
        banks.update_bank(
            db, bank, name=name, prefixes=banks.parse_prefixes(prefixes), actor=actor, now=now
        )
    except DomainError as refusal:
        db.rollback()
        edit = {"id": bank_id, "name": name, "prefixes": prefixes, "error": refusal.message}
        return _page(request, db, actor, refusal.http_status, edit=edit)
    flash(request, f"已更新 {bank.code}：{bank.name}")
    return RedirectResponse(PAGE, status_code=303)


@router.post(PAGE + "/{bank_id}/retire", dependencies=[Csrf])
def retire(
    request: Request,
    bank_id: Id,
    db: Db,
    now: Now,
    actor: BankManager,
    confirm: Annotated[str, Form()] = "",
) -> Response:
    bank = queries.bank_for(db, actor, bank_id)
    try:
        if confirm != "yes":
            raise InvalidInput("confirm_required", "请勾选确认后再停止合作")
        banks.retire_bank(db, bank, actor=actor, now=now)
    except DomainError as refusal:
        db.rollback()
        return _page(request, db, actor, refusal.http_status, error=refusal.message)
    flash(
        request,
        f"{bank.name}自 {bank.retired_on} 起停止合作；历史卡片与余额文件保留，其接口令牌已失效",
    )
    return RedirectResponse(PAGE, status_code=303)
