"""Money is Chinese yuan held as integer fen (分). Decimal lives only inside a calculation."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Final, TypeAlias

Fen: TypeAlias = int

FEN_PER_YUAN = 100
_CENT = Decimal("0.01")

# Every amount a person or a file gives is bounded: 10^12 fen is 100亿 (ten billion) yuan, far
# above any balance, claim or fund the platform handles, and far below BIGINT's 9.2 × 10^18, so
# a sum of a million such amounts still fits a column.
MAX_FEN: Final = 10**12

# Digits with thousands separators only in their places (2,500.00), or none (2500.00).
# `\d` takes full-width digits (１２) as a phone's Chinese keyboard types them; their full-width
# point, comma, signs and space are read as the ASCII ones.
_FULL_WIDTH = str.maketrans("．，＋－\u3000", ".,+- ")
_AMOUNT = re.compile(r"^([+-]?)[¥￥]?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?$")


def round_half_up_to_fen(yuan: Decimal) -> Fen:
    """The project's one rounding rule: half-up (四舍五入) to the fen, applied once per result."""
    return int((yuan * FEN_PER_YUAN).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def parse_yuan(text: str, label: str = "金额") -> Fen:
    """A yuan amount as people write it, in fen: ``"2000"``, ``"2,500.00"``, ``"¥12.05"``,
    ``"100元"``.

    Raises ValueError with a Chinese message on anything else: a comma out of its place
    (``2500,00`` is a European decimal, not 250,000 yuan), an exponent (``1e3``), NaN or
    infinity, a third decimal (silently rounding a bank's figure would change it), or an amount
    past ``MAX_FEN``.
    """
    value = text.translate(_FULL_WIDTH).strip().replace(" ", "")
    if value.endswith("元") and not any(sign in value for sign in "¥￥"):
        value = value.removesuffix("元")
    match = _AMOUNT.match(value)
    if match is None:
        raise ValueError(f"{label}“{text.strip()}”格式不正确，应为如 2500 或 2,500.00 的金额")
    sign, whole, decimals = match.group(1), match.group(2).replace(",", ""), match.group(3) or ""
    if len(decimals) > 2:  # noqa: PLR2004 - fen are two decimals of a yuan
        raise ValueError(f"{label}最多两位小数：{text.strip()}")
    if len(whole) > len(str(MAX_FEN // FEN_PER_YUAN)):
        raise ValueError(_too_large(label))
    fen = int(whole) * FEN_PER_YUAN + int(decimals.ljust(2, "0"))
    if fen > MAX_FEN:
        raise ValueError(_too_large(label))
    return -fen if sign == "-" else fen


def _too_large(label: str) -> str:
    return f"{label}超出上限（最多 {format_fen(MAX_FEN)}）"


def fen_to_yuan(fen: Fen) -> Decimal:
    return (Decimal(fen) / FEN_PER_YUAN).quantize(_CENT)


def yuan_string(fen: Fen) -> str:
    """Plain two-decimal yuan, as machines read it: ``"1850.32"``."""
    return str(fen_to_yuan(fen))


def format_fen(fen: Fen) -> str:
    """Yuan as people read it: ``¥1,850.32`` (``-¥5.00`` when negative)."""
    sign = "-" if fen < 0 else ""
    return f"{sign}¥{fen_to_yuan(abs(fen)):,.2f}"
