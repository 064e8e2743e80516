"""The one input layer: text as people type it and files carry it, turned into values.

CLI options, form fields, API fields and file cells all read yuan, dates, months, periods,
years, identity numbers, credit codes and phones through these functions. Each refuses with an
``InputError`` (a ``ValueError``) whose message is one Chinese sentence naming the field and
what it should look like, never a Python repr; the edges wrap it in their own error type
(``input_error`` below for the platform's ``InvalidInput``).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Final

from gonghui.core.clock import BUSINESS_TZ
from gonghui.core.errors import InvalidInput
from gonghui.core.money import MAX_FEN, Fen, parse_yuan

__all__ = [
    "CONTROL_CHARACTERS",
    "CONTROL_CHARACTERS_MESSAGE",
    "MAX_FEN",
    "MAX_ID",
    "CalendarPeriod",
    "Fen",
    "IdNumber",
    "InputError",
    "Sex",
    "Years",
    "half_width",
    "id_check_character",
    "input_error",
    "parse_amount",
    "parse_bounded_int",
    "parse_credit_code",
    "parse_date",
    "parse_decimal",
    "parse_id_number",
    "parse_mobile",
    "parse_month",
    "parse_period",
    "parse_years",
    "parse_yuan",
    "uscc_check_character",
]

MIN_YEAR: Final = 1900
# The largest row id a BIGINT column holds: an id past it names nothing, and must be refused
# before it reaches the database (PostgreSQL would fail the statement, not find nothing).
MAX_ID: Final = 2**63 - 1
MAX_YEAR: Final = 2100
MONTHS_PER_YEAR: Final = 12
# Text pasted from a PDF or a spreadsheet can carry control characters nobody sees. PostgreSQL
# cannot store a NUL, and a workbook cannot hold any of these (an export of the value fails):
# text carrying one is refused wherever it comes in. Tab and line breaks are text.
CONTROL_CHARACTERS: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
CONTROL_CHARACTERS_MESSAGE: Final = (
    "含有看不见的控制字符（多为从别处复制粘贴时带入），请删除后重新填写"
)


class InputError(ValueError):
    """Text that is not the value it should be; the message is the Chinese reason."""


def input_error(code: str, parse_error: ValueError) -> InvalidInput:
    """The platform's 422 error for a refused input, with the layer's message unchanged."""
    return InvalidInput(code, str(parse_error))


def _shown(text: str) -> str:
    return text.strip() or "（空）"


# --- amounts -------------------------------------------------------------------------------


def whole_number_or_none(text: str, high: int = MAX_ID) -> int | None:
    """A whole number written in ASCII digits and at most `high`, or None. `str.isdigit` alone
    lets through "²" (which `int` refuses) and numbers past what the database stores."""
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(high)):
        return None
    value = int(text)
    return value if value <= high else None


def parse_amount(text: str, label: str = "金额", *, allow_negative: bool = False) -> Fen:
    """A yuan amount (see ``money.parse_yuan``) that is not negative unless allowed."""
    try:
        fen = parse_yuan(text, label)
    except ValueError as error:
        raise InputError(str(error)) from None
    if fen < 0 and not allow_negative:
        raise InputError(f"{label}不能为负数：{text.strip()}")
    return fen


# --- integers and decimals -----------------------------------------------------------------

_INTEGER = re.compile(r"^[+-]?\d+$")
_DECIMAL = re.compile(r"^([+-]?)(\d+)(?:\.(\d+))?$")


def parse_bounded_int(text: str, label: str, *, low: int, high: int) -> int:
    """A whole number between `low` and `high` inclusive (every integer input is bounded)."""
    value = text.strip()
    if not _INTEGER.match(value) or len(value) > len(str(high)) + 1:
        if _INTEGER.match(value):
            raise InputError(f"{label}应在 {low} 至 {high} 之间：{value}")
        raise InputError(f"{label}应为整数：{_shown(text)}")
    number = int(value)
    if not low <= number <= high:
        raise InputError(f"{label}应在 {low} 至 {high} 之间：{value}")
    return number


def parse_decimal(
    text: str, label: str, *, low: Decimal, high: Decimal, places: int = 4
) -> Decimal:
    """A plain decimal number (no exponent, no separators) within bounds and decimal places."""
    value = text.strip()
    match = _DECIMAL.match(value)
    if match is None:
        raise InputError(f"{label}应为数字，如 1.2：{_shown(text)}")
    if len(match.group(3) or "") > places:
        raise InputError(f"{label}最多{places}位小数：{value}")
    if len(match.group(2)) > len(str(int(high))) + 1:
        raise InputError(f"{label}应在 {low} 至 {high} 之间：{value}")
    number = Decimal(value)
    if not low <= number <= high:
        raise InputError(f"{label}应在 {low} 至 {high} 之间：{value}")
    return number


# --- dates, months, periods ----------------------------------------------------------------

# Every file and form writes a day one of these ways; an XLSX date cell arrives as YYYY-MM-DD.
_DATE_SHAPES = (
    re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$"),
    re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$"),
    re.compile(r"^(\d{4})\.(\d{1,2})\.(\d{1,2})$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
)
DATE_FORMS: Final = "YYYY-MM-DD、YYYY/M/D 或 YYYYMMDD"
_ISO_LENGTH: Final = 10


def parse_date(text: str, label: str = "日期") -> date:
    """A calendar day: 2025-01-31, 2025/1/31, 2025.1.31 or 20250131 (years 1900–2100)."""
    value = text.strip()
    if not value:
        raise InputError(f"请填写{label}")
    # The common case first (a bank file of a million rows): YYYY-MM-DD within the years.
    if (
        len(value) == _ISO_LENGTH
        and value[4] == value[7] == "-"
        # `isdecimal`, not `isdigit`: "²" is a digit that `int` refuses.
        and value[:4].isdecimal()
        and value[5:7].isdecimal()
        and value[8:].isdecimal()
        and MIN_YEAR <= int(value[:4]) <= MAX_YEAR
    ):
        try:
            return date(int(value[:4]), int(value[5:7]), int(value[8:]))
        except ValueError:
            raise InputError(f"{label}“{value}”不存在") from None
    for shape in _DATE_SHAPES:
        if match := shape.match(value):
            year, month, day = (int(part) for part in match.groups())
            if not MIN_YEAR <= year <= MAX_YEAR:
                raise InputError(f"{label}“{value}”的年份应在 {MIN_YEAR} 至 {MAX_YEAR} 之间")
            try:
                return date(year, month, day)
            except ValueError:
                raise InputError(f"{label}“{value}”不存在") from None
    raise InputError(f"{label}“{_shown(text)}”格式不正确，应为 {DATE_FORMS}")


_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_YEAR = re.compile(r"^(\d{4})$")


def parse_month(text: str, label: str = "月份") -> date:
    """A calendar month, YYYY-MM (2025-01), as its first day."""
    value = text.strip()
    if not value:
        raise InputError(f"请填写{label}（YYYY-MM）")
    match = _MONTH.match(value)
    if match is None or not 1 <= int(match.group(2)) <= MONTHS_PER_YEAR:
        raise InputError(f"{label}“{_shown(text)}”格式不正确，应为 YYYY-MM，如 2025-01")
    year = int(match.group(1))
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise InputError(f"{label}“{value}”的年份应在 {MIN_YEAR} 至 {MAX_YEAR} 之间")
    return date(year, int(match.group(2)), 1)


@dataclass(frozen=True)
class CalendarPeriod:
    """A month (label YYYY-MM) or a year (label YYYY) of Beijing days; `end` is its last day."""

    label: str
    start: date
    end: date  # inclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def instants(self) -> tuple[datetime, datetime]:
        """[first instant, first instant after): the business days as aware times."""
        first = datetime.combine(self.start, time(0), BUSINESS_TZ)
        after = datetime.combine(self.end + timedelta(days=1), time(0), BUSINESS_TZ)
        return first, after


def parse_period(text: str, label: str = "考核期间") -> CalendarPeriod:
    """A month (YYYY-MM) or a whole year (YYYY)."""
    value = text.strip()
    if (match := _YEAR.match(value)) and MIN_YEAR <= int(match.group(1)) <= MAX_YEAR:
        year = int(match.group(1))
        return CalendarPeriod(value, date(year, 1, 1), date(year, 12, 31))
    try:
        start = parse_month(value or "-", label)
    except InputError:
        raise InputError(
            f"{label}“{_shown(text)}”格式不正确，应为 YYYY-MM（月度）或 YYYY（年度）"
        ) from None
    following = date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return CalendarPeriod(f"{start:%Y-%m}", start, following - timedelta(days=1))


# --- years with decimals -------------------------------------------------------------------

_YEARS_DECIMAL = re.compile(r"^(\d{1,3})(?:\.(\d{1,4}))?(?:年)?$")
_YEARS_AND_MONTHS = re.compile(r"^(?:(\d{1,3})年)?(?:(\d{1,2})个?月)?$")
MAX_YEARS: Final = 80


@dataclass(frozen=True)
class Years:
    """A length of time in years as a form prints it: ``31.5833`` or ``31年7个月``.

    `years` is the figure as printed (a formula that prints N uses N itself); `months` is the
    nearest whole month, for rules that count months."""

    years: Decimal
    months: int
    printed_in_months: bool


def parse_years(text: str, label: str = "年限") -> Years:
    """Years as decimals (``35``, ``31.5833``, ``42.58``) or years and months (``31年7个月``)."""
    value = text.strip().replace(" ", "")
    if match := _YEARS_DECIMAL.match(value):
        years = Decimal(value.removesuffix("年"))
        months = int((years * MONTHS_PER_YEAR).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        printed = False
    elif value and (match := _YEARS_AND_MONTHS.match(value)):
        whole, extra = int(match.group(1) or 0), int(match.group(2) or 0)
        if extra >= MONTHS_PER_YEAR:
            raise InputError(f"{label}的月数应为 0 至 11：{value}")
        months = whole * MONTHS_PER_YEAR + extra
        years = Decimal(months) / MONTHS_PER_YEAR
        printed = True
    else:
        raise InputError(f"{label}应为年数（如 35、31.5833）或年月（如 31年7个月）：{_shown(text)}")
    if years > MAX_YEARS:
        raise InputError(f"{label}不能超过 {MAX_YEARS} 年：{value}")
    return Years(years, months, printed_in_months=printed)


# --- 居民身份证号 (GB 11643-1999) -----------------------------------------------------------


class Sex(StrEnum):
    MALE = "male"
    FEMALE = "female"

    @property
    def label(self) -> str:
        return "男" if self is Sex.MALE else "女"


_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID_SHAPE = re.compile(r"^[0-9]{17}[0-9X]$")
# Province-level codes of GB/T 2260 (the first two digits of every resident ID).
_PROVINCE_CODES = frozenset(
    {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46}
    | {50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82}
)


@dataclass(frozen=True)
class IdNumber:
    value: str
    birth_date: date
    sex: Sex


def id_check_character(first17: str) -> str:
    total = sum(int(digit) * weight for digit, weight in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def half_width(text: str) -> str:
    """Full-width digits, letters and spaces, as a phone's Chinese keyboard types them in its
    full-width mode, as their ASCII selves (NFKC). Digits of other scripts stay what they are,
    and the patterns below, ASCII only, refuse them."""
    return unicodedata.normalize("NFKC", text)


def parse_id_number(text: str, *, today: date) -> IdNumber:
    value = half_width(text).strip().upper()
    if not _ID_SHAPE.match(value):
        raise InputError("身份证号应为18位，前17位为数字，末位为数字或X")
    if int(value[:2]) not in _PROVINCE_CODES:
        raise InputError("身份证号的地区码不正确")
    try:
        birth = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise InputError("身份证号中的出生日期不存在") from None
    if birth > today or birth.year < MIN_YEAR:
        raise InputError("身份证号中的出生日期不合理")
    if id_check_character(value[:17]) != value[17]:
        raise InputError("身份证号校验位错误")
    sex = Sex.MALE if int(value[16]) % 2 else Sex.FEMALE
    return IdNumber(value, birth, sex)


# --- 统一社会信用代码 (GB 32100-2015) -------------------------------------------------------

_USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_USCC_SHAPE = re.compile(rf"^[{_USCC_CHARSET}]{{18}}$")


def uscc_check_character(first17: str) -> str:
    total = sum(
        _USCC_CHARSET.index(char) * weight
        for char, weight in zip(first17, _USCC_WEIGHTS, strict=True)
    )
    return _USCC_CHARSET[(31 - total % 31) % 31]


def parse_credit_code(text: str) -> str:
    value = half_width(text).strip().upper()
    if not _USCC_SHAPE.match(value):
        raise InputError("统一社会信用代码应为18位数字或大写字母（不含I、O、Z、S、V）")
    if uscc_check_character(value[:17]) != value[17]:
        raise InputError("统一社会信用代码校验位错误")
    return value


# --- phones --------------------------------------------------------------------------------

_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")


def parse_mobile(text: str) -> str:
    value = half_width(text).strip().replace(" ", "").replace("-", "").removeprefix("+86")
    if not _MOBILE.match(value):
        raise InputError("手机号应为11位中国大陆手机号码")
    return value
