"""网上入会 pages: the worker's application (no login) and the unit officer's decisions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from gonghui.core.auth import Actor, Permission
from gonghui.core.errors import DomainError
from gonghui.core.sms import SmsSender
from gonghui.edge.deps import Csrf, Db, Id, Now, Vault, flash, get_settings, permitted, render
from gonghui.members import accounts, joining, queries
from gonghui.members.rules import POST_TYPE_LABELS

router = APIRouter(include_in_schema=False)

Officer = Annotated[Actor, Depends(permitted(Permission.MEMBERS_MANAGE))]
FIELDS = ("name", "id_number", "phone", "employer", "post_type")


def _join_page(
    request: Request, db: Db, form: dict[str, str], find: str = "", **extra: object
) -> Response:
    context = {
        "form": form,
        "find": find,
        "found": joining.find_employers(db, find) if find else [],
        "post_types": POST_TYPE_LABELS,
        **extra,
    }
    status = 422 if extra.get("problems") else 200
    return render(request, "members/join.html", context, status_code=status)


@router.get("/join")
def join_page(request: Request, db: Db, find: str = "", employer: str = "") -> Response:
    return _join_page(request, db, {"employer": employer[:128]}, find[:64])


@router.post("/join", dependencies=[Csrf])
def apply(
    request: Request,
    db: Db,
    now: Now,
    vault: Vault,
    name: Annotated[str, Form(max_length=64)] = "",
    id_number: Annotated[str, Form(max_length=32)] = "",
    phone: Annotated[str, Form(max_length=32)] = "",
    employer: Annotated[str, Form(max_length=128)] = "",
    post_type: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    form = {"name": name, "id_number": id_number, "phone": phone, "employer": employer}
    form["post_type"] = post_type
    try:
        joining.apply_to_join(db, joining.Application(**form), vault=vault, now=now)
    except joining.ApplicationRefused as refusal:
        db.rollback()
        return _join_page(request, db, form, problems=refusal.problems)
    return RedirectResponse("/join/sent", status_code=303)


@router.get("/join/sent")
def sent(request: Request) -> Response:
    return render(request, "members/join_sent.html")


def _applications_page(
    request: Request, db: Db, actor: Actor, status_code: int = 200, **extra: object
) -> Response:
    context = {"applications": queries.applications_for(db, actor), **extra}
    return render(
        request, "members/applications.html", context, actor=actor, status_code=status_code
    )


@router.get("/join/applications")
def applications(request: Request, db: Db, actor: Officer) -> Response:
    return _applications_page(request, db, actor)


def _sms(request: Request, phone: str, text: str) -> bool:
    sender: SmsSender | None = request.app.state.sms
    if sender is None:
        return False
    sender.send(phone, text)
    return True


@router.post("/join/applications/{application_id}/approve", dependencies=[Csrf])
def approve(
    request: Request, application_id: Id, db: Db, now: Now, vault: Vault, actor: Officer
) -> Response:
    """Approve: the member joins the roll and their activation code is issued, shown once
    here and sent to their phone, as for a member imported on the roll."""
    application = queries.application_for(db, actor, application_id)
    settings = get_settings(request)
    try:
        member = joining.approve_application(db, application, actor=actor, vault=vault, now=now)
        code = accounts.issue_member_activation_code(
            db, member, actor=actor, settings=settings, now=now
        )
    except DomainError as refusal:
        db.rollback()
        return _applications_page(request, db, actor, refusal.http_status, error=refusal.message)
    hours = settings.activation_code_hours
    sms_sent = _sms(
        request,
        member.phone,
        f"【职工服务平台】您的入会申请已通过。账号激活码为{code}，{hours}小时内有效，"
        "请在“会员开通账号”页面用身份证号、手机号和激活码开通。",
    )
    return _applications_page(
        request, db, actor, approved=member, new_code=code, code_hours=hours, sms_sent=sms_sent
    )


@router.post("/join/applications/{application_id}/return", dependencies=[Csrf])
def send_back(
    request: Request,
    application_id: Id,
    db: Db,
    now: Now,
    actor: Officer,
    reason: Annotated[str, Form(max_length=400)] = "",
) -> Response:
    application = queries.application_for(db, actor, application_id)
    try:
        joining.return_application(db, application, reason, actor=actor, now=now)
    except DomainError as refusal:
        db.rollback()
        return _applications_page(
            request,
            db,
            actor,
            refusal.http_status,
            error=refusal.message,
            refused_id=application_id,
            reason=reason,
        )
    _sms(
        request,
        application.phone,
        f"【职工服务平台】您的入会申请已退回，原因：{application.reason}。可修改后重新申请。",
    )
    flash(request, f"已退回 {application.name} 的申请")
    return RedirectResponse("/join/applications", status_code=303)
