"""Which consents exist, their current versions and wording, and when a withdrawal counts.

PIPL art. 14: consent is given freely and explicitly, and a change of purpose needs it again
(hence versions); art. 15: it can be withdrawn, which does not undo what was done before;
art. 29: sensitive personal information (medical records, art. 28) needs a separate consent;
art. 23: giving personal information to another processor (a bank's card balances to the
federation) needs a separate consent too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from gonghui.core.clock import business_date


class Purpose(StrEnum):
    BALANCE_SHARING = "balance_sharing"
    MEDICAL_DOCUMENTS = "medical_documents"
    WALLET_COMMITMENT = "wallet_commitment"


class Subject(StrEnum):
    MEMBER = "member"
    INSURED = "insured"


@dataclass(frozen=True)
class Wording:
    title: str
    version: int
    text: str
    subject: Subject
    on_withdrawal: str


WORDINGS: dict[Purpose, Wording] = {
    Purpose.BALANCE_SHARING: Wording(
        "会员卡日余额共享",
        1,
        "本人同意发卡银行将本人工会会员卡的每日余额提供给总工会，仅用于“一卡一计划”职工互助"
        "保障的资格考核，不作他用。",
        Subject.MEMBER,
        "撤回后，自撤回之后开始的考核期起不再考核您的会员卡，您将不能因此获得保障。",
    ),
    Purpose.MEDICAL_DOCUMENTS: Wording(
        "医疗材料处理",
        1,
        "本人同意总工会及承保保险公司收集、保存和审核本人提交的住院病历、发票、医保结算单等"
        "医疗材料（敏感个人信息），仅用于办理本人的互助保障理赔。",
        Subject.MEMBER,
        "撤回后不能再提交新的理赔；已提交的理赔按原同意继续办理。",
    ),
    Purpose.WALLET_COMMITMENT: Wording(
        "共济承诺书",
        1,
        "本人承诺与所登记的共济对象为近亲属关系，所提供的身份信息真实；同意医保经办机构为办理"
        "家庭共济核验身份并记录共济使用情况。",
        Subject.INSURED,
        "撤回后不能再建立新的共济关系；已建立的共济关系不受影响。",
    ),
}


def counts_for_period(withdrawn_at: datetime | None, period_start: date) -> bool:
    """A withdrawal is honoured from the next period: one that starts after the Beijing day
    of the withdrawal. A period already running when the person withdrew is finished as
    consented."""
    return withdrawn_at is None or business_date(withdrawn_at) >= period_start
