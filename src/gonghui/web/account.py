"""A signed-in user's own account: their open sessions (ended one by one or all but this one)
and their password (a change ends every other session)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from gonghui.core.auth import Actor
from gonghui.core.clock import machine_now
from gonghui.core.errors import DomainError
from gonghui.members import sessions
from gonghui.web.deps import SESSION_ID, Csrf, Db, Id, Now, PageActor, flash, render

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
    db.commit()
    flash(request, "已结束该会话")
    return RedirectResponse(SESSIONS_PATH, status_code=303)


@router.post(SESSIONS_PATH + "/end-others", dependencies=[Csrf])
def end_others(request: Request, db: Db, now: Now, actor: PageActor) -> RedirectResponse:
    ended = sessions.end_other_sessions(db, actor, _current(request), now)
    db.commit()
    flash(request, f"已结束其他{ended}个会话")
    return RedirectResponse(SESSIONS_PATH, status_code=303)


@router.get("/account/password")
def password_page(request: Request, actor: PageActor) -> Response:
    return render(request, "account/password.html", {}, actor=actor)


@router.post("/account/password", dependencies=[Csrf])
def change_password(
    request: Request,
    db: Db,
    now: Now,
    actor: PageActor,
    current_password: Annotated[str, Form(max_length=200)] = "",
    new_password: Annotated[str, Form(max_length=200)] = "",
    new_password_again: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    if new_password != new_password_again:
        return _password_refused(request, actor, "两次输入的新密码不一致")
    try:
        ended = sessions.change_password(
            db, actor, current_password, new_password, keep=_current(request), now=now
        )
    except DomainError as refusal:
        db.rollback()
        return _password_refused(request, actor, refusal.message)
    db.commit()
    flash(request, f"密码已修改，其他{ended}个已登录的会话已结束")
    return RedirectResponse(SESSIONS_PATH, status_code=303)


def _password_refused(request: Request, actor: Actor, message: str) -> Response:
    return render(
        request, "account/password.html", {"error": message}, actor=actor, status_code=422
    )
