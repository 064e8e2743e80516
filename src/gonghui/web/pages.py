"""Login, logout, member self-activation, the home page and the health check."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel
from sqlalchemy import text

from gonghui import readiness, readiness_probe
from gonghui.core.auth import Actor, Permission, Role
from gonghui.core.clock import business_date, machine_now
from gonghui.core.errors import DomainError, InvalidInput, Throttled, Unauthenticated
from gonghui.edge.deps import (
    SESSION_ID,
    ApiActor,
    Csrf,
    Db,
    MaybeActor,
    Now,
    PageActor,
    Vault,
    api_permitted,
    client_address,
    csrf_token,
    flash,
    get_settings,
    permitted,
    render,
)
from gonghui.jobs.runner import wall_clock
from gonghui.members import accounts, queries, second_factor, sessions
from gonghui.members.models import User
from gonghui.members.schemas import MeOut
from gonghui.web import member

router = APIRouter(include_in_schema=False)
api_router = APIRouter(tags=["platform"])


@router.get("/")
def index(actor: MaybeActor) -> RedirectResponse:
    return RedirectResponse("/home" if actor else "/login", status_code=303)


@router.get("/favicon.ico")
def favicon() -> RedirectResponse:
    """Browsers ask for /favicon.ico whatever a page declares (and for what is not a page,
    such as a download): the platform's one icon, the red 工 of the pages' heads."""
    return RedirectResponse("/static/icon.svg", status_code=308)


@router.get("/login")
def login_page(request: Request, actor: MaybeActor, next: str = "/home") -> Response:  # noqa: A002
    if actor is not None:
        return RedirectResponse("/home", status_code=303)
    return render(request, "login.html", {"next": _safe_next(next), "username": ""})


@router.post("/login", dependencies=[Csrf])
def login(
    request: Request,
    db: Db,
    now: Now,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/home",  # noqa: A002
) -> Response:
    client = client_address(request)
    try:
        user = accounts.authenticate(
            db, username, password, client, settings=get_settings(request), now=now
        )
    except (Unauthenticated, Throttled) as refusal:
        # The failed attempt stays: the request commits it, and the throttle counts it.
        return render(
            request,
            "login.html",
            {"error": refusal.message, "next": _safe_next(next), "username": username},
            status_code=refusal.http_status,
        )
    if isinstance(earlier := request.session.get(SESSION_ID), str):
        sessions.end_session(db, earlier, sessions.EndReason.LOGOUT, machine_now())
    if second_factor.is_enrolled(user):
        # Half signed in: the signed cookie names who passed the password, for a few minutes;
        # no session exists until the code is right.
        request.session.clear()
        request.session[_PENDING] = {
            "user": user.id,
            "ver": user.session_version,
            "at": int(machine_now().timestamp()),
            "next": _safe_next(next),
        }
        return RedirectResponse(SECOND_STEP_PATH, status_code=303)
    return _signed_in(request, db, user, _safe_next(next), second_factor_used=None)


def _signed_in(
    request: Request, db: Db, user: User, target: str, *, second_factor_used: str | None
) -> RedirectResponse:
    settings = get_settings(request)
    session_id = sessions.start_session(
        db,
        user,
        client=client_address(request),
        user_agent=request.headers.get("user-agent", ""),
        lifetime=timedelta(seconds=settings.session_max_age_seconds),
        now=machine_now(),
        second_factor_used=second_factor_used,
    )
    # A fresh session on login, so that a cookie planted before it (fixation) is worthless.
    request.session.clear()
    request.session.update({SESSION_ID: session_id, "ver": user.session_version})
    csrf_token(request)
    return RedirectResponse(target, status_code=303)


SECOND_STEP_PATH = "/login/2fa"
_PENDING = "pending_2fa"
# How long the password step stays good while the user opens their authenticator.
_PENDING_SECONDS = 300


def _pending_user(request: Request, db: Db, now: datetime) -> tuple[User, str] | None:
    pending = request.session.get(_PENDING)
    if not isinstance(pending, dict):
        return None
    if int(now.timestamp()) - int(pending.get("at", 0)) > _PENDING_SECONDS:
        return None
    user = db.get(User, int(pending.get("user", 0)))
    if user is None or not user.is_active or user.session_version != pending.get("ver"):
        return None
    return user, str(pending.get("next", "/home"))


@router.get(SECOND_STEP_PATH)
def second_step_page(request: Request, db: Db) -> Response:
    if _pending_user(request, db, machine_now()) is None:
        return RedirectResponse("/login", status_code=303)
    return render(request, "login_2fa.html", {})


@router.post(SECOND_STEP_PATH, dependencies=[Csrf])
def second_step(
    request: Request,
    db: Db,
    vault: Vault,
    code: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    now = machine_now()
    found = _pending_user(request, db, now)
    if found is None:
        request.session.pop(_PENDING, None)
        flash(request, "登录已超时，请重新输入用户名和密码", "error")
        return RedirectResponse("/login", status_code=303)
    user, target = found
    try:
        used = second_factor.verify_second_step(
            db, user, code, client=client_address(request), vault=vault,
            settings=get_settings(request), at=now,
        )  # fmt: skip
    except (InvalidInput, Throttled) as refusal:
        # The failed attempt stays: the request commits it, and the throttle counts it.
        return render(
            request, "login_2fa.html", {"error": refusal.message}, status_code=refusal.http_status
        )
    return _signed_in(request, db, user, target, second_factor_used=used)


def _safe_next(target: str) -> str:
    # Only paths on this site: "//evil.example" and "https://..." would leave it.
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/home"


@router.post("/logout", dependencies=[Csrf])
def logout(request: Request, db: Db) -> RedirectResponse:
    session_id = request.session.get(SESSION_ID)
    if isinstance(session_id, str):
        # Ended on the server: a copy of the cookie kept from before is worth nothing now.
        sessions.end_session(db, session_id, sessions.EndReason.LOGOUT, machine_now())
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.get("/activate")
def activate_page(request: Request) -> Response:
    return render(request, "activate.html", {"form": {}})


@router.post("/activate", dependencies=[Csrf])
def activate(
    request: Request,
    db: Db,
    now: Now,
    vault: Vault,
    name: Annotated[str, Form(max_length=64)] = "",
    id_number: Annotated[str, Form(max_length=32)] = "",
    phone: Annotated[str, Form(max_length=32)] = "",
    code: Annotated[str, Form(max_length=32)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    password_again: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    form = {"name": name, "id_number": id_number, "phone": phone}
    if password != password_again:
        return render(
            request,
            "activate.html",
            {"form": form, "error": "两次输入的密码不一致"},
            status_code=422,
        )
    door = accounts.ActivationDoor(client_address(request), get_settings(request))
    try:
        user = accounts.activate_member_account(
            db, name=name, id_number=id_number, phone=phone, code=code, password=password,
            vault=vault, door=door, now=now,
        )  # fmt: skip
    except DomainError as refusal:
        if not accounts.refusal_is_counted(refusal):
            db.rollback()  # a counted attempt stays, for the throttle and the lock
        return render(
            request,
            "activate.html",
            {"form": form, "error": refusal.message},
            status_code=refusal.http_status,
        )
    flash(request, f"账号已开通，请用手机号 {user.username} 和新密码登录")
    return RedirectResponse("/login", status_code=303)


@router.get("/home")
def home(request: Request, db: Db, now: Now, actor: PageActor) -> Response:
    if actor.role is Role.MEMBER and actor.member_id is not None:
        return member.member_home(request, db, now, actor)
    overview = queries.roll_overview(db, actor)
    setup = None
    if actor.can(Permission.SETUP_VIEW):
        setup = readiness.checklist(db, get_settings(request), business_date(now))
    notices = accounts.work_notices_for(db, actor)
    context = {"overview": overview, "setup": setup, "work_notices": notices}
    return render(request, "home.html", context, actor=actor)


@router.get("/setup")
def setup_page(
    request: Request,
    db: Db,
    now: Now,
    actor: Annotated[Actor, Depends(permitted(Permission.SETUP_VIEW))],
) -> Response:
    checklist = readiness.checklist(db, get_settings(request), business_date(now))
    return render(request, "setup.html", {"setup": checklist}, actor=actor)


def _health(db: Db) -> dict[str, Any]:
    db.execute(text("SELECT 1"))
    return {"status": "ok", "database": "ok"}


@router.get("/health")
def health(db: Db) -> dict[str, Any]:
    return _health(db)


@router.get("/ready")
def ready(request: Request, db: Db) -> JSONResponse:
    """For the load balancer and the orchestrator: 200 when every check passes, else 503 with
    what is wrong. Operational time (worker beats) is read from the machine's clock."""
    checks = readiness_probe.probe(db, get_settings(request), wall_clock())
    ok = all(answer == "ok" for answer in checks.values())
    return JSONResponse({"status": "ready" if ok else "not ready", **checks}, 200 if ok else 503)


@api_router.get("/health")
def api_health(db: Db) -> dict[str, Any]:
    """Liveness and database reachability."""
    return _health(db)


@api_router.get("/me", response_model=MeOut)
def me(actor: ApiActor) -> MeOut:
    """Who the caller is: user or bank token, role and scope."""
    return MeOut.from_actor(actor)


class SetupStepOut(BaseModel):
    key: str
    title: str
    done: bool
    detail: str
    link: str


@api_router.get("/setup", response_model=list[SetupStepOut])
def api_setup(
    request: Request,
    db: Db,
    now: Now,
    _actor: Annotated[Actor, Depends(api_permitted(Permission.SETUP_VIEW))],
) -> list[SetupStepOut]:
    """What the federation still lacks before it runs for real (the 系统设置 checklist)."""
    checklist = readiness.checklist(db, get_settings(request), business_date(now))
    return [SetupStepOut(**vars(step)) for step in checklist.steps]
