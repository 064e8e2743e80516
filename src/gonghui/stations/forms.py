"""What the staff and manager pages post, read into what the services take, with a Chinese
message for every bad field. The position form goes through the import's own reader
(`records.read_position`), so a form and a spreadsheet row accept and refuse alike."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from gonghui.core.errors import InvalidInput
from gonghui.core.inputs import InputError, input_error, parse_date, whole_number_or_none
from gonghui.stations.models import Position
from gonghui.stations.records import PositionRecord, read_position
from gonghui.stations.rules import (
    AMENITY_LABELS,
    TYPE_LABELS,
    Amenity,
    PositionType,
    flags_of,
)
from gonghui.stations.scoring import RuleSet

# Form field → the template column it fills (see records.HEADERS).
TEXT_FIELDS = {
    "code": "阵地编号",
    "name": "阵地名称",
    "address": "地址",
    "district": "区县",
    "latitude": "纬度",
    "longitude": "经度",
    "hours": "开放时间",
    "operator_org": "运营单位",
    "responsible_person": "负责人",
    "responsible_phone": "负责人电话",
    "area_m2": "面积（平方米）",
    "seats": "座位数",
    "stars": "星级",
    "opened_on": "建成日期",
}
FLAG_FIELDS = {"open_24h": "24小时开放", "most_beautiful": "最美驿站", "smart": "智能化/全周期"}
MAX_NUMBER_CHARS = 12  # longer than any count a form needs; refused before int() sees it


class Fields(Mapping[str, str]):
    """A posted form: the last value of each single field, and every value of a repeated one
    (checkboxes). Files and absent fields read as empty."""

    def __init__(self, items: Sequence[tuple[str, object]]) -> None:
        self._all: dict[str, list[str]] = {}
        for key, value in items:
            if isinstance(value, str):
                self._all.setdefault(key, []).append(value)

    def __getitem__(self, key: str) -> str:
        return self._all[key][-1]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all)

    def __len__(self) -> int:
        return len(self._all)

    def text(self, key: str) -> str:
        return self.get(key, "").strip()

    def every(self, key: str) -> list[str]:
        return list(self._all.get(key, []))


def _mask(values: list[str], known: set[int]) -> int:
    mask = 0
    for value in values:
        if (flag := whole_number_or_none(value)) in known:
            mask |= flag
    return mask


@dataclass
class PositionForm:
    """The position form as the person filled it in, kept to show it again on an error."""

    texts: dict[str, str] = field(default_factory=dict)
    type_mask: int = 0
    amenity_mask: int = 0
    flags: dict[str, bool] = field(default_factory=dict)

    @classmethod
    def read(cls, posted: Fields, *, code: str | None = None) -> PositionForm:
        """`code` fixes the code of a position being edited: the code is what `save_position`
        finds it by, so an edit must never change it (that would create another)."""
        texts = {name: posted.text(name) for name in TEXT_FIELDS}
        if code is not None:
            texts["code"] = code
        return cls(
            texts,
            _mask(posted.every("types"), {flag.value for flag in PositionType}),
            _mask(posted.every("amenities"), {flag.value for flag in Amenity}),
            {name: posted.text(name) in {"1", "on", "yes"} for name in FLAG_FIELDS},
        )

    @classmethod
    def of(cls, position: Position) -> PositionForm:
        texts = {name: str(getattr(position, name)) for name in TEXT_FIELDS}
        if position.opened_on == date.min:
            texts["opened_on"] = ""
        return cls(
            texts,
            position.type_mask,
            position.amenity_mask,
            {name: bool(getattr(position, name)) for name in FLAG_FIELDS},
        )

    def record(self) -> PositionRecord:
        values = {header: self.texts.get(name, "") for name, header in TEXT_FIELDS.items()}
        values["阵地类型"] = "、".join(
            TYPE_LABELS[f] for f in flags_of(PositionType, self.type_mask)
        )
        values["设施"] = "、".join(AMENITY_LABELS[f] for f in flags_of(Amenity, self.amenity_mask))
        for name, header in FLAG_FIELDS.items():
            values[header] = "是" if self.flags.get(name) else "否"
        try:
            return read_position(values)
        except ValueError as error:
            raise InvalidInput("bad_position", str(error)) from None


def whole_number(text: str, label: str) -> int:
    value = text.strip()
    digits = value.removeprefix("-")
    if not digits.isdigit() or len(digits) > MAX_NUMBER_CHARS or not digits.isascii():
        raise InvalidInput("bad_number", f"“{label}”应为整数，现为“{value}”")
    return int(value)


def day(text: str, label: str) -> date:
    try:
        return parse_date(text, label)
    except InputError as error:
        raise input_error("bad_date", error) from None


# The rule-set form: each field of `RuleSet`, labelled for people, with its unit.
RULE_LABELS = {
    "weight_rules": ("制度明权重", "%"),
    "weight_service": ("服务精权重", "%"),
    "weight_environment": ("环境美权重", "%"),
    "weight_facilities": ("设施全权重", "%"),
    "weight_effectiveness": ("效能佳权重", "%"),
    "usage_target_per_day": ("日均使用人次满分目标", "人次/开放日"),
    "activities_target_per_30_days": ("活动频次满分目标", "场/30个开放日"),
    "rating_share_pct": ("职工评价占比", "%"),
    "no_rating_score": ("无人评价时的得分", "分"),
    "pass_total": ("达标总分", "分"),
    "aspect_floor": ("单项底线分", "分"),
    "rectification_days": ("黄牌整改期限", "天"),
}


def read_rule_set(posted: Mapping[str, str]) -> RuleSet:
    """Every field an integer, then `RuleSet.problems`; all problems reported at once."""
    values: dict[str, int] = {}
    problems: list[str] = []
    for name, (label, _unit) in RULE_LABELS.items():
        try:
            values[name] = whole_number(posted.get(name, ""), label)
        except InvalidInput as error:
            problems.append(error.message)
    if problems:
        raise InvalidInput("bad_rules", "；".join(problems))
    return RuleSet(**values)
