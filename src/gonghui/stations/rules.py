"""Pure rules of the stations module: the vocabularies, the red/yellow card state machine and
the complaint workflow. No I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import IntFlag, StrEnum
from typing import TypeVar


class PositionType(IntFlag):
    """The five kinds of position that an integrated one (融合型阵地) merges, as bits, so that a
    position of several kinds is one integer the finder can filter with a bitwise AND."""

    CULTURAL_PALACE = 1
    WORKERS_HOME = 2
    STATION = 4
    MOTHER_BABY = 8
    BOOK_ROOM = 16

    @property
    def label(self) -> str:
        return TYPE_LABELS[self]


TYPE_LABELS = {
    PositionType.CULTURAL_PALACE: "工人文化宫",
    PositionType.WORKERS_HOME: "职工之家",
    PositionType.STATION: "工会驿站",
    PositionType.MOTHER_BABY: "母婴爱心屋",
    PositionType.BOOK_ROOM: "职工书屋",
}


class Amenity(IntFlag):
    """The amenity checklist, after the "六有/八有" lists that station standards publish
    (hot and cold drinking water, microwave, fridge, air conditioning, seats, first-aid kit,
    phone charging, toilet, Wi-Fi, books, AED)."""

    WATER = 1
    MICROWAVE = 2
    FRIDGE = 4
    AIR_CONDITIONING = 8
    SEATS = 16
    FIRST_AID = 32
    CHARGING = 64
    TOILET = 128
    WIFI = 256
    BOOKS = 512
    AED = 1024

    @property
    def label(self) -> str:
        return AMENITY_LABELS[self]


AMENITY_LABELS = {
    Amenity.WATER: "冷热饮水",
    Amenity.MICROWAVE: "微波炉",
    Amenity.FRIDGE: "冰箱",
    Amenity.AIR_CONDITIONING: "空调",
    Amenity.SEATS: "桌椅",
    Amenity.FIRST_AID: "急救药箱",
    Amenity.CHARGING: "手机充电",
    Amenity.TOILET: "卫生间",
    Amenity.WIFI: "无线网络",
    Amenity.BOOKS: "图书",
    Amenity.AED: "AED除颤仪",
}
CHECKLIST_SIZE = len(AMENITY_LABELS)


F = TypeVar("F", bound=IntFlag)


def flags_of(flag_class: type[F], mask: int) -> list[F]:
    return [member for member in flag_class if member.value & mask]


def parse_labels(labels: dict[PositionType, str] | dict[Amenity, str], text: str, what: str) -> int:
    """A spreadsheet cell such as "职工之家、工会驿站" → a mask; unknown names are refused."""
    by_label: dict[str, IntFlag] = {label: flag for flag, label in labels.items()}
    names = [part.strip() for part in text.replace("，", "、").replace(",", "、").split("、")]
    mask = 0
    for name in filter(None, names):
        if name not in by_label:
            raise ValueError(f"{what}“{name}”不在清单中（可选：{'、'.join(by_label)}）")
        mask |= by_label[name].value
    return mask


class Honour(StrEnum):
    MOST_BEAUTIFUL = "most_beautiful"
    SMART = "smart"

    @property
    def label(self) -> str:
        return {"most_beautiful": "最美驿站", "smart": "智能化/全周期"}[self.value]


class PositionStatus(StrEnum):
    ACTIVE = "active"
    YELLOW = "yellow"
    RED = "red"
    CLOSED = "closed"

    @property
    def label(self) -> str:
        return STATUS_LABELS[self]


STATUS_LABELS = {
    PositionStatus.ACTIVE: "正常运行",
    PositionStatus.YELLOW: "黄牌整改中",
    PositionStatus.RED: "红牌（已摘牌）",
    PositionStatus.CLOSED: "已关闭",
}
# Positions that still receive workers: a yellow card means "put it right", not "shut".
OPEN_STATUSES = (PositionStatus.ACTIVE, PositionStatus.YELLOW)


class Card(StrEnum):
    """What an evaluation run leaves a position holding."""

    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"

    @property
    def label(self) -> str:
        return {"green": "绿牌（达标）", "yellow": "黄牌", "red": "红牌"}[self.value]


@dataclass(frozen=True)
class CardStep:
    status: PositionStatus
    deadline: date | None
    card: Card


def card_step(
    status: PositionStatus,
    *,
    passed: bool,
    deadline: date | None,
    period_end: date,
    decided_on: date,
    rectification_days: int,
) -> CardStep:
    """The red/yellow card rule (after Fushun's practice): failing gives a yellow card and a
    deadline to put it right; failing again once the deadline has passed gives a red card and
    the position loses its status; passing after a yellow card clears it. A period that ends
    before the deadline does not judge the rectification yet."""
    if status is PositionStatus.ACTIVE:
        if passed:
            return CardStep(PositionStatus.ACTIVE, None, Card.GREEN)
        return CardStep(
            PositionStatus.YELLOW, decided_on + timedelta(days=rectification_days), Card.YELLOW
        )
    if status is PositionStatus.YELLOW:
        if deadline is not None and period_end < deadline:
            return CardStep(PositionStatus.YELLOW, deadline, Card.YELLOW)
        if passed:
            return CardStep(PositionStatus.ACTIVE, None, Card.GREEN)
        return CardStep(PositionStatus.RED, None, Card.RED)
    msg = f"a {status.value} position is not evaluated"
    raise ValueError(msg)


# Hand-set changes outside an evaluation: who may move a position where.
MANUAL_TRANSITIONS = {
    PositionStatus.ACTIVE: {PositionStatus.CLOSED},
    PositionStatus.YELLOW: {PositionStatus.CLOSED},
    PositionStatus.RED: {PositionStatus.CLOSED},
    PositionStatus.CLOSED: set[PositionStatus](),
}


class AppealStatus(StrEnum):
    PENDING = "pending"
    GRANTED = "granted"
    DISMISSED = "dismissed"

    @property
    def label(self) -> str:
        return {"pending": "待处理", "granted": "申诉成立", "dismissed": "维持原判"}[self.value]


APPEAL_DAYS = 15  # days after a card is issued within which its position may appeal


class ComplaintStatus(StrEnum):
    OPEN = "open"
    CALLED_BACK = "called_back"
    CLOSED = "closed"

    @property
    def label(self) -> str:
        return {"open": "待回访", "called_back": "已回访", "closed": "已办结"}[self.value]


COMPLAINT_TRANSITIONS = {
    ComplaintStatus.OPEN: {ComplaintStatus.CALLED_BACK, ComplaintStatus.CLOSED},
    ComplaintStatus.CALLED_BACK: {ComplaintStatus.CLOSED},
    ComplaintStatus.CLOSED: set[ComplaintStatus](),
}


def complaint_step(
    current: ComplaintStatus, new: ComplaintStatus, *, real_name: bool
) -> ComplaintStatus:
    """Every real-name complaint gets a call-back before it may be closed."""
    if new not in COMPLAINT_TRANSITIONS[current]:
        raise ValueError(f"投诉状态不能从“{current.label}”改为“{new.label}”")
    if new is ComplaintStatus.CLOSED and real_name and current is ComplaintStatus.OPEN:
        raise ValueError("实名投诉须先回访，再办结")
    return new


class FeedbackKind(StrEnum):
    LIKE = "like"
    COMMENT = "comment"
    SUGGESTION = "suggestion"

    @property
    def label(self) -> str:
        return {"like": "点赞", "comment": "留言", "suggestion": "建议"}[self.value]


class CountSource(StrEnum):
    """Head counts that are not QR scans: reported apart, since they are measured differently."""

    CAMERA = "camera"
    MANUAL = "manual"

    @property
    def label(self) -> str:
        return {"camera": "客流摄像头", "manual": "人工登记"}[self.value]


class VisitorKind(StrEnum):
    MEMBER = "member"
    VISITOR = "visitor"


DUPLICATE_WINDOW = timedelta(minutes=30)  # repeat scans by one person within it count once


class VehicleService(StrEnum):
    """What a mobile service vehicle brings to a work site (the Zhangjiagang article)."""

    HAIRCUT = "haircut"
    SAFETY_QUIZ = "safety_quiz"
    GIFTS = "gifts"
    COUPLETS = "couplets"
    PAPER_CUTTING = "paper_cutting"
    DUMPLINGS = "dumplings"
    GAMES = "games"
    CONSULTATION = "consultation"

    @property
    def label(self) -> str:
        return SERVICE_LABELS[self]


SERVICE_LABELS = {
    VehicleService.HAIRCUT: "义务理发",
    VehicleService.SAFETY_QUIZ: "安全知识竞答",
    VehicleService.GIFTS: "送礼包红包",
    VehicleService.COUPLETS: "写对联",
    VehicleService.PAPER_CUTTING: "剪窗花",
    VehicleService.DUMPLINGS: "包饺子",
    VehicleService.GAMES: "套圈游戏",
    VehicleService.CONSULTATION: "法律与健康咨询",
}


class TripStatus(StrEnum):
    SCHEDULED = "scheduled"
    DONE = "done"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        return {"scheduled": "已排期", "done": "已完成", "cancelled": "已取消"}[self.value]
