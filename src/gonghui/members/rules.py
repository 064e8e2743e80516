"""Pure rules of the membership roll: identity numbers, credit codes, phones, statuses."""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

# The identity validators live in the input layer, which three modules use; the roll reads
# them from here as before.
from gonghui.core.inputs import (
    IdNumber,
    InputError,
    Sex,
    id_check_character,
    parse_credit_code,
    parse_id_number,
    parse_mobile,
    uscc_check_character,
)

# Re-exported: the roll's callers import these from here.
__all__ = [
    "IdNumber",
    "Sex",
    "id_check_character",
    "parse_credit_code",
    "parse_id_number",
    "parse_mobile",
    "uscc_check_character",
]

_E = TypeVar("_E", bound=StrEnum)


# A value that breaks a rule; the message is the Chinese reason shown to people. The same
# class as the input layer's, so that one `except` catches a bad ID number and a bad status.
InvalidValue = InputError


# Bank card numbers (银行卡号): 16 to 19 digits. The assessment groups a province's cards by a
# number made from this (`insurance.assessment.DUCKDB`), so nothing else may be a card number.
CARD_NO_LENGTHS = range(16, 20)


def parse_card_no(text: str) -> str:
    value = text.strip().replace(" ", "")
    if not (value.isascii() and value.isdigit()) or len(value) not in CARD_NO_LENGTHS:
        raise InvalidValue("卡号应为16至19位数字")
    return value


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


class ActivationSubject(StrEnum):
    """Who a one-time activation code opens an account for."""

    MEMBER = "member"  # a member on the roll; their unit's officer issues the code
    INSURED = "insured"  # a wallet-only insured person; the insurance agency issues the code


# The twenty sections (门类 A–T) of GB/T 4754-2017《国民经济行业分类》, offered in the units
# template's 行业 list; the import accepts any industry written.
INDUSTRY_SECTIONS = (
    "农、林、牧、渔业",
    "采矿业",
    "制造业",
    "电力、热力、燃气及水生产和供应业",
    "建筑业",
    "批发和零售业",
    "交通运输、仓储和邮政业",
    "住宿和餐饮业",
    "信息传输、软件和信息技术服务业",
    "金融业",
    "房地产业",
    "租赁和商务服务业",
    "科学研究和技术服务业",
    "水利、环境和公共设施管理业",
    "居民服务、修理和其他服务业",
    "教育",
    "卫生和社会工作",
    "文化、体育和娱乐业",
    "公共管理、社会保障和社会组织",
    "国际组织",
)


class ApplicationStatus(StrEnum):
    """An online application to join (网上入会), decided by the unit's union officer."""

    PENDING = "pending"
    APPROVED = "approved"
    RETURNED = "returned"

    @property
    def label(self) -> str:
        return {"pending": "待审核", "approved": "已通过", "returned": "已退回"}[self.value]
