from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gonghui.core.money import format_fen, parse_yuan, round_half_up_to_fen, yuan_string


@pytest.mark.parametrize(
    ("text", "fen"),
    [("2000", 200_000), ("1,850.32", 185_032), ("0.1", 10), ("¥12.05", 1205), (" 7 ", 700)],
)
def test_it_parses_yuan_amounts_into_fen(text: str, fen: int) -> None:
    assert parse_yuan(text) == fen


@pytest.mark.parametrize(
    ("text", "reason"), [("1.234", "两位小数"), ("abc", "格式"), ("NaN", "格式")]
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


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_formatting_and_parsing_round_trip(fen: int) -> None:
    assert parse_yuan(yuan_string(fen)) == fen
