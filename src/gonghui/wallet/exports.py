"""The wallet's workbooks."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from gonghui.core.money import fen_to_yuan
from gonghui.core.tabular import Sheet, export_caption, write_workbook
from gonghui.wallet.queries import SettlementLine

_HEADERS = ("使用地代码", "使用地", "共济人参保地代码", "共济人参保地", "金额（元）")
_CODES = ("使用地代码", "共济人参保地代码")


def settlement_workbook(
    pairs: Sequence[SettlementLine],
    provinces: Sequence[SettlementLine],
    *,
    month: date,
    who: str,
    now: datetime,
) -> bytes:
    """A month's settlement between pooling regions: one sheet of region pairs, one of
    provinces, each under a title row naming the month, who exported it and when."""
    caption = export_caption(who, f"{month:%Y年%m月}统筹区间清算", now)
    return write_workbook(
        [
            Sheet("统筹区之间", _HEADERS, _rows(pairs), _CODES),
            Sheet("省之间", _HEADERS, _rows(provinces), _CODES),
        ],
        caption=caption,
    )


def _rows(lines: Sequence[SettlementLine]) -> list[tuple[object, ...]]:
    return [
        (x.spent_code, x.spent_name, x.giver_code, x.giver_name, fen_to_yuan(x.amount_fen))
        for x in lines
    ]
