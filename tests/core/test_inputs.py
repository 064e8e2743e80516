"""The one input layer: every accepted form round-trips, every refusal has its one message."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from gonghui.core import inputs
from gonghui.core.inputs import (
    MAX_ID,
    InputError,
    parse_amount,
    parse_bounded_int,
    parse_date,
    parse_decimal,
    parse_month,
    parse_period,
    parse_years,
    whole_number_or_none,
)

DAYS = st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31))


@given(DAYS)
def test_every_written_form_of_a_day_reads_back_as_that_day(day: date) -> None:
    for text in (
        day.isoformat(),
        f"{day.year}/{day.month}/{day.day}",
        f"{day.year}/{day.month:02}/{day.day:02}",
        f"{day.year}.{day.month}.{day.day}",
        f"{day:%Y%m%d}",
        f"{day.year}-{day.month}-{day.day}",
    ):
        assert parse_date(text) == day


@given(DAYS)
def test_months_and_periods_round_trip(day: date) -> None:
    first = day.replace(day=1)
    assert parse_month(f"{first:%Y-%m}") == first
    period = parse_period(f"{first:%Y-%m}")
    assert (period.start, period.label) == (first, f"{first:%Y-%m}")
    assert period.end >= day
    year = parse_period(str(day.year))
    assert (year.start, year.end) == (date(day.year, 1, 1), date(day.year, 12, 31))


@given(st.integers(min_value=0, max_value=80 * 12))
def test_years_and_months_read_as_their_months(months: int) -> None:
    years, extra = divmod(months, 12)
    assert parse_years(f"{years}年{extra}个月").months == months
    assert parse_years(f"{years}年{extra}个月").years * 12 == months


@given(st.decimals(min_value=0, max_value=80, places=4))
def test_printed_decimal_years_are_kept_as_printed(years: Decimal) -> None:
    parsed = parse_years(str(years))
    assert parsed.years == years
    assert abs(parsed.months - years * 12) <= Decimal("0.5")


def test_real_pension_forms_print_years_like_these() -> None:
    assert parse_years("31.5833") == inputs.Years(Decimal("31.5833"), 379, printed_in_months=False)
    assert parse_years("42.58").months == 511
    assert parse_years("31年7个月") == inputs.Years(Decimal(379) / 12, 379, printed_in_months=True)
    assert parse_years("35").months == 420
    assert parse_years("7个月").months == 7


@given(st.integers(min_value=0, max_value=10**12))
def test_amounts_round_trip_with_and_without_separators(fen: int) -> None:
    yuan, cents = divmod(fen, 100)
    assert parse_amount(f"{yuan}.{cents:02}") == fen
    assert parse_amount(f"{yuan:,}.{cents:02}") == fen


REFUSED: list[tuple[Callable[[str], object], str, str]] = [
    (parse_amount, "2500,00", "金额“2500,00”格式不正确，应为如 2500 或 2,500.00 的金额"),
    (parse_amount, "1,0,0", "金额“1,0,0”格式不正确，应为如 2500 或 2,500.00 的金额"),
    (parse_amount, "1e3", "金额“1e3”格式不正确，应为如 2500 或 2,500.00 的金额"),
    (parse_amount, "NaN", "金额“NaN”格式不正确，应为如 2500 或 2,500.00 的金额"),
    (parse_amount, "abc", "金额“abc”格式不正确，应为如 2500 或 2,500.00 的金额"),
    (parse_amount, "1.234", "金额最多两位小数：1.234"),
    (parse_amount, "-5", "金额不能为负数：-5"),
    (parse_amount, "99999999999999999", "金额超出上限（最多 ¥10,000,000,000.00）"),
    (parse_date, "2025-02-30", "日期“2025-02-30”不存在"),
    (parse_date, "31/01/2025", "日期“31/01/2025”格式不正确，应为 YYYY-MM-DD、YYYY/M/D 或 YYYYMMDD"),
    (parse_date, "", "请填写日期"),
    # "²" passes `str.isdigit` but not `int`: it was a ValueError, a 500.
    (parse_date, "²²²²-01-01", "日期“²²²²-01-01”格式不正确，应为 YYYY-MM-DD、YYYY/M/D 或 YYYYMMDD"),
    (parse_month, " ", "请填写月份（YYYY-MM）"),
    (parse_date, "3025-01-01", "日期“3025-01-01”的年份应在 1900 至 2100 之间"),
    (parse_month, "2025-13", "月份“2025-13”格式不正确，应为 YYYY-MM，如 2025-01"),
    (parse_month, "202501", "月份“202501”格式不正确，应为 YYYY-MM，如 2025-01"),
    (parse_period, "2025-1-1", "考核期间“2025-1-1”格式不正确，应为 YYYY-MM（月度）或 YYYY（年度）"),
    (parse_years, "31年12个月", "年限的月数应为 0 至 11：31年12个月"),
    (parse_years, "1e2", "年限应为年数（如 35、31.5833）或年月（如 31年7个月）：1e2"),
    (parse_years, "81", "年限不能超过 80 年：81"),
    (parse_years, "31.58333", "年限应为年数（如 35、31.5833）或年月（如 31年7个月）：31.58333"),
    (
        lambda text: parse_bounded_int(text, "退休年龄（月）", low=480, high=900),
        "99999999999999999999",
        "退休年龄（月）应在 480 至 900 之间：99999999999999999999",
    ),
    (
        lambda text: parse_bounded_int(text, "退休年龄（月）", low=480, high=900),
        "60岁",
        "退休年龄（月）应为整数：60岁",
    ),
    (
        lambda text: parse_decimal(text, "平均缴费指数", low=Decimal(0), high=Decimal(3)),
        "1e1",
        "平均缴费指数应为数字，如 1.2：1e1",
    ),
    (
        lambda text: parse_decimal(text, "平均缴费指数", low=Decimal(0), high=Decimal(3)),
        "3.5",
        "平均缴费指数应在 0 至 3 之间：3.5",
    ),
    (inputs.parse_mobile, "1234", "手机号应为11位中国大陆手机号码"),
    (
        inputs.parse_credit_code,
        "91370600",
        "统一社会信用代码应为18位数字或大写字母（不含I、O、Z、S、V）",
    ),
]


@pytest.mark.parametrize(("parse", "text", "message"), REFUSED)
def test_each_refused_input_has_its_one_chinese_message(
    parse: Callable[[str], object], text: str, message: str
) -> None:
    with pytest.raises(InputError) as caught:
        parse(text)
    assert str(caught.value) == message
    assert "'" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "high", "expected"),
    [
        ("12", MAX_ID, 12),
        (" 7 ", MAX_ID, 7),
        ("0", 5, 0),
        ("6", 5, None),
        ("²", MAX_ID, None),  # str.isdigit says yes; int() refuses it
        ("١٢", MAX_ID, None),  # Arabic-Indic digits: int() reads them, a database id is ASCII
        ("１２", MAX_ID, None),
        (str(2**63), MAX_ID, None),  # past what the database stores
        ("9" * 400, MAX_ID, None),
        ("-3", MAX_ID, None),
        ("", MAX_ID, None),
    ],
)
def test_a_whole_number_from_a_form_is_ascii_digits_within_bounds(
    text: str, high: int, expected: int | None
) -> None:
    assert whole_number_or_none(text, high) == expected


def test_a_card_code_with_odd_digits_is_refused_not_an_error(client: TestClient) -> None:
    for token in ("².1.abc", f"{2**70}.1.abc", "1.2.签名"):
        page = client.get("/card/verify", params={"t": token})
        assert page.status_code in {200, 400, 422}, token
        assert "不是有效的会员电子卡二维码" in page.text, token


_FULL_WIDTH = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")


@pytest.mark.parametrize("ascii_text", ["370602198001151237", "11010519491231002X"])
def test_an_id_number_typed_in_full_width_mode_reads_as_itself(ascii_text: str) -> None:
    # A phone's Chinese keyboard in full-width mode types these; amounts and dates were read,
    # and a right ID number was refused as "校验位错误".
    typed = ascii_text.translate(_FULL_WIDTH)
    assert inputs.parse_id_number(typed, today=date(2026, 1, 1)).value == ascii_text
    assert inputs.parse_id_number(typed.lower(), today=date(2026, 1, 1)).value == ascii_text


def test_a_mobile_and_a_credit_code_typed_in_full_width_mode_read_as_themselves() -> None:
    assert inputs.parse_mobile("１３８\u3000００００\u3000１１１１") == "13800001111"
    code = "91370602" + "MA3C4F5G6"
    code += inputs.uscc_check_character(code)
    typed = code.translate(str.maketrans("0123456789ACFGM", "０１２３４５６７８９ＡＣＦＧＭ"))
    assert inputs.parse_credit_code(typed) == code


def test_digits_of_other_scripts_are_no_id_number_or_mobile() -> None:
    # `\d` matches them and int() reads them: the stored number would not be the person's.
    with pytest.raises(InputError, match="应为18位"):
        inputs.parse_id_number("٣٧٠٦٠٢١٩٨٠٠١١٥١٢٣٧", today=date(2026, 1, 1))
    with pytest.raises(InputError, match="11位"):
        inputs.parse_mobile("١٣٨٠٠٠٠١١١١")
