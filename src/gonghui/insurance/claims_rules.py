"""Pure rules of claims: what is payable, which documents are missing, the statutory clocks,
and which state may follow which. No I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum

from gonghui.core.money import Fen, format_fen, round_half_up_to_fen
from gonghui.insurance.rules import SETTLEMENT_FIELDS, Terms


class ClaimStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    DOCUMENTS_PENDING = "documents_pending"
    UNDER_REVIEW = "under_review"
    APPROVED = "approved"
    PARTIALLY_APPROVED = "partially_approved"
    REJECTED = "rejected"
    PAID = "paid"
    WITHDRAWN = "withdrawn"

    @property
    def label(self) -> str:
        return CLAIM_STATUS_LABELS[self]


CLAIM_STATUS_LABELS = {
    ClaimStatus.DRAFT: "草稿",
    ClaimStatus.SUBMITTED: "已提交",
    ClaimStatus.DOCUMENTS_PENDING: "待补材料",
    ClaimStatus.UNDER_REVIEW: "审核中",
    ClaimStatus.APPROVED: "已核准",
    ClaimStatus.PARTIALLY_APPROVED: "部分核准",
    ClaimStatus.REJECTED: "已拒赔",
    ClaimStatus.PAID: "已赔付",
    ClaimStatus.WITHDRAWN: "已撤回",
}

_OPEN = frozenset(
    {
        ClaimStatus.DRAFT,
        ClaimStatus.SUBMITTED,
        ClaimStatus.DOCUMENTS_PENDING,
        ClaimStatus.UNDER_REVIEW,
    }
)
TRANSITIONS: dict[ClaimStatus, frozenset[ClaimStatus]] = {
    ClaimStatus.DRAFT: frozenset({ClaimStatus.SUBMITTED, ClaimStatus.WITHDRAWN}),
    ClaimStatus.SUBMITTED: frozenset(
        {ClaimStatus.DOCUMENTS_PENDING, ClaimStatus.UNDER_REVIEW, ClaimStatus.WITHDRAWN}
    ),
    ClaimStatus.DOCUMENTS_PENDING: frozenset({ClaimStatus.UNDER_REVIEW, ClaimStatus.WITHDRAWN}),
    ClaimStatus.UNDER_REVIEW: frozenset(
        {
            ClaimStatus.APPROVED,
            ClaimStatus.PARTIALLY_APPROVED,
            ClaimStatus.REJECTED,
            ClaimStatus.WITHDRAWN,
        }
    ),
    ClaimStatus.APPROVED: frozenset({ClaimStatus.PAID}),
    ClaimStatus.PARTIALLY_APPROVED: frozenset({ClaimStatus.PAID}),
    ClaimStatus.REJECTED: frozenset(),
    ClaimStatus.PAID: frozenset(),
    ClaimStatus.WITHDRAWN: frozenset(),
}


def is_open(status: ClaimStatus) -> bool:
    return status in _OPEN


class ClaimRuleError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def check_transition(current: ClaimStatus, new: ClaimStatus) -> None:
    if new not in TRANSITIONS[current]:
        raise ClaimRuleError("bad_transition", f"理赔申请不能从“{current.label}”变为“{new.label}”")


class DocumentKind(StrEnum):
    ID_CARD = "id_card"
    BANK_CARD = "bank_card"
    INVOICE = "invoice"
    FEE_LIST = "fee_list"
    DISCHARGE_SUMMARY = "discharge_summary"
    SETTLEMENT_SHEET = "settlement_sheet"

    @property
    def label(self) -> str:
        return DOCUMENT_LABELS[self]


# The claim packet of the domain note: every one is required.
DOCUMENT_LABELS = {
    DocumentKind.ID_CARD: "身份证",
    DocumentKind.BANK_CARD: "收款银行卡",
    DocumentKind.INVOICE: "住院发票",
    DocumentKind.FEE_LIST: "费用清单",
    DocumentKind.DISCHARGE_SUMMARY: "出院小结",
    DocumentKind.SETTLEMENT_SHEET: "医保结算单",
}


# A line on each document, shown before the claim form so the member gathers them first.
DOCUMENT_HINTS = {
    DocumentKind.ID_CARD: "申请人身份证正反两面，拍照即可",
    DocumentKind.BANK_CARD: "收取赔款的本人银行卡或会员卡正面，卡号清楚",
    DocumentKind.INVOICE: "医院开具的住院收费票据；电子票据可直接上传 PDF",
    DocumentKind.FEE_LIST: "住院费用明细清单，出院时在医院收费处打印",
    DocumentKind.DISCHARGE_SUMMARY: "出院记录或出院小结，写有诊断和住院日期",
    DocumentKind.SETTLEMENT_SHEET: "基本医保结算单，写有统筹基金支付、个人自付等金额",
}


def missing_documents(present: Iterable[DocumentKind]) -> list[DocumentKind]:
    have = set(present)
    return [kind for kind in DocumentKind if kind not in have]


def missing_notice(missing: list[DocumentKind]) -> str:
    """One notice listing everything missing at once (保险法 art. 22: 一次性通知)."""
    return "请一次性补充以下材料：" + "、".join(kind.label for kind in missing)


class RejectionCode(StrEnum):
    NOT_COVERED = "not_covered"
    NOT_INPATIENT = "not_inpatient"
    DUPLICATE = "duplicate"
    DOCUMENTS_INVALID = "documents_invalid"
    CAP_EXHAUSTED = "cap_exhausted"
    TIME_BARRED = "time_barred"
    OTHER = "other"

    @property
    def label(self) -> str:
        return REJECTION_LABELS[self]


REJECTION_LABELS = {
    RejectionCode.NOT_COVERED: "入院日期不在保障期内",
    RejectionCode.NOT_INPATIENT: "非住院医疗费用",
    RejectionCode.DUPLICATE: "重复报销",
    RejectionCode.DOCUMENTS_INVALID: "材料不真实或不完整",
    RejectionCode.CAP_EXHAUSTED: "年度赔付额度已用完",
    RejectionCode.TIME_BARRED: "超过两年索赔时效",
    RejectionCode.OTHER: "其他原因",
}


@dataclass(frozen=True)
class CalculationLine:
    label: str
    amount_fen: Fen


@dataclass(frozen=True)
class Adjudication:
    eligible_fen: Fen
    payable_fen: Fen
    remaining_before_fen: Fen
    remaining_after_fen: Fen
    lines: tuple[CalculationLine, ...]


def adjudicate(
    settlement: Mapping[str, Fen], terms: Terms, used_this_year_fen: Fen
) -> Adjudication:
    """payable = min(eligible × ratio − deductible, remaining annual limit), never below zero,
    shown line by line. Eligible is the sum of the plan's settlement-sheet fields."""
    lines = [
        CalculationLine(SETTLEMENT_FIELDS[field], settlement.get(field, 0))
        for field in terms.eligible_fields
    ]
    return payable_for(sum(line.amount_fen for line in lines), terms, used_this_year_fen, lines)


def payable_for(
    eligible_fen: Fen,
    terms: Terms,
    used_this_year_fen: Fen,
    field_lines: list[CalculationLine] | None = None,
) -> Adjudication:
    """The same calculation from an eligible amount already summed (the trial calculation)."""
    after_ratio = round_half_up_to_fen(Decimal(eligible_fen) * terms.ratio_bp / 10_000 / 100)
    after_deductible = max(after_ratio - terms.deductible_fen, 0)
    remaining_before = max(terms.annual_cap_fen - used_this_year_fen, 0)
    payable = min(after_deductible, remaining_before)
    lines = [
        *(field_lines or []),
        CalculationLine("合计可报销费用", eligible_fen),
        CalculationLine(f"× 赔付比例 {Decimal(terms.ratio_bp) / 100:g}%", after_ratio),
        CalculationLine(f"− 免赔额 {format_fen(terms.deductible_fen)}", after_deductible),
        CalculationLine("本年度剩余额度", remaining_before),
        CalculationLine("本次应赔付", payable),
    ]
    return Adjudication(
        eligible_fen, payable, remaining_before, remaining_before - payable, tuple(lines)
    )


# What each figure of the 医保结算单 is, for the trial calculation's "counts / does not count".
FIELD_MEANINGS = {
    "fund_paid": "已由基本医保统筹基金报销",
    "policy_self_pay": "基本医保政策范围内由个人负担的部分",
    "class_b_self_pay": "乙类药品、诊疗项目报销前由个人先行负担的比例部分",
    "fully_self_paid": "医保目录外、完全由个人负担的费用",
}
FUND_PAID_LABEL = "统筹基金支付"


@dataclass(frozen=True)
class FieldNote:
    """One figure of the settlement sheet, whether the plan pays on it, and why."""

    label: str
    amount_fen: Fen
    counted: bool
    why: str


def field_notes(settlement: Mapping[str, Fen], terms: Terms) -> tuple[FieldNote, ...]:
    """Which bill figures count towards the eligible amount under these terms, and why."""
    notes = [
        FieldNote(
            FUND_PAID_LABEL,
            settlement.get("fund_paid", 0),
            counted=False,
            why=f"{FIELD_MEANINGS['fund_paid']}，补充医保只赔付个人负担的部分，不计入",
        )
    ]
    for field, label in SETTLEMENT_FIELDS.items():
        counted = field in terms.eligible_fields
        outcome = "本计划赔付此项，计入" if counted else "本计划条款不赔付此项，不计入"
        why = f"{FIELD_MEANINGS[field]}；{outcome}"
        notes.append(FieldNote(label, settlement.get(field, 0), counted, why))
    return tuple(notes)


def whose(*, oneself: bool) -> str:
    """How a message names the member's things to whoever is filing: the member, or their
    unit's union officer."""
    return "您的" if oneself else "该会员的"


def not_covered_reason(
    admitted_on: date, owner: str, latest_cover: tuple[date, date] | None
) -> str:
    """Why nothing is payable for a stay whose admission date no cover includes."""
    reason = f"入院日期 {admitted_on} 不在{owner}补充医保保障期内，本次没有可赔付金额。"
    reason += "补充医保按会员卡的月日均存款余额考核，达标后下一个月享有保障，住院须在保障期内入院。"
    if latest_cover is None:
        return reason + f"{owner}会员卡尚未考核达标，还没有保障期。"
    start, end = latest_cover
    return reason + f"{owner}最近一期保障期为 {start} 至 {end}。"


# Who acts next on a claim in each state, and what they do: the member's timeline reads it.
NEXT_STEPS: dict[ClaimStatus, tuple[str, str]] = {
    ClaimStatus.DRAFT: ("您", "上传六项材料后提交申请"),
    ClaimStatus.SUBMITTED: ("保险公司", "核对材料是否齐全"),
    ClaimStatus.DOCUMENTS_PENDING: ("您", "补齐所缺材料，齐全后自动进入审核"),
    ClaimStatus.UNDER_REVIEW: ("保险公司", "材料齐全后30日内作出核定"),
    ClaimStatus.APPROVED: ("保险公司", "达成赔付协议后10日内支付到您的会员卡"),
    ClaimStatus.PARTIALLY_APPROVED: ("保险公司", "达成赔付协议后10日内支付到您的会员卡"),
    ClaimStatus.REJECTED: ("您", "如有异议，可联系单位工会或保险公司"),
    ClaimStatus.PAID: ("—", "已办结"),
    ClaimStatus.WITHDRAWN: ("—", "已撤回，不再办理"),
}


def next_step(status: ClaimStatus) -> tuple[str, str]:
    """(who acts next, what they do) for a claim in `status`; deadlines from 保险法 arts. 23–25."""
    return NEXT_STEPS[status]


# 保险法 arts. 23–25 and 26: the insurer's clocks, in calendar days. (Art. 24's three days for
# telling a member of a rejection need no clock: the notice goes with the decision.)
DECISION_DAYS = 30
PAYMENT_DAYS = 10
TIME_BAR_YEARS = 2


@dataclass(frozen=True)
class Clock:
    label: str
    due: date
    days_left: int

    @property
    def overdue(self) -> bool:
        return self.days_left < 0


def statutory_clock(
    status: ClaimStatus,
    *,
    complete_on: date | None,
    decided_on: date | None,
    today: date,
) -> Clock | None:
    """The clock running on a claim, if any: the decision once the packet is complete, the
    payment once it is agreed."""
    if status is ClaimStatus.UNDER_REVIEW and complete_on is not None:
        due = complete_on + timedelta(days=DECISION_DAYS)
        return Clock("核定时限", due, (due - today).days)
    if status in {ClaimStatus.APPROVED, ClaimStatus.PARTIALLY_APPROVED} and decided_on is not None:
        due = decided_on + timedelta(days=PAYMENT_DAYS)
        return Clock("赔付时限", due, (due - today).days)
    return None


def time_barred(discharged_on: date, today: date) -> bool:
    """Claims more than two years after discharge are time-barred (保险法 art. 26)."""
    try:
        limit = discharged_on.replace(year=discharged_on.year + TIME_BAR_YEARS)
    except ValueError:  # 29 February
        limit = discharged_on.replace(year=discharged_on.year + TIME_BAR_YEARS, day=28)
    return today > limit


def plan_year(admitted_on: date) -> int:
    """The annual cap counts per calendar year of admission (domain note default)."""
    return admitted_on.year


@dataclass(frozen=True)
class Hospitalisation:
    hospital: str
    admitted_on: date
    discharged_on: date
    diagnosis: str


def check_hospitalisation(stay: Hospitalisation, today: date) -> list[str]:
    problems = []
    if not stay.hospital.strip():
        problems.append("请填写医院名称")
    if not stay.diagnosis.strip():
        problems.append("请填写诊断")
    if stay.discharged_on < stay.admitted_on:
        problems.append("出院日期不能早于入院日期")
    if stay.discharged_on > today:
        problems.append("出院日期不能晚于今天（请出院后再申请）")
    return problems
