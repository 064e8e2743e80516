from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gonghui.core.money import MAX_FEN, format_fen, parse_yuan, round_half_up_to_fen, yuan_string


@pytest.mark.parametrize(
    ("text", "fen"),
    [
        ("2000", 200_000),
        ("1,850.32", 185_032),
        ("0.1", 10),
        ("¥12.05", 1205),
        (" 7 ", 700),
        # As a phone's Chinese keyboard types them in full-width mode.
        ("１００", 10_000),
        ("１００．５０", 10_050),
        ("￥１，２００", 120_000),
        ("\u3000５\u3000", 500),
        # As people write a price: a yuan sign before it or 元 after it, not both.
        ("100元", 10_000),
        ("２，５００．５０元", 250_050),
    ],
)
def test_it_parses_yuan_amounts_into_fen(text: str, fen: int) -> None:
    assert parse_yuan(text) == fen


@pytest.mark.parametrize(
    ("text", "reason"),
    [("1.234", "两位小数"), ("abc", "格式"), ("NaN", "格式"), ("¥100元", "格式"), ("元", "格式")],
)
def test_it_refuses_amounts_it_would_have_to_round(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_yuan(text)


@pytest.mark.parametrize(
    ("yuan", "fen"),
    [("0.005", 1), ("0.0049", 0), ("1850.315", 185_032), ("-0.005", -1), ("2.675", 268)],
)
def test_it_rounds_half_up_to_the_fen(yuan: str, fen: int) -> None:
    assert round_half_up_to_fen(Decimal(yuan)) == fen


def test_it_formats_fen_the_way_people_read_money() -> None:
    assert format_fen(185_032) == "¥1,850.32"
    assert format_fen(-500) == "-¥5.00"
    assert yuan_string(200_000) == "2000.00"


@given(st.integers(min_value=-MAX_FEN, max_value=MAX_FEN))
def test_formatting_and_parsing_round_trip(fen: int) -> None:
    assert parse_yuan(yuan_string(fen)) == fen
    assert parse_yuan(format_fen(fen)) == fen


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2500,00", "金额“2500,00”格式不正确，应为如 2500 或 2,500.00 的金额"),
        ("1,0,0", "金额“1,0,0”格式不正确，应为如 2500 或 2,500.00 的金额"),
        ("25,00.00", "金额“25,00.00”格式不正确，应为如 2500 或 2,500.00 的金额"),
        ("1e3", "金额“1e3”格式不正确，应为如 2500 或 2,500.00 的金额"),
        ("1e30", "金额“1e30”格式不正确，应为如 2500 或 2,500.00 的金额"),
        ("NaN", "金额“NaN”格式不正确，应为如 2500 或 2,500.00 的金额"),
        ("Infinity", "金额“Infinity”格式不正确，应为如 2500 或 2,500.00 的金额"),
        ("abc", "金额“abc”格式不正确，应为如 2500 或 2,500.00 的金额"),
        ("99999999999999999", "金额超出上限（最多 ¥10,000,000,000.00）"),
        ("1" * 31, "金额超出上限（最多 ¥10,000,000,000.00）"),
        ("10000000000.01", "金额超出上限（最多 ¥10,000,000,000.00）"),
    ],
)
def test_it_refuses_misplaced_separators_exponents_and_amounts_past_the_bound(
    text: str, message: str
) -> None:
    with pytest.raises(ValueError, match=f"^{message}$"):
        parse_yuan(text)


def test_thousands_separators_in_their_places_are_read() -> None:
    assert parse_yuan("2,500.00") == 250_000
    assert parse_yuan("1,234,567") == 123_456_700
    assert parse_yuan("10,000,000,000.00") == MAX_FEN
