"""Request timing for Prometheus, and `/metrics` itself: answered to the machine's own address
(the scraper beside the server) or to a request carrying `GONGHUI_METRICS_TOKEN`; anyone else
gets 404, as if there were nothing there."""

from __future__ import annotations

import time
from collections.abc import Iterable

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gonghui.core.auth import tokens_equal
from gonghui.core.metrics import REQUEST_SECONDS, registry_to_serve
from gonghui.edge.deps import get_settings

router = APIRouter(include_in_schema=False)
LOCAL = {"127.0.0.1", "::1", "localhost"}


class RequestTiming:
    """Times every request by its route template (never the raw path: ids would explode the
    label set), as a path is written: `/api/v1/members/{member_id}`, with the prefix its router
    was included under and without the converter (`{member_id:int}`), which is how the route
    parses the id, not what the route is called."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._templates: dict[int, str] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = self._template(scope)
            REQUEST_SECONDS.labels(scope["method"], route, str(status)).observe(
                time.perf_counter() - started
            )

    def _template(self, scope: Scope) -> str:
        route = scope.get("route")
        if route is None:
            return "unmatched"
        if self._templates is None:  # the app's routes are all in place by its first request
            self._templates = route_templates(scope["app"].routes)
        # Starlette's routes and mounts keep the template without converters as `path_format`.
        known = self._templates.get(id(route))
        return known if known is not None else str(getattr(route, "path_format", "unmatched"))


def route_templates(routes: Iterable[object]) -> dict[int, str]:
    """{id of a route: its template as a request reaches it}. FastAPI keeps an included router
    as a branch: the route a request is handled by (`scope["route"]`) carries its own path only,
    `/members/{member_id:int}`, which the pages' `/members/{member_id}` would share once the
    converter is dropped; the branch's effective routes carry the prefix. Keyed by id: a
    Starlette route compares by value and cannot be hashed."""
    templates: dict[int, str] = {}
    for route in routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is not None:
            for context in contexts():
                templates[id(context.original_route)] = context.path_format
    return templates


@router.get("/metrics")
def metrics(request: Request) -> Response:
    token = get_settings(request).metrics_token.get_secret_value()
    offered = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    local = request.client is not None and request.client.host in LOCAL
    if not local and not (token and tokens_equal(offered, token)):
        return PlainTextResponse("Not Found", status_code=404)
    return Response(generate_latest(registry_to_serve()), media_type=CONTENT_TYPE_LATEST)
