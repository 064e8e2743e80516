"""计发月数: the months a personal-account balance is divided by, versioned with its source."""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Mapping


@dataclass(frozen=True)
class DivisorTable:
    """One published 计发月数 table, by whole age in years.

    A province that publishes its own table (or a corrected one) builds another instance and
    passes it to the rules; nothing else in the rules depends on these particular figures.
    """

    version: str
    source: str
    months_by_whole_age: Mapping[int, int]


# 国发〔2005〕38号 国务院关于完善企业职工基本养老保险制度的决定, 附件 个人账户养老金计发月数表,
# www.gov.cn/zhengce/zhengceku/2008-03/28/content_7376.htm
# Age 47 is 207 in the State Council text and most provincial reprints; a few reprints print 208.
GUOFA_2005_38: Final = DivisorTable(
    version="guofa-2005-38",
    source="国发〔2005〕38号 附件 个人账户养老金计发月数表",
    months_by_whole_age=MappingProxyType(
        {
            40: 233,
            41: 230,
            42: 226,
            43: 223,
            44: 220,
            45: 216,
            46: 212,
            47: 207,
            48: 204,
            49: 199,
            50: 195,
            51: 190,
            52: 185,
            53: 180,
            54: 175,
            55: 170,
            56: 164,
            57: 158,
            58: 152,
            59: 145,
            60: 139,
            61: 132,
            62: 125,
            63: 117,
            64: 109,
            65: 101,
            66: 93,
            67: 84,
            68: 75,
            69: 65,
            70: 56,
        }
    ),
)

DEFAULT_DIVISOR_TABLE: Final = GUOFA_2005_38
