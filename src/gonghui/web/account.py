"""A signed-in user's own account: their open sessions (ended one by one or all but this one),
their password (a change ends every other session) and their second factor (TOTP)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from gonghui.core.auth import MIN_PASSWORD_LENGTH, MIN_STAFF_PASSWORD_LENGTH, STAFF_ROLES, Actor
from gonghui.core.clock import machine_now
from gonghui.core.errors import DomainError
from gonghui.edge.deps import (
    SESSION_ID,
    Csrf,
    Db,
    Id,
    Now,
    PageActor,
    Vault,
    flash,
    get_settings,
    render,
)
from gonghui.members import second_factor, sessions
from gonghui.members.models import User

router = APIRouter(include_in_schema=False)
SESSIONS_PATH = "/account/sessions"


def _current(request: Request) -> str:
    clear = request.session.get(SESSION_ID)
    return clear if isinstance(clear, str) else ""


def _sessions_page(
    request: Request, db: Db, actor: Actor, extra: dict[str, object] | None = None
) -> Response:
    current = sessions.session_hash(_current(request))
    context = {"sessions": sessions.live_sessions(db, actor, machine_now()), "current": current}
    return render(request, "account/sessions.html", context | (extra or {}), actor=actor)


@router.get(SESSIONS_PATH)
def sessions_page(request: Request, db: Db, actor: PageActor) -> Response:
    return _sessions_page(request, db, actor)


@router.post(SESSIONS_PATH + "/{session_id}/end", dependencies=[Csrf])
def end_session(
    request: Request, session_id: Id, db: Db, now: Now, actor: PageActor
) -> RedirectResponse:
    sessions.end_own_session(db, actor, session_id, now)
    flash(request, "已结束该会话")
    return RedirectResponse(SESSIONS_PATH, status_code=303)


@router.post(SESSIONS_PATH + "/end-others", dependencies=[Csrf])
def end_others(request: Request, db: Db, now: Now, actor: PageActor) -> RedirectResponse:
    ended = sessions.end_other_sessions(db, actor, _current(request), now)
    flash(request, f"已结束其他{ended}个会话")
    return RedirectResponse(SESSIONS_PATH, status_code=303)


@router.get("/account/password")
def password_page(request: Request, actor: PageActor) -> Response:
    return render(request, "account/password.html", _password_rules(actor), actor=actor)


def _password_rules(actor: Actor) -> dict[str, object]:
    staff = actor.role in STAFF_ROLES
    return {
        "min_length": MIN_STAFF_PASSWORD_LENGTH if staff else MIN_PASSWORD_LENGTH,
        "staff": staff,
    }


@router.post("/account/password", dependencies=[Csrf])
def change_password(
    request: Request,
    db: Db,
    actor: PageActor,
    current_password: Annotated[str, Form(max_length=200)] = "",
    new_password: Annotated[str, Form(max_length=200)] = "",
    new_password_again: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    if new_password != new_password_again:
        return _password_refused(request, actor, "两次输入的新密码不一致")
    try:
        ended = sessions.change_password(
            db,
            current_password,
            new_password,
            actor=actor,
            keep=_current(request),
            now=machine_now(),
        )
    except DomainError as refusal:
        db.rollback()
        return _password_refused(request, actor, refusal.message)
    flash(request, f"密码已修改，其他{ended}个已登录的会话已结束")
    return RedirectResponse(SESSIONS_PATH, status_code=303)


def _password_refused(request: Request, actor: Actor, message: str) -> Response:
    context = _password_rules(actor) | {"error": message}
    return render(request, "account/password.html", context, actor=actor, status_code=422)


SECOND_FACTOR_PATH = "/account/2fa"


@router.get(SECOND_FACTOR_PATH)
def second_factor_page(request: Request, db: Db, vault: Vault, actor: PageActor) -> Response:
    return _second_factor_page(request, db, vault, actor)


def _second_factor_page(
    request: Request,
    db: Db,
    vault: Vault,
    actor: Actor,
    extra: dict[str, object] | None = None,
    status_code: int = 200,
) -> Response:
    user = db.get(User, actor.user_id)
    assert user is not None  # noqa: S101 - a signed-in actor's own account
    context = {
        "enrolled": second_factor.is_enrolled(user),
        "enrolled_at": user.totp_enabled_at,
        "codes_left": second_factor.recovery_codes_left(db, user.id),
        "enrolment": second_factor.pending_enrolment(db, actor, vault=vault),
        "required": second_factor.required_for(user, get_settings(request)),
    }
    return render(
        request,
        "account/2fa.html",
        context | (extra or {}),
        actor=actor,
        status_code=status_code,
    )


@router.post(SECOND_FACTOR_PATH + "/start", dependencies=[Csrf])
def start_second_factor(db: Db, vault: Vault, actor: PageActor) -> RedirectResponse:
    second_factor.start_enrolment(db, actor=actor, vault=vault, at=machine_now())
    return RedirectResponse(SECOND_FACTOR_PATH, status_code=303)


@router.post(SECOND_FACTOR_PATH + "/confirm", dependencies=[Csrf])
def confirm_second_factor(
    request: Request,
    db: Db,
    vault: Vault,
    actor: PageActor,
    code: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    try:
        codes = second_factor.confirm_enrolment(
            db, code, actor=actor, vault=vault, at=machine_now()
        )
    except DomainError as refusal:
        db.rollback()
        extra: dict[str, object] = {"error": refusal.message}
        return _second_factor_page(request, db, vault, actor, extra, refusal.http_status)
    # Shown once, on this answer only; only their hashes are kept.
    return _second_factor_page(request, db, vault, actor, {"recovery_codes": codes})
