"""What the stations API answers and accepts. Mean ratings are decimal strings ("4.25"), as
exact as the figures on the dashboard page."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from gonghui.core.pagination import Page
from gonghui.stations.dashboard import BoardLine, Dashboard, MonthSatisfaction
from gonghui.stations.evaluation import RunSummary
from gonghui.stations.finder import Found
from gonghui.stations.models import EvaluationRun, Position, RuleSetVersion, Score
from gonghui.stations.rules import Amenity, PositionType, flags_of
from gonghui.stations.scoring import FACT_NAMES, Aspect


def _types(mask: int) -> list[str]:
    return [flag.label for flag in flags_of(PositionType, mask)]


def _amenities(mask: int) -> list[str]:
    return [flag.label for flag in flags_of(Amenity, mask)]


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


class PositionOut(BaseModel):
    id: int
    code: str
    name: str
    type_mask: int  # PositionType bits: 1 文化宫, 2 职工之家, 4 驿站, 8 母婴屋, 16 书屋
    types: list[str]
    district: str
    address: str
    latitude: float
    longitude: float
    hours: str
    open_24h: bool
    operator_org: str
    responsible_person: str
    amenity_mask: int
    amenities: list[str]
    area_m2: int
    seats: int
    stars: int
    most_beautiful: bool
    smart: bool
    status: str
    status_label: str
    card_deadline: date | None

    @classmethod
    def of(cls, p: Position) -> PositionOut:
        return cls(
            id=p.id,
            code=p.code,
            name=p.name,
            type_mask=p.type_mask,
            types=_types(p.type_mask),
            district=p.district,
            address=p.address,
            latitude=p.latitude,
            longitude=p.longitude,
            hours=p.hours,
            open_24h=p.open_24h,
            operator_org=p.operator_org,
            responsible_person=p.responsible_person,
            amenity_mask=p.amenity_mask,
            amenities=_amenities(p.amenity_mask),
            area_m2=p.area_m2,
            seats=p.seats,
            stars=p.stars,
            most_beautiful=p.most_beautiful,
            smart=p.smart,
            status=p.status.value,
            status_label=p.status.label,
            card_deadline=p.card_deadline,
        )


class PositionPageOut(BaseModel):
    items: list[PositionOut]
    total: int
    page: int
    pages: int

    @classmethod
    def of(cls, page: Page[Position]) -> PositionPageOut:
        return cls(
            items=[PositionOut.of(p) for p in page.items],
            total=page.total,
            page=page.page,
            pages=page.pages,
        )


class StatusChangeOut(BaseModel):
    from_status: str | None
    to_status: str
    reason: str
    deadline: date | None
    at: datetime


class PositionDetailOut(PositionOut):
    responsible_phone: str
    history: list[StatusChangeOut]
    # A freshly signed code, valid for ten minutes: for a door screen of the operator's own.
    checkin_token: str
    checkin_token_expires_at: datetime


class NearbyOut(BaseModel):
    id: int
    name: str
    latitude: float
    longitude: float
    distance_km: float
    type_mask: int
    types: list[str]
    amenity_mask: int
    amenities: list[str]
    open_24h: bool

    @classmethod
    def of(cls, found: Found) -> NearbyOut:
        return cls(
            id=found.position_id,
            name=found.name,
            latitude=found.latitude,
            longitude=found.longitude,
            distance_km=round(found.distance_km, 3),
            type_mask=found.type_mask,
            types=_types(found.type_mask),
            amenity_mask=found.amenity_mask,
            amenities=_amenities(found.amenity_mask),
            open_24h=found.open_24h,
        )


class CheckInIn(BaseModel):
    token: str = Field(max_length=200, description="扫码所得签到码（链接中 t= 之后的部分）")
    # A member signed in checks in as themselves; anyone else gives a phone and an occupation.
    phone: str = Field("", max_length=20)
    occupation: str = Field("", max_length=64)


class CheckInOut(BaseModel):
    visit_id: int
    position_id: int
    position_name: str
    counted: bool  # false: a repeat scan within 30 minutes, folded into the earlier visit
    visited_at: datetime
    receipt: str  # proves the visit when rating it


OneToFive = Annotated[int, Field(ge=1, le=5)]


class RatingIn(BaseModel):
    receipt: str = Field(max_length=64)
    rules: OneToFive
    service: OneToFive
    environment: OneToFive
    facilities: OneToFive
    effectiveness: OneToFive
    like: bool = False
    comment: str = Field("", max_length=500)
    comment_kind: Literal["comment", "suggestion"] = "comment"


class ComplaintIn(BaseModel):
    receipt: str = Field(max_length=64)
    body: str = Field(max_length=1000, description="投诉内容")
    contact_name: str = Field("", max_length=64, description="实名投诉的姓名（匿名则留空）")
    contact_phone: str = Field("", max_length=20, description="实名投诉的手机号，用于回访")


class ComplaintOut(BaseModel):
    complaint_id: int
    position_id: int
    real_name: bool
    status: str


class RatingOut(BaseModel):
    rating_id: int
    visit_id: int
    position_id: int
    liked: bool
    commented: bool


class TallyOut(BaseModel):
    label: str
    count: int


class MonthUsageOut(BaseModel):
    month: str
    scans: int
    camera: int
    manual: int


class MonthSatisfactionOut(BaseModel):
    month: str
    ratings: int
    mean: str | None
    by_aspect: dict[str, str | None]

    @classmethod
    def of(cls, line: MonthSatisfaction) -> MonthSatisfactionOut:
        return cls(
            month=line.month,
            ratings=line.ratings,
            mean=_text(line.mean),
            by_aspect={a.value: _text(v) for a, v in line.by_aspect.items()},
        )


class BoardLineOut(BaseModel):
    position_id: int
    name: str
    district: str
    aspects: dict[str, int]
    total: int
    card: str

    @classmethod
    def of(cls, line: BoardLine) -> BoardLineOut:
        return cls(
            position_id=line.position_id,
            name=line.name,
            district=line.district,
            aspects={a.value: v for a, v in line.aspects.items()},
            total=line.total,
            card=line.card.value,
        )


class CardsOut(BaseModel):
    yellow_now: int
    red_now: int
    last_run_id: int | None
    last_period: str | None
    last_green: int
    last_yellow: int
    last_red: int


class DashboardOut(BaseModel):
    positions: int  # not closed
    by_status: dict[str, int]
    by_type: list[TallyOut]
    by_district: list[TallyOut]
    honours: list[TallyOut]
    cards: CardsOut
    usage: list[MonthUsageOut]
    satisfaction: list[MonthSatisfactionOut]
    top: list[BoardLineOut]
    bottom: list[BoardLineOut]

    @classmethod
    def of(cls, d: Dashboard) -> DashboardOut:
        run = d.cards.last_run
        return cls(
            positions=d.positions,
            by_status={status.value: count for status, count in d.by_status},
            by_type=[TallyOut(label=kind.label, count=count) for kind, count in d.by_type],
            by_district=[TallyOut(label=t.label, count=t.count) for t in d.by_district],
            honours=[TallyOut(label=t.label, count=t.count) for t in d.honours],
            cards=CardsOut(
                yellow_now=d.cards.yellow_now,
                red_now=d.cards.red_now,
                last_run_id=run.id if run else None,
                last_period=run.period_label if run else None,
                last_green=d.cards.last_green,
                last_yellow=d.cards.last_yellow,
                last_red=d.cards.last_red,
            ),
            usage=[
                MonthUsageOut(month=u.month, scans=u.scans, camera=u.camera, manual=u.manual)
                for u in d.usage
            ],
            satisfaction=[MonthSatisfactionOut.of(s) for s in d.satisfaction],
            top=[BoardLineOut.of(line) for line in d.top],
            bottom=[BoardLineOut.of(line) for line in d.bottom],
        )


class RunOut(BaseModel):
    id: int
    period: str
    period_start: date
    period_end: date
    rule_version: int | None
    evaluated: int
    green: int
    yellow: int
    red: int
    run_at: datetime

    @classmethod
    def of(cls, run: EvaluationRun, version: RuleSetVersion | None = None) -> RunOut:
        return cls(
            id=run.id,
            period=run.period_label,
            period_start=run.period_start,
            period_end=run.period_end,
            rule_version=version.version if version else None,
            evaluated=run.evaluated,
            green=run.green,
            yellow=run.yellow,
            red=run.red,
            run_at=run.run_at,
        )


class EvaluateIn(BaseModel):
    period: str = Field(max_length=16, description="YYYY-MM（月度）或 YYYY（年度）")


class EvaluateOut(BaseModel):
    run_id: int
    period: str
    evaluated: int
    green: int
    yellow: int
    red: int

    @classmethod
    def of(cls, summary: RunSummary) -> EvaluateOut:
        return cls(
            run_id=summary.run_id,
            period=summary.period,
            evaluated=summary.evaluated,
            green=summary.green,
            yellow=summary.yellow,
            red=summary.red,
        )


class ScoreOut(BaseModel):
    position_id: int
    position_name: str
    facts: dict[str, int]
    aspects: dict[str, int]
    total: int
    passed: bool
    status_before: str
    status_after: str
    card: str
    deadline: date | None

    @classmethod
    def of(cls, score: Score, name: str) -> ScoreOut:
        return cls(
            position_id=score.position_id,
            position_name=name,
            facts={f: getattr(score, f) for f in FACT_NAMES},
            aspects={a.value: getattr(score, f"score_{a.value}") for a in Aspect},
            total=score.total,
            passed=score.passed,
            status_before=score.status_before.value,
            status_after=score.status_after.value,
            card=score.card.value,
            deadline=score.deadline,
        )


class ScoreboardOut(BaseModel):
    run: RunOut
    items: list[ScoreOut]  # lowest total first
    total: int
    page: int
    pages: int
