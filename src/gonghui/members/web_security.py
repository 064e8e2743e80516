"""The security administrator's page (安全管理): accounts with their role, second factor and
password state; opening an administrator's account, changing a role and resetting a lost
second factor. Bank API tokens are on their own page (/admin/tokens)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from gonghui.core.auth import (
    ADMIN_ROLES,
    MIN_STAFF_PASSWORD_LENGTH,
    PASSWORD_HISTORY,
    PRIVILEGED_ROLES,
    Actor,
    Permission,
    Role,
)
from gonghui.core.clock import machine_now
from gonghui.core.errors import DomainError, InvalidInput
from gonghui.edge.deps import Csrf, Db, Id, Now, flash, get_settings, permitted, render
from gonghui.members import accounts, second_factor

router = APIRouter(include_in_schema=False)

SecurityAdmin = Annotated[Actor, Depends(permitted(Permission.SECURITY_MANAGE))]
RoleKeeper = Annotated[Actor, Depends(permitted(Permission.ROLES_MANAGE))]
PAGE = "/admin/security"


def _page(
    request: Request, db: Db, actor: Actor, status_code: int = 200, **context: Any
) -> Response:
    settings = get_settings(request)
    policy = {
        "min_length": MIN_STAFF_PASSWORD_LENGTH,
        "history": PASSWORD_HISTORY,
        "max_age_days": settings.password_max_age_days,
        "idle_minutes": settings.session_idle_minutes,
        "second_factor_required": settings.second_factor_required,
        "privileged": [role.label for role in Role if role in PRIVILEGED_ROLES],
    }
    return render(
        request,
        "members/security.html",
        {
            "users": accounts.list_users(db, actor),
            "staff_roles": [role for role in Role if role not in {Role.MEMBER, Role.INSURED}],
            "admin_roles": [role for role in Role if role in ADMIN_ROLES],
            "policy": policy,
            "form": {},
            **context,
        },
        actor=actor,
        status_code=status_code,
    )


@router.get(PAGE)
def security_page(request: Request, db: Db, actor: SecurityAdmin) -> Response:
    return _page(request, db, actor)


@router.post(PAGE + "/users", dependencies=[Csrf])
def open_admin_account(
    request: Request,
    db: Db,
    now: Now,
    actor: RoleKeeper,
    username: Annotated[str, Form(max_length=64)] = "",
    display_name: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    role: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    """An account for one of the three administrators, with an initial password."""
    form = {"username": username, "display_name": display_name, "role": role}
    try:
        chosen = Role(role)
        if chosen not in ADMIN_ROLES:
            raise InvalidInput("not_admin_role", "此处只开设系统、安全、审计管理员账号")
        accounts.create_user(
            db, username=username, password=password, role=chosen, display_name=display_name,
            actor=actor, now=now,
        )  # fmt: skip
    except ValueError:
        db.rollback()
        return _page(request, db, actor, 422, form=form, error="请选择管理员角色")
    except DomainError as refusal:
        db.rollback()
        return _page(request, db, actor, refusal.http_status, form=form, error=refusal.message)
    flash(request, f"已开设管理员账号 {username.strip()}，首次登录须修改初始密码")
    return RedirectResponse(PAGE, status_code=303)


@router.post(PAGE + "/users/{user_id}/role", dependencies=[Csrf])
def change_role(
    request: Request,
    user_id: Id,
    db: Db,
    now: Now,
    actor: RoleKeeper,
    role: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    try:
        accounts.change_role(db, user_id, Role(role), actor=actor, now=now)
    except ValueError:
        db.rollback()
        return _page(request, db, actor, 422, error="请选择角色")
    except DomainError as refusal:
        db.rollback()
        return _page(request, db, actor, refusal.http_status, error=refusal.message)
    flash(request, "角色已更改，该用户需重新登录")
    return RedirectResponse(PAGE, status_code=303)


@router.post(PAGE + "/users/{user_id}/2fa/reset", dependencies=[Csrf])
def reset_second_factor(request: Request, user_id: Id, db: Db, actor: SecurityAdmin) -> Response:
    try:
        second_factor.reset(db, user_id, actor=actor, at=machine_now())
    except DomainError as refusal:
        db.rollback()
        return _page(request, db, actor, refusal.http_status, error=refusal.message)
    flash(request, "已重置该用户的两步验证并结束其全部登录会话")
    return RedirectResponse(PAGE, status_code=303)
