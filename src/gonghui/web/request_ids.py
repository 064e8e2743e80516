"""A request id for every request: taken from the proxy's `X-Request-ID` when it is a plain
token (so one id follows a request from nginx through the app), made here otherwise; bound to
every log event of the request and returned in the response's `X-Request-ID`."""

from __future__ import annotations

import re
import uuid

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gonghui.core.logging import bound

HEADER = "X-Request-ID"
# Whatever a client sends is logged: only a short token of safe characters is kept.
_ACCEPTED = re.compile(r"[A-Za-z0-9._-]{8,64}")


class RequestIds:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        offered = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = offered if _ACCEPTED.fullmatch(offered) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[HEADER] = request_id
            await send(message)

        with bound(request_id=request_id):
            await self.app(scope, receive, sending)
