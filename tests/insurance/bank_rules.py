"""The bank-file rules as one table, held identical on the page, the API and the CLI.

Each case is a line of `卡号, 日期, 日终余额` (the card left blank is filled in with one of the
sending bank's cards) and the reason the import gives for it; the clock reads 2025-02-10 09:00
in Beijing.
"""

from __future__ import annotations

CLOCK = "2025-02-10T09:00:00+08:00"

CASES: list[tuple[tuple[str, str, str], str]] = [
    (("", "2025/1/5", "2,500.00"), ""),
    (("", "2025-02-10", "1.00"), "日期 2025-02-10 尚未结束，当天结束后才能报送日终余额"),
    (("", "20250211", "1.00"), "日期 2025-02-11 尚未结束，当天结束后才能报送日终余额"),
    (("", "2025-01-02", "2500,00"), "日终余额“2500,00”格式不正确，应为如 2500 或 2,500.00 的金额"),
    (("", "2025-01-03", "1,0,0"), "日终余额“1,0,0”格式不正确，应为如 2500 或 2,500.00 的金额"),
    (("", "2025-01-04", "1e3"), "日终余额“1e3”格式不正确，应为如 2500 或 2,500.00 的金额"),
    (("", "2025-01-06", "99999999999999999"), "日终余额超出上限（最多 ¥10,000,000,000.00）"),
    (("", "31/01/2025", "1"), "日期“31/01/2025”格式不正确，应为 YYYY-MM-DD、YYYY/M/D 或 YYYYMMDD"),
    (("合计", "", "2,501.00"), "“合计”是合计行，不是某张卡的余额，请删除该行后再导入"),
]


def rows(card_no: str) -> list[tuple[str, str, str]]:
    return [(cells[0] or card_no, cells[1], cells[2]) for cells, _reason in CASES]


def csv_text(card_no: str) -> str:
    lines = [",".join(f'"{cell}"' for cell in row) for row in rows(card_no)]
    return "卡号,日期,日终余额\n" + "\n".join(lines) + "\n"


def expected() -> list[str]:
    # Line 1 is the header, so the n-th case is line n + 1 (in the API: the n-th row, + 1).
    return [f"第{n}行：{reason}" for n, (_cells, reason) in enumerate(CASES, start=2) if reason]


HEADLINE = f"导入失败：共{len(expected())}行有错误，未写入任何数据"
