"""Request-scoped dependencies: the database session, the actor, the clock, CSRF, templates."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Protocol

from fastapi import Depends, Header, Path, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session, sessionmaker
from starlette.datastructures import FormData
from starlette.datastructures import UploadFile as StarletteUpload

from gonghui.core.auth import Actor, Permission, tokens_equal
from gonghui.core.clock import machine_now
from gonghui.core.db import READS_ONLY
from gonghui.core.errors import DomainError, Forbidden, InvalidInput, Unauthenticated
from gonghui.core.inputs import CONTROL_CHARACTERS, CONTROL_CHARACTERS_MESSAGE, MAX_ID
from gonghui.core.pii import IdentityVault
from gonghui.core.settings import Settings

# Every integer the outside world sends is bounded: ids fit the 64-bit columns, and a page
# number times the page size still fits an SQL OFFSET. Beyond them FastAPI answers 422
# (the drivers would raise OverflowError, a 500).
MAX_PAGE = 1_000_000
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
PageNo = Annotated[int, Query(ge=1, le=MAX_PAGE)]
MaybeId = Annotated[int | None, Query(ge=1, le=MAX_ID)]

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


def get_db(request: Request) -> Iterator[Session]:
    """One session and one transaction per request, the skeleton of every action: what a POST's
    handler did commits when the handler returns, before the response is sent, and rolls back
    when it raises (a refusal included), so that no handler commits by hand. A GET only reads:
    it is never committed, and on SQLite its transaction does not take the write lock (see
    `gonghui.core.db`). The one exception is the wallet's refused money request, whose record
    `run_money_request` commits before the refusal goes on."""
    writes = request.method in UNSAFE_METHODS
    session: Session = request.app.state.session_factory(execution_options={READS_ONLY: not writes})
    try:
        yield session
        if writes:
            session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# scope="function": the commit above runs when the handler returns, not after the response has
# gone, so a commit that fails is the answer (a 500), never a success already reported.
Db = Annotated[Session, Depends(get_db, scope="function")]


def get_session_factory(request: Request) -> sessionmaker[Session]:
    """For the rare write a GET must make in a transaction of its own (a dashboard's first
    snapshot), since the request's own session only reads."""
    factory: sessionmaker[Session] = request.app.state.session_factory
    return factory


SessionFactory = Annotated[sessionmaker[Session], Depends(get_session_factory)]


def get_now(request: Request) -> datetime:
    now: datetime = request.app.state.clock.now()
    return now


Now = Annotated[datetime, Depends(get_now)]


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_vault(request: Request) -> IdentityVault:
    vault: IdentityVault = request.app.state.vault
    return vault


Vault = Annotated[IdentityVault, Depends(get_vault)]


def read_upload(upload: StarletteUpload, limit: int) -> bytes:
    content = upload.file.read(limit + 1)
    if len(content) > limit:
        raise InvalidInput("file_too_large", f"文件不能超过{limit // (1024 * 1024)}MB")
    return content


def client_address(request: Request) -> str:
    """The caller's address, as the throttles count it. Behind a trusted proxy it is the one
    the proxy reported (`TrustedProxies`); nobody else can choose it with a header."""
    return request.client.host if request.client else "unknown"


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


SESSION_ID = "sid"


@dataclass(frozen=True)
class RequiredStep:
    """What a signed-in user must do before anything else (change an initial or expired
    password, enrol a second factor): the page that does it, why, and the paths that stay open
    to them meanwhile."""

    code: str
    location: str
    message: str
    open_paths: frozenset[str]


@dataclass(frozen=True)
class SignedIn:
    actor: Actor
    step: RequiredStep | None
    stale: bool  # the session's last use is to be recorded


@dataclass(frozen=True)
class Chrome:
    """What every page's frame shows a signed-in person: unread notices and 长辈模式."""

    unread: int = 0
    elder: bool = False
    tabs: bool = False


class Identities(Protocol):
    """Who is asking. The accounts module answers (`members.web_identity`), set on
    `app.state.identities` by the application shell, so that this edge, which every module's
    pages and API use, imports no module itself."""

    def signed_in(
        self, lookup: Session, clear: str, version: int, *, now: datetime, settings: Settings
    ) -> SignedIn | None: ...

    def touch(self, side: Session, clear: str, *, now: datetime) -> None: ...

    def bearer(self, lookup: Session, token: str, *, now: datetime) -> tuple[Actor, bool]: ...

    def record_token_use(self, side: Session, actor: Actor, *, now: datetime) -> None: ...

    def chrome(self, frame: Session, actor: Actor) -> Chrome: ...


def identities(request: Request) -> Identities:
    found: Identities = request.app.state.identities
    return found


def session_actor(request: Request) -> Actor | None:
    """Who the browser's session belongs to, while the server still holds that session (not
    ended, expired, nor idle too long for staff). What the user must do before anything else
    is left on `request.state.step`.

    Like a bank token, the session is read, and its last use recorded now and then, in short
    transactions of their own before the request's: a read must not write, and on SQLite a
    second writer beside the request's own would wait on it."""
    clear, version = request.session.get(SESSION_ID), request.session.get("ver")
    if not isinstance(clear, str) or not isinstance(version, int):
        return None
    # Sessions live in the machine's time: a demo's fixed or shifted clock must not expire
    # them at once, nor keep them for ever.
    now, settings = machine_now(), get_settings(request)
    factory: sessionmaker[Session] = request.app.state.session_factory
    with factory(execution_options={READS_ONLY: True}) as lookup:
        found = identities(request).signed_in(lookup, clear, version, now=now, settings=settings)
    if found is None:
        request.session.pop(SESSION_ID, None)
        return None
    request.state.step = found.step
    if found.stale:
        with factory() as side, side.begin():
            identities(request).touch(side, clear, now=now)
    return found.actor


MaybeActor = Annotated[Actor | None, Depends(session_actor)]


class ActionRequired(DomainError):
    """A signed-in user must change their password or enrol a second factor first: pages send
    them there, the API refuses with the reason."""

    http_status = 403

    def __init__(self, step: RequiredStep) -> None:
        self.location = step.location
        super().__init__(step.code, step.message)


def check_gate(request: Request) -> None:
    step: RequiredStep | None = getattr(request.state, "step", None)
    if step is not None and request.url.path not in step.open_paths:
        raise ActionRequired(step)


def page_actor(request: Request, actor: MaybeActor) -> Actor:
    if actor is None:
        raise Unauthenticated
    check_gate(request)
    return actor


PageActor = Annotated[Actor, Depends(page_actor)]


async def check_csrf(request: Request) -> None:
    """Every form post carries the session's CSRF token."""
    if request.method not in UNSAFE_METHODS:
        return
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    expected = request.session.get("csrf")
    if (
        not isinstance(sent, str)
        or not isinstance(expected, str)
        or not tokens_equal(sent, expected)
    ):
        raise Forbidden("页面已过期或来源不明（CSRF 校验失败），请刷新后重试")
    # Here because every form post passes here before its handler reads a field.
    refuse_control_characters(form)


class ControlCharacters(InvalidInput):
    """Form fields whose text carries a control character (`CONTROL_CHARACTERS`)."""

    def __init__(self, fields: list[str]) -> None:
        super().__init__("control_characters", f"填写的内容{CONTROL_CHARACTERS_MESSAGE}")
        self.fields = tuple(fields)


def refuse_control_characters(form: FormData) -> None:
    """Refuse a form any of whose values or file names carries a control character."""
    fields = [
        name
        for name, value in form.multi_items()
        if CONTROL_CHARACTERS.search(value if isinstance(value, str) else value.filename or "")
    ]
    if fields:
        raise ControlCharacters(sorted(set(fields)))


Csrf = Depends(check_csrf)


_CONTROL_ESCAPES = (b"\\u00", b"\\b", b"\\f")


async def refuse_json_control_characters(request: Request) -> None:
    """The API's counterpart of the forms' check: a JSON body any of whose strings (keys
    included, at any depth) carries a control character is refused."""
    if request.method not in UNSAFE_METHODS or "json" not in request.headers.get(
        "content-type", ""
    ):
        return
    # JSON carries a control character only escaped (\u0001, or \b and \f): a body without
    # those escapes, such as a bank's day of balances, is not parsed a second time.
    raw = await request.body()
    if not any(escape in raw for escape in _CONTROL_ESCAPES):
        return
    try:
        body = await request.json()
    except ValueError:  # FastAPI has answered a body that does not parse before this runs
        return
    fields = sorted(set(_control_paths(body, "")))
    if fields:
        raise ControlCharacters(fields)


def _control_paths(value: object, path: str) -> Iterator[str]:
    if isinstance(value, str):
        if CONTROL_CHARACTERS.search(value):
            yield path
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _control_paths(item, f"{path}[{index}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            inner = f"{path}.{key}" if path else str(key)
            if CONTROL_CHARACTERS.search(str(key)):
                yield inner
            yield from _control_paths(item, inner)


def api_actor(request: Request, _db: Db, now: Now) -> Actor:
    """A bank system's bearer token, or the logged-in browser session (with the CSRF header
    on changes, since a cookie alone proves nothing about who sent the request)."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        # The token is read, and its last use recorded now and then, in short transactions
        # of their own before the request's: a bank polling every second must not make every
        # read a write (on SQLite, a lock that other requests trip over).
        factory: sessionmaker[Session] = request.app.state.session_factory
        with factory(execution_options={READS_ONLY: True}) as lookup:
            bank_actor, stale = identities(request).bearer(
                lookup, header.removeprefix("Bearer ").strip(), now=now
            )
        if stale:
            with factory() as side, side.begin():
                identities(request).record_token_use(side, bank_actor, now=now)
        return bank_actor
    actor = session_actor(request)
    if actor is None:
        raise Unauthenticated
    check_gate(request)
    if request.method in UNSAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        expected = request.session.get("csrf")
        if not isinstance(expected, str) or not tokens_equal(sent, expected):
            raise Forbidden("缺少或错误的 X-CSRF-Token 请求头")
    return actor


ApiActor = Annotated[Actor, Depends(api_actor)]


def idempotency_key(
    key: Annotated[str, Header(alias="Idempotency-Key", min_length=1, max_length=128)],
) -> str:
    """The client's name for a money-moving request: sent again with the same body, it gets
    the first answer back and nothing moves twice."""
    return key


IdempotencyKey = Annotated[str, Depends(idempotency_key)]


def permitted(permission: Permission) -> Callable[[Actor], Actor]:
    def check(actor: PageActor) -> Actor:
        actor.require(permission)
        return actor

    return check


def api_permitted(permission: Permission) -> Callable[[Actor], Actor]:
    def check(actor: ApiActor) -> Actor:
        actor.require(permission)
        return actor

    return check


@dataclass(frozen=True)
class Flash:
    kind: str
    text: str


def flash(request: Request, text: str, kind: str = "ok") -> None:
    request.session.setdefault("flash", []).append({"kind": kind, "text": text})


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    actor: Actor | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    messages = [Flash(**item) for item in request.session.pop("flash", [])]
    chrome = Chrome()
    if actor is not None:
        # The frame's unread badge and 长辈模式, read in a short session of their own so that
        # every page shows them without each handler passing them down.
        factory: sessionmaker[Session] = request.app.state.session_factory
        with factory(execution_options={READS_ONLY: True}) as frame:
            chrome = identities(request).chrome(frame, actor)
    response: HTMLResponse = request.app.state.templates.TemplateResponse(
        request,
        template,
        {
            "actor": actor,
            "csrf_token": csrf_token(request),
            "flashes": messages,
            "chrome": chrome,
            **(context or {}),
        },
        status_code=status_code,
    )
    return response
