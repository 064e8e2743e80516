"""The five-aspect evaluation (制度明、服务精、环境美、设施全、效能佳) as pure integer arithmetic.

The same formulas run twice: in Python (`score`, for one position and for the property tests)
and as SQL over every position at once (`aspect_columns`, `total_column`). Both are written
once, over a tiny set of operations (`_Ops`), so that they cannot drift apart; the property
tests hold them to the same answers anyway. Integers only, so a score is reproduced exactly
from its recorded facts and its rule-set version on any database.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from enum import StrEnum
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, case, literal

from gonghui.stations.rules import CHECKLIST_SIZE


class Aspect(StrEnum):
    RULES = "rules"
    SERVICE = "service"
    ENVIRONMENT = "environment"
    FACILITIES = "facilities"
    EFFECTIVENESS = "effectiveness"

    @property
    def label(self) -> str:
        return ASPECT_LABELS[self]


ASPECT_LABELS = {
    Aspect.RULES: "制度明",
    Aspect.SERVICE: "服务精",
    Aspect.ENVIRONMENT: "环境美",
    Aspect.FACILITIES: "设施全",
    Aspect.EFFECTIVENESS: "效能佳",
}
# What a visitor is asked, in plain words, for each aspect: a courier can say whether the staff
# were kind, not whether "服务精" holds. Each answer still scores its own aspect.
VISITOR_QUESTIONS = {
    Aspect.RULES: "开放时间、服务项目公示清楚",
    Aspect.SERVICE: "工作人员服务态度",
    Aspect.ENVIRONMENT: "环境干净整洁",
    Aspect.FACILITIES: "设施齐全好用（饮水、充电、休息等）",
    Aspect.EFFECTIVENESS: "解决了我的需要",
}
STAR_WORDS = {5: "很满意", 4: "满意", 3: "一般", 2: "不满意", 1: "很不满意"}
FULL = 100
# The highest targets a rule set may set (ours): far above any position's day (a busy
# district centre sees hundreds), low enough that a date or a phone number typed into the
# field (20250203) is refused instead of failing every position.
MAX_USAGE_TARGET = 10_000
MAX_ACTIVITIES_TARGET = 300  # ten a day


@dataclass(frozen=True)
class RuleSet:
    """The weights and thresholds of one rule-set version. No public rule fixes usage
    thresholds (see domain/stations.md): these defaults are ours, labelled as such."""

    weight_rules: int = 15
    weight_service: int = 20
    weight_environment: int = 15
    weight_facilities: int = 20
    weight_effectiveness: int = 30
    # Visits (scans and head counts) per open day that earn full marks for effectiveness.
    usage_target_per_day: int = 6
    # Activities per 30 open days that earn full marks for service.
    activities_target_per_30_days: int = 2
    # Share (%) of an aspect that comes from workers' 1–5 ratings; the rest from the data.
    rating_share_pct: int = 40
    # A rating aspect nobody rated scores this: neither rewarded nor punished much.
    no_rating_score: int = 60
    pass_total: int = 60
    # Fushun's "mandatory basic points": any one aspect below this fails the position.
    aspect_floor: int = 30
    rectification_days: int = 30

    def problems(self) -> list[str]:
        weights = [self.weight_rules, self.weight_service, self.weight_environment]
        weights += [self.weight_facilities, self.weight_effectiveness]
        checks = (
            ("五项权重之和应为100", sum(weights) != FULL or min(weights) < 0),
            (
                f"日均使用人次目标应为1至{MAX_USAGE_TARGET:,}",
                not 1 <= self.usage_target_per_day <= MAX_USAGE_TARGET,
            ),
            (
                f"活动频次目标应为1至{MAX_ACTIVITIES_TARGET}",
                not 1 <= self.activities_target_per_30_days <= MAX_ACTIVITIES_TARGET,
            ),
            ("评价占比应在0至100之间", not 0 <= self.rating_share_pct <= FULL),
            ("无人评价时的得分应在0至100之间", not 0 <= self.no_rating_score <= FULL),
            ("达标总分应在0至100之间", not 0 <= self.pass_total <= FULL),
            ("单项底线分应在0至100之间", not 0 <= self.aspect_floor <= FULL),
            ("整改期限应为1至365天", not 1 <= self.rectification_days <= 365),  # noqa: PLR2004
        )
        return [message for message, bad in checks if bad]

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RuleSet:
        known = {field.name for field in fields(cls)}
        return cls(**{key: int(value) for key, value in values.items() if key in known})


@dataclass(frozen=True)
class Facts:
    """What the records say of one position over one period."""

    open_days: int
    scans: int = 0
    counted: int = 0
    activities: int = 0
    ratings: int = 0
    rating_rules: int = 0
    rating_service: int = 0
    rating_environment: int = 0
    rating_facilities: int = 0
    rating_effectiveness: int = 0
    amenities: int = 0
    complaints: int = 0
    complaints_closed: int = 0


FACT_NAMES = tuple(field.name for field in fields(Facts))

N = TypeVar("N")


@dataclass(frozen=True)
class _Ops(Generic[N]):
    div: Callable[[N, int | N], N]
    cap: Callable[[N], N]  # at most FULL
    if_zero: Callable[[N, N | int, N | int], N]  # (test, value when zero, value otherwise)


def _aspects(f: dict[str, Any], rules: RuleSet, ops: _Ops[Any]) -> dict[Aspect, Any]:
    def rating(total: Any) -> Any:
        count = f["ratings"]
        # A 1–5 rating mapped onto 0–100: 1 is 0, 5 is 100.
        return ops.if_zero(count, rules.no_rating_score, ops.div((total - count) * 100, count * 4))

    def blend(data: Any, rated: Any) -> Any:
        share = rules.rating_share_pct
        return ops.div(data * (FULL - share) + rated * share, FULL)

    closed = ops.if_zero(
        f["complaints"], FULL, ops.div(f["complaints_closed"] * 100, f["complaints"])
    )
    activity = ops.cap(
        ops.div(f["activities"] * 100 * 30, f["open_days"] * rules.activities_target_per_30_days)
    )
    usage = ops.cap(
        ops.div((f["scans"] + f["counted"]) * 100, f["open_days"] * rules.usage_target_per_day)
    )
    facilities = ops.div(f["amenities"] * 100, CHECKLIST_SIZE)
    return {
        Aspect.RULES: blend(closed, rating(f["rating_rules"])),
        Aspect.SERVICE: blend(activity, rating(f["rating_service"])),
        Aspect.ENVIRONMENT: rating(f["rating_environment"]),
        Aspect.FACILITIES: blend(facilities, rating(f["rating_facilities"])),
        Aspect.EFFECTIVENESS: blend(usage, rating(f["rating_effectiveness"])),
    }


def _weights(rules: RuleSet) -> dict[Aspect, int]:
    return {
        Aspect.RULES: rules.weight_rules,
        Aspect.SERVICE: rules.weight_service,
        Aspect.ENVIRONMENT: rules.weight_environment,
        Aspect.FACILITIES: rules.weight_facilities,
        Aspect.EFFECTIVENESS: rules.weight_effectiveness,
    }


@dataclass(frozen=True)
class Score:
    aspects: dict[Aspect, int]
    total: int
    passed: bool


_PY: _Ops[int] = _Ops(
    # Python evaluates both branches of `if_zero`; the one divided by zero is then discarded.
    div=lambda a, b: a // b if b else 0,
    cap=lambda a: min(a, FULL),
    if_zero=lambda test, zero, other: zero if test == 0 else other,
)


def score(facts: Facts, rules: RuleSet) -> Score:
    if facts.open_days <= 0:
        msg = "a position is scored over at least one open day"
        raise ValueError(msg)
    aspects = _aspects(asdict(facts), rules, _PY)
    total = sum(aspects[a] * w for a, w in _weights(rules).items()) // FULL
    passed = total >= rules.pass_total and min(aspects.values()) >= rules.aspect_floor
    return Score(aspects, total, passed)


# --- The same formulas as SQL ----------

_SQL: _Ops[ColumnElement[int]] = _Ops(
    # Integer operands: SQLAlchemy renders `//` as the database's integer division.
    div=lambda a, b: a // b,
    cap=lambda a: case((a > FULL, literal(FULL)), else_=a),
    if_zero=lambda test, zero, other: case((test == 0, zero), else_=other),
)


def aspect_columns(
    facts: dict[str, ColumnElement[int]], rules: RuleSet
) -> dict[Aspect, ColumnElement[int]]:
    """Each aspect's score as a SQL expression over columns named as `Facts` fields."""
    return _aspects(facts, rules, _SQL)


def total_column(aspects: dict[Aspect, ColumnElement[int]], rules: RuleSet) -> ColumnElement[int]:
    weighted = [aspects[a] * w for a, w in _weights(rules).items()]
    total = weighted[0]
    for term in weighted[1:]:
        total = total + term
    return total // FULL


def passed_column(
    aspects: dict[Aspect, ColumnElement[int]], total: ColumnElement[int], rules: RuleSet
) -> ColumnElement[bool]:
    condition = total >= rules.pass_total
    for column in aspects.values():
        condition = condition & (column >= rules.aspect_floor)
    return condition
