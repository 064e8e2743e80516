"""A position as people write it (a form or a spreadsheet row), checked into a record.

The same reader serves the page form and the XLSX import, so both accept and refuse alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from gonghui.core.inputs import parse_mobile, whole_number_or_none
from gonghui.core.tabular import parse_date_cell
from gonghui.stations.geo import check_point
from gonghui.stations.rules import (
    AMENITY_LABELS,
    TYPE_LABELS,
    Amenity,
    PositionType,
    parse_labels,
)

HEADERS = (
    "阵地编号",
    "阵地名称",
    "阵地类型",
    "地址",
    "区县",
    "纬度",
    "经度",
    "开放时间",
    "24小时开放",
    "运营单位",
    "负责人",
    "负责人电话",
    "设施",
    "面积（平方米）",
    "座位数",
    "星级",
    "最美驿站",
    "智能化/全周期",
    "建成日期",
)
REQUIRED = (*HEADERS[:12], "建成日期")
_YES = {"是", "Y", "y", "yes", "1", "true", "√"}
_NO = {"否", "N", "n", "no", "0", "false", ""}
MAX_STARS = 5


@dataclass(frozen=True)
class PositionRecord:
    code: str
    name: str
    type_mask: int
    address: str
    district: str
    latitude: float
    longitude: float
    hours: str
    open_24h: bool
    operator_org: str
    responsible_person: str
    responsible_phone: str
    amenity_mask: int
    area_m2: int
    seats: int
    stars: int
    most_beautiful: bool
    smart: bool
    opened_on: date


class _Reader:
    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.problems: list[str] = []

    def text(self, header: str, limit: int, *, required: bool = True) -> str:
        value = self.values.get(header, "").strip()
        if required and not value:
            self.problems.append(f"“{header}”不能为空")
        elif len(value) > limit:
            self.problems.append(f"“{header}”不能超过{limit}个字")
        return value

    def number(self, header: str, low: float, high: float) -> float:
        raw = self.values.get(header, "").strip()
        try:
            value = float(raw)
        except ValueError:
            self.problems.append(f"“{header}”应为数字，现为“{raw}”")
            return low
        if not low <= value <= high:
            self.problems.append(f"“{header}”应在{low:g}至{high:g}之间")
        return value

    def whole(self, header: str, high: int, *, default: int = 0) -> int:
        raw = self.values.get(header, "").strip()
        if not raw:
            return default
        number = whole_number_or_none(raw, high)
        if number is None:
            self.problems.append(f"“{header}”应为0至{high}的整数，现为“{raw}”")
            return default
        return number

    def flag(self, header: str) -> bool:
        raw = self.values.get(header, "").strip()
        if raw in _YES:
            return True
        if raw not in _NO:
            self.problems.append(f"“{header}”应填“是”或“否”，现为“{raw}”")
        return False

    def labels(
        self, header: str, labels: dict[PositionType, str] | dict[Amenity, str], *, required: bool
    ) -> int:
        try:
            mask = parse_labels(labels, self.values.get(header, ""), header)
        except ValueError as error:
            self.problems.append(str(error))
            return 0
        if required and not mask:
            self.problems.append(f"“{header}”至少填一项")
        return mask


def read_position(values: dict[str, str]) -> PositionRecord:
    """Raises ValueError listing every problem of the row, joined by "；"."""
    reader = _Reader(values)
    latitude = reader.number("纬度", 3, 54)
    longitude = reader.number("经度", 73, 136)
    phone = reader.text("负责人电话", 11)
    opened = reader.text("建成日期", 10)
    record = PositionRecord(
        code=reader.text("阵地编号", 32).upper(),
        name=reader.text("阵地名称", 128),
        type_mask=reader.labels("阵地类型", TYPE_LABELS, required=True),
        address=reader.text("地址", 200),
        district=reader.text("区县", 64),
        latitude=latitude,
        longitude=longitude,
        hours=reader.text("开放时间", 64),
        open_24h=reader.flag("24小时开放"),
        operator_org=reader.text("运营单位", 128),
        responsible_person=reader.text("负责人", 64),
        responsible_phone=_mobile(reader, phone),
        amenity_mask=reader.labels("设施", AMENITY_LABELS, required=False),
        area_m2=reader.whole("面积（平方米）", 1_000_000),
        seats=reader.whole("座位数", 100_000),
        stars=reader.whole("星级", MAX_STARS),
        most_beautiful=reader.flag("最美驿站"),
        smart=reader.flag("智能化/全周期"),
        opened_on=_date(reader, opened),
    )
    if not reader.problems:
        check_point(latitude, longitude)
    if reader.problems:
        raise ValueError("；".join(reader.problems))
    return record


def _mobile(reader: _Reader, phone: str) -> str:
    if not phone:
        return ""
    try:
        return parse_mobile(phone)
    except ValueError as error:
        reader.problems.append(str(error))
        return phone


def _date(reader: _Reader, text: str) -> date:
    if not text:
        return date.min
    try:
        return parse_date_cell(text)
    except ValueError as error:
        reader.problems.append(f"建成日期：{error}")
        return date.min
