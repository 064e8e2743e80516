"""The electronic member card's QR code: a signed, short-lived token a station or a partner
shop verifies at `/card/verify`.

Signed the way the stations' check-in codes are (`stations.tokens`): `<member id>.<issued-at,
unix seconds>.<HMAC-SHA-256 truncated to 128 bits>` under a key derived from the secret key for
this purpose only. A screenshot stops working after the window, so a card lent to someone else
soon proves nothing; a code edited to name another member fails its HMAC.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from gonghui.core.inputs import whole_number_or_none

CARD_WINDOW = timedelta(minutes=10)
_CLOCK_SKEW = timedelta(seconds=60)
_MAC_BYTES = 16


class CardRefused(ValueError):
    """Why a scanned card is not accepted, in words for whoever scanned it."""


def derive_key(secret_key: str) -> bytes:
    return hmac.new(secret_key.encode(), b"gonghui member card v1", hashlib.sha256).digest()


def _mac(key: bytes, member_id: int, issued: int) -> str:
    digest = hmac.new(key, f"m{member_id}.{issued}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:_MAC_BYTES]).decode().rstrip("=")


def issue(key: bytes, member_id: int, now: datetime) -> str:
    issued = int(now.timestamp())
    return f"{member_id}.{issued}.{_mac(key, member_id, issued)}"


@dataclass(frozen=True)
class CardScan:
    member_id: int
    issued_at: datetime


def verify(key: bytes, token: str, now: datetime) -> CardScan:
    parts = token.strip().split(".")
    numbers = [whole_number_or_none(part) for part in parts[:2]]
    if len(parts) != 3 or not parts[2].isascii():  # noqa: PLR2004
        raise CardRefused("不是有效的会员电子卡二维码")
    claimed, issued = numbers
    if claimed is None or issued is None:
        raise CardRefused("不是有效的会员电子卡二维码")
    if not hmac.compare_digest(parts[2], _mac(key, claimed, issued)):
        raise CardRefused("会员电子卡二维码无效或已被篡改")
    issued_at = datetime.fromtimestamp(issued, UTC)
    if issued_at > now + _CLOCK_SKEW:
        raise CardRefused("二维码时间异常，请会员刷新电子卡后重新扫描")
    if now - issued_at > CARD_WINDOW:
        raise CardRefused("二维码已过期（有效10分钟），请会员刷新电子卡后重新扫描")
    return CardScan(claimed, issued_at)


def masked_name(name: str) -> str:
    """王涛 → 王*, 欧阳明月 → 欧***: the scanner confirms the person, not their full name."""
    return name[:1] + "*" * max(1, len(name) - 1)
