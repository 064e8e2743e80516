"""Response headers that every page needs on an intranet as much as on the internet."""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network, ip_address

from starlette.types import ASGIApp, Message, Receive, Scope, Send

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


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)


Network = IPv4Network | IPv6Network


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
