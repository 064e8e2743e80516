"""Pure rules of the membership roll: identity numbers, credit codes, phones, statuses."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import TypeVar

_E = TypeVar("_E", bound=StrEnum)


class InvalidValue(ValueError):
    """A value that breaks a rule; the message is the Chinese reason shown to people."""


class Sex(StrEnum):
    MALE = "male"
    FEMALE = "female"

    @property
    def label(self) -> str:
        return "男" if self is Sex.MALE else "女"


class PostType(StrEnum):
    # The retirement reform treats women differently by post: 管理技术岗 retire at the
    # "female55" rules, 生产操作岗 at the "female50" ones.
    MANAGEMENT_TECHNICAL = "management_technical"
    PRODUCTION = "production"

    @property
    def label(self) -> str:
        return POST_TYPE_LABELS[self]


POST_TYPE_LABELS = {PostType.MANAGEMENT_TECHNICAL: "管理技术岗", PostType.PRODUCTION: "生产操作岗"}


class EmploymentStatus(StrEnum):
    EMPLOYED = "employed"
    RETIRED = "retired"
    REHIRED = "rehired"
    EARLY_LEAVE = "early_leave"

    @property
    def label(self) -> str:
        return EMPLOYMENT_LABELS[self]


EMPLOYMENT_LABELS = {
    EmploymentStatus.EMPLOYED: "在职",
    EmploymentStatus.RETIRED: "退休",
    EmploymentStatus.REHIRED: "返聘",
    EmploymentStatus.EARLY_LEAVE: "内退",
}


class MembershipStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    TRANSFERRED_OUT = "transferred_out"
    WITHDRAWN = "withdrawn"

    @property
    def label(self) -> str:
        return MEMBERSHIP_LABELS[self]


MEMBERSHIP_LABELS = {
    MembershipStatus.ACTIVE: "在会",
    MembershipStatus.SUSPENDED: "暂停",
    MembershipStatus.TRANSFERRED_OUT: "已转出",
    MembershipStatus.WITHDRAWN: "已退会",
}

# A withdrawn member re-joins as a new application, not by flipping the status back.
MEMBERSHIP_TRANSITIONS: dict[MembershipStatus, frozenset[MembershipStatus]] = {
    MembershipStatus.ACTIVE: frozenset(
        {MembershipStatus.SUSPENDED, MembershipStatus.TRANSFERRED_OUT, MembershipStatus.WITHDRAWN}
    ),
    MembershipStatus.SUSPENDED: frozenset({MembershipStatus.ACTIVE, MembershipStatus.WITHDRAWN}),
    MembershipStatus.TRANSFERRED_OUT: frozenset({MembershipStatus.ACTIVE}),
    MembershipStatus.WITHDRAWN: frozenset(),
}


class CardStatus(StrEnum):
    ACTIVE = "active"
    FROZEN = "frozen"
    CLOSED = "closed"

    @property
    def label(self) -> str:
        return {"active": "正常", "frozen": "冻结", "closed": "已销户"}[self.value]


def parse_post_type(text: str) -> PostType:
    return _by_label(POST_TYPE_LABELS, text, "岗位类型")


def parse_employment_status(text: str) -> EmploymentStatus:
    return _by_label(EMPLOYMENT_LABELS, text, "在职状态")


def _by_label(labels: dict[_E, str], text: str, what: str) -> _E:
    for value, label in labels.items():
        if text.strip() in {label, value.value}:
            return value
    choices = "、".join(labels.values())
    raise InvalidValue(f"{what}“{text}”不正确，应为：{choices}")


# --- 居民身份证号 (GB 11643-1999) ---------------------------------------------------------

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID_SHAPE = re.compile(r"^\d{17}[\dX]$")
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


def parse_id_number(text: str, *, today: date) -> IdNumber:
    value = text.strip().upper()
    if not _ID_SHAPE.match(value):
        raise InvalidValue("身份证号应为18位，前17位为数字，末位为数字或X")
    if int(value[:2]) not in _PROVINCE_CODES:
        raise InvalidValue("身份证号的地区码不正确")
    try:
        birth = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise InvalidValue("身份证号中的出生日期不存在") from None
    if birth > today or birth.year < 1900:  # noqa: PLR2004 - no living member was born earlier
        raise InvalidValue("身份证号中的出生日期不合理")
    if id_check_character(value[:17]) != value[17]:
        raise InvalidValue("身份证号校验位错误")
    sex = Sex.MALE if int(value[16]) % 2 else Sex.FEMALE
    return IdNumber(value, birth, sex)


# --- 统一社会信用代码 (GB 32100-2015) ------------------------------------------------------

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
    value = text.strip().upper()
    if not _USCC_SHAPE.match(value):
        raise InvalidValue("统一社会信用代码应为18位数字或大写字母（不含I、O、Z、S、V）")
    if uscc_check_character(value[:17]) != value[17]:
        raise InvalidValue("统一社会信用代码校验位错误")
    return value


# --- phones ------------------------------------------------------------------------------

_MOBILE = re.compile(r"^1[3-9]\d{9}$")


def parse_mobile(text: str) -> str:
    value = text.strip().replace(" ", "").replace("-", "").removeprefix("+86")
    if not _MOBILE.match(value):
        raise InvalidValue("手机号应为11位中国大陆手机号码")
    return value


# A closed card stays closed: the bank issues a new card number instead.
CARD_TRANSITIONS: dict[CardStatus, frozenset[CardStatus]] = {
    CardStatus.ACTIVE: frozenset({CardStatus.FROZEN, CardStatus.CLOSED}),
    CardStatus.FROZEN: frozenset({CardStatus.ACTIVE, CardStatus.CLOSED}),
    CardStatus.CLOSED: frozenset(),
}


def check_card_transition(current: CardStatus, new: CardStatus) -> None:
    if new not in CARD_TRANSITIONS[current]:
        raise InvalidValue(f"会员卡状态不能从“{current.label}”变为“{new.label}”")


def check_membership_transition(current: MembershipStatus, new: MembershipStatus) -> None:
    if new not in MEMBERSHIP_TRANSITIONS[current]:
        raise InvalidValue(f"会籍状态不能从“{current.label}”变为“{new.label}”")
