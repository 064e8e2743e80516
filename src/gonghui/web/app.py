"""`create_app(settings)`: the whole platform as one ASGI app, pages and JSON API."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import Response
from starlette.types import Scope

from gonghui.auditing import web as auditing_web
from gonghui.consents import web as consents_web
from gonghui.core.clock import Clock, beijing, clock_from
from gonghui.core.db import engine_for, session_factory
from gonghui.core.logging import configure_logging
from gonghui.core.money import format_fen, yuan_string
from gonghui.core.pii import mask_phone, vault_for
from gonghui.core.settings import Environment, Settings
from gonghui.core.sms import sms_sender_for
from gonghui.core.storage import ContentStore
from gonghui.edge import errors
from gonghui.edge.deps import refuse_json_control_characters
from gonghui.insurance import api as insurance_api
from gonghui.insurance import web as insurance_web
from gonghui.insurance import web_operations as insurance_operations
from gonghui.insurance import web_plans as insurance_plans
from gonghui.insurance.store import store_for
from gonghui.jobs import web as jobs_web
from gonghui.jobs import web_tasks as jobs_tasks
from gonghui.members import api as members_api
from gonghui.members import api_moved as members_api_moved
from gonghui.members import web as members_web
from gonghui.members import web_banks as members_banks
from gonghui.members import web_join as members_join
from gonghui.members import web_security as members_security
from gonghui.members.web_identity import MemberIdentities
from gonghui.retirement import api as retirement_api
from gonghui.retirement import web as retirement_web
from gonghui.stations import api as stations_api
from gonghui.stations import web as stations_web
from gonghui.stations import web_dashboard as stations_dashboard
from gonghui.stations import web_manage as stations_manage
from gonghui.stations import web_work as stations_work
from gonghui.wallet import api as wallet_api
from gonghui.wallet import web as wallet_web
from gonghui.wallet import web_operations as wallet_operations
from gonghui.wallet import web_registry as wallet_registry
from gonghui.web import account, pages
from gonghui.web import member as member_pages
from gonghui.web import metrics as web_metrics
from gonghui.web.metrics import RequestTiming
from gonghui.web.middleware import BodyLimit, SecurityHeaders, TrustedProxies
from gonghui.web.nav import nav_for
from gonghui.web.request_ids import RequestIds

API_PREFIX = "/api/v1"
# Every router of the package, each once, in the order requests are matched: here and nowhere
# else (tests/web/test_routers.py), so this is where to look for the handler of a path.
PAGE_ROUTERS = (
    pages.router,
    account.router,
    member_pages.router,
    members_join.router,
    members_web.router,
    auditing_web.router,
    consents_web.router,
    members_banks.router,
    members_security.router,
    jobs_web.router,
    jobs_tasks.router,
    web_metrics.router,
    retirement_web.router,
    insurance_web.router,
    insurance_operations.router,
    insurance_plans.router,
    stations_web.router,
    stations_work.router,
    stations_manage.router,
    stations_dashboard.router,
    wallet_web.router,
    wallet_operations.router,
    wallet_registry.router,
)
API_ROUTERS = (
    pages.api_router,
    members_api.router,
    members_api_moved.router,
    retirement_api.router,
    insurance_api.router,
    wallet_api.router,
    stations_api.router,
    jobs_tasks.api_router,
)


# The largest body anyone sends: a bank's balance file with its form's few fields.
MAX_REQUEST_BYTES = insurance_operations.MAX_BALANCE_FILE + 1024 * 1024


def create_app(
    settings: Settings, *, engine: Engine | None = None, clock: Clock | None = None
) -> FastAPI:
    configure_logging(settings)
    app = FastAPI(
        title="gonghui 职工服务平台 API",
        version="1",
        openapi_url=f"{API_PREFIX}/openapi.json",
        # The interactive docs pages load their scripts from a CDN; the schema is enough.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine or engine_for(settings)
    app.state.session_factory = session_factory(app.state.engine)
    app.state.clock = clock or clock_from(settings)
    app.state.vault = vault_for(settings)
    app.state.identities = MemberIdentities()
    app.state.templates = _templates()
    app.state.balance_store = store_for(settings)
    app.state.documents = ContentStore(settings.storage_dir)
    app.state.sms = sms_sender_for(settings)
    app.state.task_desk = jobs_tasks.Desk(app)

    app.add_middleware(SecurityHeaders, hsts=settings.environment is Environment.PRODUCTION)
    # Level 6 (zlib's own default) rather than 9: about half the time for a few per cent more
    # bytes; the retirement impact page (150 KB of HTML) spent more on level 9 than on its figures.
    app.add_middleware(GZipMiddleware, minimum_size=1024, compresslevel=6)
    app.add_middleware(RequestTiming)
    app.add_middleware(BodyLimit, max_bytes=MAX_REQUEST_BYTES)
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key.get_secret_value(),
        session_cookie="gonghui_session",
        max_age=settings.session_max_age_seconds,
        same_site="lax",
        https_only=settings.cookie_secure,
    )
    # Every log event of a request, errors included, carries its id.
    app.add_middleware(RequestIds)
    # Outermost: every layer inside sees the client address the trusted proxy reported.
    app.add_middleware(TrustedProxies, networks=settings.trusted_proxy_networks)
    static_dir = Path(str(files("gonghui") / "web" / "static"))
    app.mount("/static", CachedStaticFiles(directory=static_dir), name="static")
    errors.install(app, api_prefix=API_PREFIX)
    for router in PAGE_ROUTERS:
        app.include_router(router)
    for router in API_ROUTERS:
        app.include_router(
            router, prefix=API_PREFIX, dependencies=[Depends(refuse_json_control_characters)]
        )
    return app


class CachedStaticFiles(StaticFiles):
    """Stylesheets and scripts change only with a release: browsers keep them a day and check
    them again by their ETag after that."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code == 200:  # noqa: PLR2004
            response.headers["Cache-Control"] = "public, max-age=86400"
        return response


def _templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(files("gonghui") / "web" / "templates"))
    templates.env.filters["yuan"] = format_fen
    templates.env.filters["yuan_plain"] = yuan_string
    templates.env.filters["beijing"] = beijing
    templates.env.filters["mask_phone"] = mask_phone
    templates.env.globals["nav_for"] = nav_for
    return templates
