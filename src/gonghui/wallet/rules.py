"""The wallet's pure rules: limits, the night window, who counts as a close relative, spending
oldest first, balanced postings. No I/O.

Sources: NHSA notices on cross-province family mutual aid of the employee personal account
(2021–2026) and its transfer limits of 2025-09-17 (at most 3 transfers per wallet a day, at most
2,000 yuan each, none between 22:00 and 06:00 Beijing time; unaccepted money returns at 06:00 the
next day); Civil Code art. 1045 for close relatives (近亲属).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, Final

from gonghui.core.clock import BUSINESS_TZ
from gonghui.core.errors import DomainError
from gonghui.core.money import Fen

MAX_TRANSFER_FEN: Final = 200_000  # 2,000 yuan
MAX_TRANSFERS_PER_DAY: Final = 3
NIGHT_STARTS: Final = time(22, 0)
NIGHT_ENDS: Final = time(6, 0)
# Civil Code art. 17–18 set adulthood at 18, but the NHSA wallet asks face authentication of
# recipients from 16 on (a 16-year-old living on their own income counts as having capacity).
FACE_CHECK_AGE: Final = 16
# Our own choice (no source gives a number): five wrong 医保码 passwords in a row lock
# password verification for 30 minutes; face verification still works.
PASSWORD_MAX_FAILURES: Final = 5
PASSWORD_LOCK: Final = timedelta(minutes=30)


class RegionLevel(StrEnum):
    PROVINCE = "province"  # 省本级, or a municipality's single pool
    PREFECTURE = "prefecture"
    COUNTY = "county"  # a county-level unit administered by the province

    @property
    def label(self) -> str:
        return {"province": "省本级", "prefecture": "地市", "county": "省直管县（市）"}[self.value]


class Scheme(StrEnum):
    EMPLOYEE = "employee"
    RESIDENT = "resident"

    @property
    def label(self) -> str:
        return "职工医保" if self is Scheme.EMPLOYEE else "居民医保"


class Kinship(StrEnum):
    """Civil Code art. 1045: 配偶、父母、子女、兄弟姐妹、祖父母、外祖父母、孙子女、外孙子女."""

    SPOUSE = "spouse"
    PARENT = "parent"
    CHILD = "child"
    SIBLING = "sibling"
    GRANDPARENT = "grandparent"
    MATERNAL_GRANDPARENT = "maternal_grandparent"
    GRANDCHILD = "grandchild"
    DAUGHTERS_CHILD = "daughters_child"

    @property
    def label(self) -> str:
        return KINSHIP_LABELS[self]


KINSHIP_LABELS: Final = {
    Kinship.SPOUSE: "配偶",
    Kinship.PARENT: "父母",
    Kinship.CHILD: "子女",
    Kinship.SIBLING: "兄弟姐妹",
    Kinship.GRANDPARENT: "祖父母",
    Kinship.MATERNAL_GRANDPARENT: "外祖父母",
    Kinship.GRANDCHILD: "孙子女",
    Kinship.DAUGHTERS_CHILD: "外孙子女",
}


# A relationship records who the recipient is to the giver (the giver declares it); the
# recipient reads the same tie from the other end: the giver's 父母 is the recipient's 子女.
_SEEN_FROM_RECIPIENT: Final = {
    Kinship.SPOUSE: Kinship.SPOUSE,
    Kinship.PARENT: Kinship.CHILD,
    Kinship.CHILD: Kinship.PARENT,
    Kinship.SIBLING: Kinship.SIBLING,
    Kinship.GRANDPARENT: Kinship.GRANDCHILD,
    Kinship.GRANDCHILD: Kinship.GRANDPARENT,
    Kinship.MATERNAL_GRANDPARENT: Kinship.DAUGHTERS_CHILD,
    Kinship.DAUGHTERS_CHILD: Kinship.MATERNAL_GRANDPARENT,
}


def kinship_seen_by(declared: Kinship, *, giver: bool) -> Kinship:
    """Who the other party is to the one reading: as declared for the giver, the inverse for
    the recipient."""
    return declared if giver else _SEEN_FROM_RECIPIENT[declared]


class RelationshipStatus(StrEnum):
    PROPOSED = "proposed"  # declared by the giver, awaiting the recipient
    ACTIVE = "active"
    DISSOLVED = "dissolved"

    @property
    def label(self) -> str:
        return {"proposed": "待对方确认", "active": "已生效", "dissolved": "已解除"}[self.value]


class TransferStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    EXPIRED = "expired"  # not accepted by 06:00: returned
    VOIDED = "voided"  # the relationship ended while pending: returned

    @property
    def label(self) -> str:
        return TRANSFER_LABELS[self]


TRANSFER_LABELS: Final = {
    TransferStatus.PENDING: "待接收",
    TransferStatus.ACCEPTED: "已接收",
    TransferStatus.EXPIRED: "未接收已退回",
    TransferStatus.VOIDED: "关系解除已退回",
}


class AccountKind(StrEnum):
    FUNDING = "funding"  # outside: the employee fund's contributions to personal accounts
    PERSONAL = "personal"  # an employee's personal account (个人账户)
    HELD = "held"  # a giver's transfers awaiting acceptance
    QUOTA = "quota"  # what a recipient may spend from one giver (共济额度)
    PAYEES = "payees"  # outside: designated institutions and contribution collectors

    @property
    def external(self) -> bool:
        """Only the outside world's accounts may go negative (money enters the ledger there)."""
        return self in {AccountKind.FUNDING, AccountKind.PAYEES}


class Purpose(StrEnum):
    HOSPITAL = "hospital"
    PHARMACY = "pharmacy"
    RESIDENT_CONTRIBUTION = "resident_contribution"
    CARE_CONTRIBUTION = "care_contribution"

    @property
    def label(self) -> str:
        return PURPOSE_LABELS[self]


PURPOSE_LABELS: Final = {
    Purpose.HOSPITAL: "定点医疗机构自付费用",
    Purpose.PHARMACY: "定点零售药店自付费用",
    Purpose.RESIDENT_CONTRIBUTION: "居民医保缴费",
    Purpose.CARE_CONTRIBUTION: "长期护理保险缴费",
}


class Verification(StrEnum):
    FACE = "face"
    PASSWORD = "password"  # noqa: S105 - the name of a method, not a secret


class Refusal(StrEnum):
    """Every refusal a person can meet in the wallet: a stable code and a Chinese message."""

    REGION_NOT_OPEN = "region_not_open"
    NOT_CLOSE_RELATIVE = "not_close_relative"
    RELATIONSHIP_NOT_ACTIVE = "relationship_not_active"
    NOT_EMPLOYEE_INSURED = "not_employee_insured"
    INSURANCE_ENDED = "insurance_ended"
    AMOUNT_INVALID = "amount_invalid"
    AMOUNT_OVER_LIMIT = "amount_over_limit"
    DAILY_LIMIT = "daily_limit_reached"
    NIGHT_WINDOW = "night_window"
    PENDING_TRANSFER = "pending_transfer"
    INSUFFICIENT_BALANCE = "insufficient_balance"
    VERIFICATION_FAILED = "verification_failed"
    VERIFICATION_LOCKED = "verification_locked"
    FACE_REQUIRED = "face_required"
    COMMITMENT_REQUIRED = "commitment_required"
    SELF_RELATIONSHIP = "self_relationship"
    DUPLICATE_RELATIONSHIP = "duplicate_relationship"
    NOT_PENDING = "transfer_not_pending"
    IDEMPOTENCY_MISMATCH = "idempotency_key_reused"
    NO_WALLET = "wallet_not_open"

    @property
    def message(self) -> str:
        return REFUSAL_MESSAGES[self]


REFUSAL_MESSAGES: Final = {
    Refusal.REGION_NOT_OPEN: "转出方或接收方所在统筹区尚未开通医保钱包，暂不能办理",
    Refusal.NOT_CLOSE_RELATIVE: (
        "只能与近亲属（配偶、父母、子女、兄弟姐妹、祖父母、外祖父母、孙子女、外孙子女）建立共济关系"
    ),
    Refusal.RELATIONSHIP_NOT_ACTIVE: "您与对方尚未建立有效的共济关系",
    Refusal.NOT_EMPLOYEE_INSURED: "只有职工医保参保人才有个人账户，可以向亲属共济",
    Refusal.INSURANCE_ENDED: "参保状态已终止，不能办理",
    Refusal.AMOUNT_INVALID: "转账金额须大于0元",
    Refusal.AMOUNT_OVER_LIMIT: "单笔转账不能超过2,000元",
    Refusal.DAILY_LIMIT: "每个钱包每天最多转账3笔，今日次数已用完",
    Refusal.NIGHT_WINDOW: "每日22:00至次日06:00（北京时间）暂停转账，请在06:00后再试",
    Refusal.PENDING_TRANSFER: "您有一笔转账尚未被对方接收，接收或退回后才能再次转账",
    Refusal.INSUFFICIENT_BALANCE: "余额不足",
    Refusal.VERIFICATION_FAILED: "身份验证未通过",
    Refusal.VERIFICATION_LOCKED: (
        "医保码密码连续输错次数过多，已锁定30分钟，请稍后再试或使用人脸验证"
    ),
    Refusal.FACE_REQUIRED: "年满16周岁的被共济人须通过人脸验证",
    Refusal.COMMITMENT_REQUIRED: "请阅读并同意《共济承诺书》",
    Refusal.SELF_RELATIONSHIP: "不能与本人建立共济关系",
    Refusal.DUPLICATE_RELATIONSHIP: "双方已有共济关系",
    Refusal.NOT_PENDING: "该笔转账已处理，不能再接收",
    Refusal.IDEMPOTENCY_MISMATCH: "同一请求编号（Idempotency-Key）已用于内容不同的请求",
    Refusal.NO_WALLET: "尚未开通医保钱包",
}


class WalletRefused(DomainError):
    http_status = 409

    def __init__(self, refusal: Refusal, detail: str = "") -> None:
        super().__init__(refusal.value, refusal.message + (f"：{detail}" if detail else ""))
        self.refusal, self.detail = refusal, detail


def in_night_window(instant: datetime) -> bool:
    local = instant.astimezone(BUSINESS_TZ).time()
    return local >= NIGHT_STARTS or local < NIGHT_ENDS


def release_at(submitted: datetime) -> datetime:
    """The 06:00 Beijing time at which an unaccepted transfer returns: the first one after
    the moment of submission (the next day's, since submission is closed before 06:00)."""
    local = submitted.astimezone(BUSINESS_TZ)
    candidate = datetime.combine(local.date(), NIGHT_ENDS, tzinfo=BUSINESS_TZ)
    if candidate <= local:
        candidate = datetime.combine(local.date() + timedelta(days=1), NIGHT_ENDS, BUSINESS_TZ)
    return candidate.astimezone(UTC)


def age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def needs_face_check(birth: date, today: date) -> bool:
    return age_on(birth, today) >= FACE_CHECK_AGE


@dataclass(frozen=True)
class TransferFacts:
    """What the submit rule needs to know, gathered by the service under its row locks."""

    amount_fen: Fen
    now: datetime
    giver_region_open: bool
    recipient_region_open: bool
    relationship_active: bool
    both_insured: bool
    transfers_today: int
    has_pending: bool
    balance_fen: Fen


def transfer_refusals(facts: TransferFacts) -> list[Refusal]:
    """Every reason the transfer may not go, in the order a person should hear them."""
    checks = [
        (not facts.both_insured, Refusal.INSURANCE_ENDED),
        (not (facts.giver_region_open and facts.recipient_region_open), Refusal.REGION_NOT_OPEN),
        (not facts.relationship_active, Refusal.RELATIONSHIP_NOT_ACTIVE),
        (facts.amount_fen <= 0, Refusal.AMOUNT_INVALID),
        (facts.amount_fen > MAX_TRANSFER_FEN, Refusal.AMOUNT_OVER_LIMIT),
        (in_night_window(facts.now), Refusal.NIGHT_WINDOW),
        (facts.transfers_today >= MAX_TRANSFERS_PER_DAY, Refusal.DAILY_LIMIT),
        (facts.has_pending, Refusal.PENDING_TRANSFER),
        (
            facts.amount_fen > 0 and facts.balance_fen < facts.amount_fen,
            Refusal.INSUFFICIENT_BALANCE,
        ),
    ]
    return [refusal for failed, refusal in checks if failed]


def password_locked(failures: int, last_failure: datetime | None, now: datetime) -> bool:
    return (
        failures >= PASSWORD_MAX_FAILURES
        and last_failure is not None
        and now < last_failure + PASSWORD_LOCK
    )


@dataclass(frozen=True)
class Lot:
    """Quota a recipient received from one giver in one accepted transfer."""

    giver_id: int
    accepted_at: datetime
    transfer_id: int
    amount_fen: Fen


def remaining_lots(accepted: Sequence[Lot], balances: Mapping[int, Fen]) -> list[Lot]:
    """The lots still unspent, oldest first, from every accepted lot and each giver's quota
    balance. Since spending always takes the oldest lot first (and a dissolution takes a
    giver's whole balance), what a giver's lots have lost is always their oldest part."""
    result: list[Lot] = []
    by_giver: dict[int, list[Lot]] = {}
    for lot in sorted(accepted, key=lambda lot: (lot.accepted_at, lot.transfer_id)):
        by_giver.setdefault(lot.giver_id, []).append(lot)
    for giver_id, lots in by_giver.items():
        left = balances.get(giver_id, 0)
        for lot in reversed(lots):
            if left <= 0:
                break
            take = min(left, lot.amount_fen)
            result.append(Lot(giver_id, lot.accepted_at, lot.transfer_id, take))
            left -= take
    return sorted(result, key=lambda lot: (lot.accepted_at, lot.transfer_id))


def spend_oldest_first(lots: Sequence[Lot], amount_fen: Fen) -> list[tuple[int, Fen]]:
    """Which givers' quota pays, oldest lot first (our own rule: the money waiting longest is
    used first, so each giver's remainder is the freshest). Returns (giver_id, fen) pairs."""
    if amount_fen <= 0:
        raise WalletRefused(Refusal.AMOUNT_INVALID)
    if sum(lot.amount_fen for lot in lots) < amount_fen:
        raise WalletRefused(Refusal.INSUFFICIENT_BALANCE)
    taken: dict[int, Fen] = {}
    left = amount_fen
    for lot in sorted(lots, key=lambda lot: (lot.accepted_at, lot.transfer_id)):
        take = min(left, lot.amount_fen)
        taken[lot.giver_id] = taken.get(lot.giver_id, 0) + take
        left -= take
        if left == 0:
            break
    return list(taken.items())


def check_balanced(legs: Iterable[tuple[Any, Fen]]) -> None:
    """A posting's entries sum to zero and none is empty: money is moved, never made."""
    amounts = [amount for _account, amount in legs]
    if len(amounts) < 2 or any(amount == 0 for amount in amounts) or sum(amounts) != 0:  # noqa: PLR2004
        msg = f"unbalanced posting: {amounts}"
        raise ValueError(msg)


def request_hash(operation: str, body: Mapping[str, Any]) -> str:
    """The fingerprint of a request, to tell a retry from a different request under the same
    idempotency key: canonical JSON (sorted keys, no spaces) hashed with SHA-256."""
    canonical = json.dumps(
        {"op": operation, "body": body}, sort_keys=True, separators=(",", ":"), default=str
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def business_day_bounds(day: date) -> tuple[datetime, datetime]:
    """The UTC-comparable instants that open and close a Beijing calendar day."""
    start = datetime.combine(day, time(0), tzinfo=BUSINESS_TZ)
    return start, start + timedelta(days=1)


@dataclass(frozen=True)
class ProvinceRollout:
    province_code: str
    regions: int
    open_regions: int
    province_wide: bool


def rollout(
    regions: Iterable[tuple[str, str, bool]], *, single_pool: frozenset[str]
) -> list[ProvinceRollout]:
    """Per province, from (region code, province code, open) rows. "Province-wide" is the
    seed's 全省（自治区）域全面开通: a province or autonomous region with every region open,
    provincial pool included; a municipality, a single pool, is never counted as such."""
    counts: dict[str, list[int]] = {}
    for _code, province, is_open in regions:
        tally = counts.setdefault(province, [0, 0])
        tally[0] += 1
        tally[1] += int(is_open)
    return [
        ProvinceRollout(
            province,
            total,
            opened,
            province_wide=province not in single_pool and total > 1 and opened == total,
        )
        for province, (total, opened) in sorted(counts.items())
    ]
