"""Reading a plan's terms from a form or an API body: every field checked, every problem
reported together in Chinese. Blank fields keep the terms they start from."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date
from typing import TypeVar

from gonghui.core.errors import InvalidInput
from gonghui.core.inputs import InputError, parse_date, whole_number_or_none
from gonghui.core.money import parse_yuan
from gonghui.insurance.rules import SETTLEMENT_FIELDS, DayCount, PeriodKind, Terms

MAX_GROUP_SIZE = 100_000
_Choice = TypeVar("_Choice", PeriodKind, DayCount)


def read_terms(
    fields: Mapping[str, str], eligible_fields: Sequence[str], base: Terms = Terms()
) -> Terms:
    problems: list[str] = []

    def fen(name: str, label: str, current: int) -> int:
        text = fields.get(name, "").strip()
        if not text:
            return current
        try:
            return parse_yuan(text)
        except ValueError as error:
            problems.append(f"{label}：{error}")
            return current

    def choice(name: str, label: str, kind: type[_Choice], current: _Choice) -> _Choice:
        text = fields.get(name, "").strip()
        try:
            return kind(text) if text else current
        except ValueError:
            problems.append(f"请选择{label}")
            return current

    def count(name: str, label: str, current: int | None, upper: int) -> int | None:
        text = fields.get(name, "").strip()
        if not text:
            return current
        number = whole_number_or_none(text, upper)
        if number is None:
            problems.append(f"{label}应为0至{upper}的整数")
            return current
        return number

    chosen = tuple(field for field in SETTLEMENT_FIELDS if field in set(eligible_fields))
    group = count("min_group_size", "团体最低人数", base.min_group_size, MAX_GROUP_SIZE)
    terms = replace(
        base,
        threshold_fen=fen("threshold", "达标日均余额", base.threshold_fen),
        annual_cap_fen=fen("cap", "每人每年赔付上限", base.annual_cap_fen),
        deductible_fen=fen("deductible", "免赔额", base.deductible_fen),
        # A percentage with two decimals is basis points, read as yuan are read into fen.
        ratio_bp=fen("ratio", "赔付比例", base.ratio_bp),
        period_kind=choice("period", "考核周期", PeriodKind, base.period_kind),
        day_count=choice("day_count", "天数计法", DayCount, base.day_count),
        coverage_lag=count("coverage_lag", "保障期滞后期数", base.coverage_lag, 12) or 0,
        eligible_fields=chosen or base.eligible_fields,
        min_group_size=group or None,
    )
    if problems:
        raise InvalidInput("bad_terms", "；".join(problems))
    return terms


def read_day(text: str, label: str) -> date:
    try:
        return parse_date(text, label)
    except InputError as error:
        raise InvalidInput("bad_date", str(error)) from None
