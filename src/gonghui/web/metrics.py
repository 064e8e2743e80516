"""Request timing for Prometheus, and `/metrics` itself: answered to the machine's own address
(the scraper beside the server) or to a request carrying `GONGHUI_METRICS_TOKEN`; anyone else
gets 404, as if there were nothing there."""

from __future__ import annotations

import time

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
    label set)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

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
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            REQUEST_SECONDS.labels(scope["method"], route, str(status)).observe(
                time.perf_counter() - started
            )


@router.get("/metrics")
def metrics(request: Request) -> Response:
    token = get_settings(request).metrics_token.get_secret_value()
    offered = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    local = request.client is not None and request.client.host in LOCAL
    if not local and not (token and tokens_equal(offered, token)):
        return PlainTextResponse("Not Found", status_code=404)
    return Response(generate_latest(registry_to_serve()), media_type=CONTENT_TYPE_LATEST)
