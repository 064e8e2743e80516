"""The signed, time-limited token a position's QR code carries.

A token is `<position id>.<issued-at, unix seconds>.<HMAC>`: the HMAC (SHA-256, truncated to
128 bits) binds the position and the moment, under a key derived from the secret key for this
purpose only. A photo of the code stops working once the window has passed, a code edited to
name another position fails its HMAC, and a forged one cannot be made without the key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from gonghui.core.auth import tokens_equal

TOKEN_WINDOW = timedelta(minutes=10)
# The door screen refreshes its code well inside the window.
REFRESH_SECONDS = 120
_CLOCK_SKEW = timedelta(seconds=60)
_MAC_BYTES = 16


class TokenRefused(ValueError):
    """Why a scanned code is not accepted, in words for the person holding the phone."""


def derive_key(secret_key: str) -> bytes:
    return hmac.new(secret_key.encode(), b"gonghui stations qr v1", hashlib.sha256).digest()


def _mac(key: bytes, position_id: int, issued: int) -> str:
    digest = hmac.new(key, f"{position_id}.{issued}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:_MAC_BYTES]).decode().rstrip("=")


def issue(key: bytes, position_id: int, now: datetime) -> str:
    issued = int(now.timestamp())
    return f"{position_id}.{issued}.{_mac(key, position_id, issued)}"


@dataclass(frozen=True)
class Scan:
    position_id: int
    issued_at: datetime


def verify(key: bytes, token: str, now: datetime, *, position_id: int | None = None) -> Scan:
    parts = token.strip().split(".")
    # ASCII digits only: `isdigit` alone also passes "²", which `int` refuses.
    if len(parts) != 3 or not all(part.isascii() and part.isdigit() for part in parts[:2]):  # noqa: PLR2004
        raise TokenRefused("二维码无效，请扫描阵地门口的签到二维码")
    claimed, issued = int(parts[0]), int(parts[1])
    if not tokens_equal(parts[2], _mac(key, claimed, issued)):
        raise TokenRefused("二维码无效或已被篡改，请扫描阵地门口的签到二维码")
    if position_id is not None and claimed != position_id:
        raise TokenRefused("二维码不属于该阵地")
    issued_at = datetime.fromtimestamp(issued, UTC)
    if issued_at > now + _CLOCK_SKEW:
        raise TokenRefused("二维码时间异常，请重新扫描")
    if now - issued_at > TOKEN_WINDOW:
        raise TokenRefused("二维码已过期，请扫描现场屏幕上的最新二维码")
    return Scan(claimed, issued_at)
