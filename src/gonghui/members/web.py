"""Pages of the spine: the roll (members, units, cards), imports and exports, users, tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import RedirectResponse, Response

from gonghui.core.audit import ID_EXPORTED, ID_VIEWED
from gonghui.core.auth import ADMIN_ROLES, Actor, Permission, Role
from gonghui.core.clock import business_date
from gonghui.core.errors import DomainError, ImportRejected, InvalidInput
from gonghui.core.inputs import MAX_ID, whole_number_or_none
from gonghui.core.pii import IdentityVault
from gonghui.core.sms import SmsSender
from gonghui.edge.deps import (
    Csrf,
    Db,
    Id,
    Now,
    PageActor,
    PageNo,
    Vault,
    flash,
    get_settings,
    permitted,
    read_upload,
    render,
)
from gonghui.edge.responses import download
from gonghui.edge.viewlog import record_view
from gonghui.insurance import queries as insurance_queries
from gonghui.jobs.starting import queue_upload, to_task_page, too_big_for_request
from gonghui.jobs.tasks import ROLL_IMPORT
from gonghui.members import accounts, queries, service, sessions
from gonghui.members.exports import export_xlsx, template_xlsx
from gonghui.members.imports import (
    ImportKind,
    import_file,
    importable_kinds,
    require_import_right,
)
from gonghui.members.models import Bank, Member, Unit
from gonghui.members.rules import (
    ActivationSubject,
    CardStatus,
    EmploymentStatus,
    MembershipStatus,
    PostType,
)
from gonghui.members.schemas import shown_id_number

router = APIRouter(include_in_schema=False)

MAX_UPLOAD_BYTES = 20 * 1024 * 1024


@router.get("/me")
def my_profile(request: Request, db: Db, vault: Vault, actor: PageActor) -> Response:
    actor.require(Permission.OWN_PROFILE)
    member = queries.own_member(db, actor)
    return render(
        request,
        "members/me.html",
        {
            "member": member,
            "id_number": shown_id_number(member, actor, vault),
            "cards": queries.cards_of(db, actor, member),
            "history": queries.membership_history(db, member),
        },
        actor=actor,
    )


@router.get("/members")
def member_list(
    request: Request,
    db: Db,
    vault: Vault,
    actor: Annotated[Actor, Depends(permitted(Permission.MEMBERS_VIEW))],
    q: Annotated[str, Query(max_length=50)] = "",
    membership: MembershipStatus | None = None,
    employment: EmploymentStatus | None = None,
    post: PostType | None = None,
    district: Annotated[str, Query(max_length=32)] = "",
    page: PageNo = 1,
) -> Response:
    wanted = queries.RollFilter(q, membership, employment, post, district)
    results = queries.search_members(db, actor, vault, wanted, page)
    context = {
        "results": results,
        "q": q,
        "wanted": wanted,
        "districts": queries.districts_in_scope(db, actor) if actor.is_federation_wide else [],
        "choices": {
            "membership": list(MembershipStatus),
            "employment": list(EmploymentStatus),
            "post": list(PostType),
        },
        "query": {
            "q": q,
            "membership": membership or "",
            "employment": employment or "",
            "post": post or "",
            "district": district,
        },
    }
    return render(request, "members/list.html", context, actor=actor)


@router.get("/members/{member_id}")
def member_detail(
    request: Request,
    member_id: Id,
    db: Db,
    now: Now,
    vault: Vault,
    actor: Annotated[Actor, Depends(permitted(Permission.MEMBERS_VIEW))],
) -> Response:
    member = queries.member_for(db, actor, member_id)
    return _member_page(request, db, now, vault, actor, member, {})


def _member_page(
    request: Request,
    db: Db,
    now: datetime,
    vault: IdentityVault,
    actor: Actor,
    member: Member,
    extra: dict[str, object],
) -> Response:
    can_manage = actor.can(Permission.MEMBERS_MANAGE)
    if actor.can(Permission.FULL_ID_VIEW):
        record_view(
            request,
            db,
            actor=actor,
            now=now,
            action=ID_VIEWED,
            target_type="member",
            target_ids=[member.id],
        )
    return render(
        request,
        "members/detail.html",
        {
            "member": member,
            # Whether the member is covered, where a claim is filed for them (issue 13.6).
            "cover": insurance_queries.cover_of(db, member, business_date(now)),
            "owner": "该会员的",
            "id_number": shown_id_number(member, actor, vault),
            "cards": queries.cards_of(db, actor, member),
            "history": queries.membership_history(db, member),
            "statuses": list(MembershipStatus),
            "can_manage": can_manage,
            "has_account": accounts.member_has_account(db, member.id),
            "activation": accounts.activation_state(db, ActivationSubject.MEMBER, member.id, now)
            if can_manage
            else None,
            **extra,
        },
        actor=actor,
    )


@router.post("/members/{member_id}/activation-code", dependencies=[Csrf])
def issue_activation_code(
    request: Request,
    member_id: Id,
    db: Db,
    now: Now,
    vault: Vault,
    actor: Annotated[Actor, Depends(permitted(Permission.MEMBERS_MANAGE))],
) -> Response:
    """A one-time code for the member to open their account, shown once on this answer."""
    member = queries.member_for(db, actor, member_id)
    settings = get_settings(request)
    code = accounts.issue_member_activation_code(
        db, member, actor=actor, settings=settings, now=now
    )
    sender: SmsSender | None = request.app.state.sms
    if sender is not None:
        sender.send(
            member.phone,
            f"【职工服务平台】您的账号激活码为{code}，{settings.activation_code_hours}小时内有效，"
            "请勿告知他人。",
        )
    return _member_page(
        request,
        db,
        now,
        vault,
        actor,
        member,
        {"new_code": code, "code_hours": settings.activation_code_hours, "sms_sent": sender},
    )


@router.post("/members/{member_id}/status", dependencies=[Csrf])
def member_status(
    request: Request,
    member_id: Id,
    db: Db,
    now: Now,
    actor: Annotated[Actor, Depends(permitted(Permission.MEMBERS_MANAGE))],
    status: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    member = queries.member_for(db, actor, member_id)
    try:
        new_status = MembershipStatus(status)
    except ValueError:
        raise InvalidInput("bad_status", "请选择会籍状态") from None
    service.change_membership_status(db, member, new_status, reason, actor=actor, now=now)
    flash(request, f"会籍状态已变更为“{new_status.label}”")
    return RedirectResponse(f"/members/{member.id}", status_code=303)


@router.post("/cards/{card_id}/status", dependencies=[Csrf])
def card_status(
    request: Request,
    card_id: Id,
    db: Db,
    now: Now,
    actor: Annotated[Actor, Depends(permitted(Permission.CARDS_MANAGE))],
    status: Annotated[str, Form()] = "",
) -> Response:
    card = queries.card_for(db, actor, card_id)
    try:
        new_status = CardStatus(status)
    except ValueError:
        raise InvalidInput("bad_status", "请选择会员卡状态") from None
    service.change_card_status(db, card, new_status, actor=actor, now=now)
    flash(request, f"卡号 {card.card_no} 已变更为“{new_status.label}”")
    return RedirectResponse(f"/cards?q={card.card_no}", status_code=303)


@router.get("/units")
def unit_list(
    request: Request,
    db: Db,
    actor: Annotated[Actor, Depends(permitted(Permission.UNITS_VIEW))],
    q: str = "",
    page: PageNo = 1,
) -> Response:
    results = queries.search_units(db, actor, q, page)
    return render(request, "members/units.html", {"results": results, "q": q}, actor=actor)


@router.get("/units/{unit_id}")
def unit_detail(
    request: Request,
    unit_id: Id,
    db: Db,
    actor: Annotated[Actor, Depends(permitted(Permission.UNITS_VIEW))],
) -> Response:
    unit = queries.unit_for(db, actor, unit_id)
    return render(
        request,
        "members/unit.html",
        {"unit": unit, "member_count": queries.unit_member_count(db, unit)},
        actor=actor,
    )


@router.get("/cards")
def card_list(
    request: Request,
    db: Db,
    actor: Annotated[Actor, Depends(permitted(Permission.CARDS_VIEW))],
    q: str = "",
    page: PageNo = 1,
) -> Response:
    results = queries.search_cards(db, actor, q, page)
    context = {
        "results": results,
        "q": q,
        "statuses": list(CardStatus),
        "can_manage": actor.can(Permission.CARDS_MANAGE),
    }
    return render(request, "members/cards.html", context, actor=actor)


def _import_page_context(actor: Actor) -> dict[str, object]:
    kinds = importable_kinds(actor)
    exports = [
        kind
        for kind in kinds
        if kind is not ImportKind.MEMBERS or actor.can(Permission.FULL_ID_VIEW)
    ]
    return {"kinds": kinds, "exports": exports}


def _may_import(actor: PageActor) -> Actor:
    require_import_right(actor)
    return actor


@router.get("/imports")
def imports_page(request: Request, actor: Annotated[Actor, Depends(_may_import)]) -> Response:
    return render(request, "members/imports.html", _import_page_context(actor), actor=actor)


@router.post("/imports", dependencies=[Csrf])
def imports_upload(
    request: Request,
    db: Db,
    now: Now,
    vault: Vault,
    actor: Annotated[Actor, Depends(_may_import)],
    file: Annotated[UploadFile, File()],
) -> Response:
    content = read_upload(file, MAX_UPLOAD_BYTES)
    if too_big_for_request(request, content):
        # A big roll is checked and written by the worker; its page shows the rows it has done.
        task = queue_upload(request, db, ROLL_IMPORT, content, {}, actor=actor, now=now)
        return to_task_page(task)
    try:
        report = import_file(db, content, actor=actor, now=now, vault=vault)
    except ImportRejected as rejected:
        db.rollback()
        context = _import_page_context(actor) | {"rejected": rejected, "filename": file.filename}
        return render(request, "members/imports.html", context, actor=actor, status_code=422)
    flash(request, report.summary)
    return RedirectResponse("/imports", status_code=303)


@router.get("/imports/templates/{kind}.xlsx")
def import_template(
    kind: ImportKind, db: Db, actor: Annotated[Actor, Depends(_may_import)]
) -> Response:
    return download(template_xlsx(db, actor, kind), f"{kind.label}导入模板.xlsx")


@router.get("/exports/{kind}.xlsx")
def export(
    request: Request,
    kind: ImportKind,
    db: Db,
    now: Now,
    vault: Vault,
    actor: Annotated[Actor, Depends(_may_import)],
) -> Response:
    content = export_xlsx(db, actor, vault, kind, now)
    if kind is not ImportKind.UNITS and actor.can(Permission.FULL_ID_VIEW):
        # One row for the file, not one per member: it names the scope that was exported.
        record_view(
            request,
            db,
            actor=actor,
            now=now,
            action=ID_EXPORTED,
            target_type="export",
            target_ids=[kind.value],
            detail={"unit_id": actor.unit_id},
        )
    return download(content, f"{kind.label}.xlsx")


# The system administrator opens staff accounts; the three administrators' accounts are the
# security administrator's to open (三权分立), members and insured people open their own.
_OPENABLE_ROLES = [
    role for role in Role if role not in ADMIN_ROLES and role not in {Role.MEMBER, Role.INSURED}
]


@router.get("/admin/users")
def users_page(
    request: Request,
    db: Db,
    actor: Annotated[Actor, Depends(permitted(Permission.USERS_MANAGE))],
) -> Response:
    return render(
        request,
        "members/users.html",
        {
            "users": accounts.list_users(db, actor),
            "roles": _OPENABLE_ROLES,
            "banks": queries.all_banks(db),
            "form": {},
        },
        actor=actor,
    )


@router.post("/admin/users", dependencies=[Csrf])
def create_user(
    request: Request,
    db: Db,
    now: Now,
    actor: Annotated[Actor, Depends(permitted(Permission.USERS_MANAGE))],
    username: Annotated[str, Form()] = "",
    display_name: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "",
    unit_code: Annotated[str, Form()] = "",
    bank_id: Annotated[str, Form()] = "",
) -> Response:
    try:
        chosen = Role(role)
    except ValueError:
        raise InvalidInput("bad_role", "请选择角色") from None
    unit = _unit_by_code(db, unit_code) if unit_code.strip() else None
    bank_number = whole_number_or_none(bank_id)
    bank = db.get(Bank, bank_number) if bank_number is not None else None
    try:
        accounts.create_user(
            db,
            username=username,
            password=password,
            role=chosen,
            display_name=display_name,
            unit=unit,
            bank=bank,
            actor=actor,
            now=now,
        )
    except DomainError as refusal:
        db.rollback()
        form = {
            "username": username,
            "display_name": display_name,
            "role": role,
            "unit_code": unit_code,
        }
        return render(
            request,
            "members/users.html",
            {
                "users": accounts.list_users(db, actor),
                "roles": _OPENABLE_ROLES,
                "banks": queries.all_banks(db),
                "form": form,
                "error": refusal.message,
            },
            actor=actor,
            status_code=refusal.http_status,
        )
    flash(request, f"已创建用户 {username}")
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/admin/users/{user_id}/sessions/end", dependencies=[Csrf])
def end_user_sessions(
    request: Request,
    user_id: Id,
    db: Db,
    now: Now,
    actor: Annotated[Actor, Depends(permitted(Permission.USERS_MANAGE))],
) -> Response:
    ended = sessions.end_sessions_of(db, user_id, actor=actor, now=now)
    flash(request, f"已结束该用户的{ended}个登录会话")
    return RedirectResponse("/admin/users", status_code=303)


def _unit_by_code(db: Db, code: str) -> Unit:
    unit = queries.units_by_credit_code(db, {code.strip().upper()}).get(code.strip().upper())
    if unit is None:
        raise InvalidInput("unknown_unit", f"统一社会信用代码 {code} 对应的单位不存在")
    return unit


@router.get("/admin/tokens")
def tokens_page(
    request: Request,
    db: Db,
    actor: Annotated[Actor, Depends(permitted(Permission.TOKENS_MANAGE))],
) -> Response:
    return render(
        request,
        "members/tokens.html",
        {"tokens": accounts.list_api_tokens(db, actor), "banks": queries.all_banks(db)},
        actor=actor,
    )


@router.post("/admin/tokens", dependencies=[Csrf])
def issue_token(
    request: Request,
    db: Db,
    now: Now,
    actor: Annotated[Actor, Depends(permitted(Permission.TOKENS_MANAGE))],
    bank_id: Annotated[int, Form(ge=1, le=MAX_ID)],
    name: Annotated[str, Form()] = "",
) -> Response:
    bank = queries.bank_for(db, actor, bank_id)
    clear, _token = accounts.issue_api_token(db, bank, name, actor=actor, now=now)
    # Shown once, on this page only; it is never stored in clear.
    return render(
        request,
        "members/tokens.html",
        {
            "tokens": accounts.list_api_tokens(db, actor),
            "banks": queries.all_banks(db),
            "new_token": clear,
            "new_token_bank": bank.name,
        },
        actor=actor,
    )


@router.post("/admin/tokens/{token_id}/revoke", dependencies=[Csrf])
def revoke_token(
    request: Request,
    token_id: Id,
    db: Db,
    now: Now,
    actor: Annotated[Actor, Depends(permitted(Permission.TOKENS_MANAGE))],
) -> Response:
    accounts.revoke_api_token(db, token_id, actor=actor, now=now)
    flash(request, "令牌已撤销")
    return RedirectResponse("/admin/tokens", status_code=303)
