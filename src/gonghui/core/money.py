"""Money is Chinese yuan held as integer fen (分). Decimal lives only inside a calculation."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import TypeAlias

Fen: TypeAlias = int

FEN_PER_YUAN = 100
_CENT = Decimal("0.01")


def round_half_up_to_fen(yuan: Decimal) -> Fen:
    """The project's one rounding rule: half-up (四舍五入) to the fen, applied once per result."""
    return int((yuan * FEN_PER_YUAN).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def parse_yuan(text: str) -> Fen:
    """Parse a yuan amount with at most two decimals, e.g. ``"2000"``, ``"1,850.32"``.

    Raises ValueError (with a Chinese message) on anything else, including a third decimal,
    since silently rounding a bank's figure would change it.
    """
    cleaned = text.strip().replace(",", "").removeprefix("¥")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError(f"金额格式不正确：{text!r}") from None
    if not value.is_finite():
        raise ValueError(f"金额格式不正确：{text!r}")
    if value != value.quantize(_CENT):
        raise ValueError(f"金额最多两位小数：{text!r}")
    return int(value * FEN_PER_YUAN)


def fen_to_yuan(fen: Fen) -> Decimal:
    return (Decimal(fen) / FEN_PER_YUAN).quantize(_CENT)


def yuan_string(fen: Fen) -> str:
    """Plain two-decimal yuan, as machines read it: ``"1850.32"``."""
    return str(fen_to_yuan(fen))


def format_fen(fen: Fen) -> str:
    """Yuan as people read it: ``¥1,850.32`` (``-¥5.00`` when negative)."""
    sign = "-" if fen < 0 else ""
    return f"{sign}¥{fen_to_yuan(abs(fen)):,.2f}"
