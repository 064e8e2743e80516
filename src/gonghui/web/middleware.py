"""Response headers that every page needs on an intranet as much as on the internet."""

from __future__ import annotations

import json
from ipaddress import IPv4Network, IPv6Network, ip_address

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gonghui.core.errors import TooLarge

# Everything is served by the app itself, so the policy can forbid every other origin.
_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (
        b"content-security-policy",
        (
            b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            b"frame-ancestors 'none'; form-action 'self'"
        ),
    ),
]


_HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
# Pages and JSON carry full ID numbers, medical bills and balances: no cache keeps a copy.
_NO_STORE = (b"cache-control", b"no-store")
_INTERNAL_ERROR_JSON = json.dumps(
    {"error": {"code": "internal_error", "message": "服务器内部错误，请稍后重试"}},
    ensure_ascii=False,
).encode()
_INTERNAL_ERROR_PAGE = (
    '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
    "<title>服务器内部错误 · 职工服务平台</title></head><body><h1>服务器内部错误</h1>"
    '<p>请稍后重试。如果问题持续，请联系管理员。</p><p><a href="/">返回首页</a></p></body></html>'
).encode()


class SecurityHeaders:
    """Adds the headers to every answer, an unexpected error's 500 included: that one is
    written here (JSON under /api, a page elsewhere) rather than by Starlette's outermost
    error middleware, whose plain-text answer would pass no middleware on its way out."""

    def __init__(self, app: ASGIApp, *, hsts: bool = False) -> None:
        self.app = app
        self.headers = [*_HEADERS, _HSTS] if hsts else list(_HEADERS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cacheable = scope["path"].startswith("/static/")
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = [*message.get("headers", []), *self.headers]
                if not cacheable and not any(name == b"cache-control" for name, _ in headers):
                    headers.append(_NO_STORE)
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            if not started:
                await self._internal_error(scope, send_with_headers)
            # On to the server's error middleware, which logs it (and sends nothing more).
            raise

    @staticmethod
    async def _internal_error(scope: Scope, send: Send) -> None:
        is_api = scope["path"].startswith("/api/")
        body = _INTERNAL_ERROR_JSON if is_api else _INTERNAL_ERROR_PAGE
        kind = b"application/json" if is_api else b"text/html; charset=utf-8"
        await send(
            {
                "type": "http.response.start",
                "status": 500,
                "headers": [(b"content-type", kind), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})


Network = IPv4Network | IPv6Network


class BodyLimit:
    """Refuses a request body past `max_bytes` as it arrives: at once when its Content-Length
    says so, else at the chunk that passes it. Without this, Starlette spools a whole upload to
    disk before any handler can look at its size (nginx caps it in production; `make run` and a
    bare `serve` have nothing else). The refusal is a `TooLarge` raised where the body is read,
    so the pages' and the API's own error handlers answer it, in Chinese."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        read = int(declared) if declared.isdigit() else 0

        async def receive_within_limit() -> Message:
            nonlocal read
            if read > self.max_bytes:
                raise self.refusal()
            message = await receive()
            if message["type"] == "http.request" and not declared.isdigit():
                read += len(message.get("body", b""))
                if read > self.max_bytes:
                    raise self.refusal()
            return message

        await self.app(scope, receive_within_limit, send)

    def refusal(self) -> TooLarge:
        limit = self.max_bytes // (1024 * 1024)
        return TooLarge("body_too_large", f"提交的内容超过平台上限（{limit} MB），请拆分后分次上传")


class TrustedProxies:
    """The client's address as the throttles and logs see it. Only a peer in the configured
    proxy networks (GONGHUI_TRUSTED_PROXIES) may name another one with X-Forwarded-For; from
    anyone else, loopback included, the header is ignored (`gonghui serve` turns uvicorn's own
    handling of it off, which would believe any local peer)."""

    def __init__(self, app: ASGIApp, networks: list[Network]) -> None:
        self.app = app
        self.networks = networks

    def _trusted(self, address: str) -> bool:
        try:
            parsed = ip_address(address)
        except ValueError:
            return False
        return any(parsed in network for network in self.networks)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if scope["type"] in {"http", "websocket"} and client and self._trusted(client[0]):
            headers = dict(scope["headers"])
            forwarded = headers.get(b"x-forwarded-for", b"").decode("latin-1")
            # The right-most address no trusted proxy added is the client; anything to its
            # left was written by the client itself and proves nothing.
            for hop in reversed([part.strip() for part in forwarded.split(",") if part.strip()]):
                if not self._trusted(hop):
                    scope = {**scope, "client": (hop, 0)}
                    break
            proto = headers.get(b"x-forwarded-proto", b"").decode("latin-1").strip().lower()
            if proto in {"http", "https"}:
                scope = {**scope, "scheme": proto}
        await self.app(scope, receive, send)
