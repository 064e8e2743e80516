"""我的数据 (PIPL art. 44–45): what the platform holds about the person asking, as sections
of labelled rows, for the page, the JSON download and the workbook alike; and who has seen
their full ID number."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from gonghui.consents import service as consents
from gonghui.consents.models import Consent
from gonghui.consents.rules import WORDINGS, Subject
from gonghui.core import audit
from gonghui.core.audit import AuditEntry
from gonghui.core.auth import Actor, Permission
from gonghui.core.clock import beijing, business_date
from gonghui.core.errors import NotFound
from gonghui.core.money import format_fen
from gonghui.insurance import queries as insurance_queries
from gonghui.members import queries as member_queries
from gonghui.wallet import queries as wallet_queries

if TYPE_CHECKING:
    from gonghui.wallet.models import Insured

_AT = "%Y-%m-%d %H:%M"


@dataclass
class Section:
    key: str
    title: str
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)


def my_data(session: Session, actor: Actor, now: datetime) -> list[Section]:
    sections: list[Section] = []
    member_id = actor.member_id if actor.can(Permission.OWN_PROFILE) else None
    if member_id is not None:
        sections += _member_sections(session, actor, now)
    try:
        insured = wallet_queries.own_insured(session, actor)
    except NotFound:
        insured = None
    if insured is not None:
        sections += _wallet_sections(session, insured)
    sections.append(_consents(session, member_id, insured.id if insured else None))
    if member_id is not None:
        sections.append(_id_views(session, member_id))
    return sections


def _member_sections(session: Session, actor: Actor, now: datetime) -> list[Section]:
    member = member_queries.own_member(session, actor)
    profile = Section("profile", "会员档案", ["项目", "内容"])
    profile.rows = [
        ["姓名", member.name],
        ["身份证号", member.id_masked],
        ["性别", member.sex.label],
        ["出生日期", member.birth_date.isoformat()],
        ["手机号", member.phone],
        ["所在单位", member.unit.name],
        ["岗位类型", member.post_type.label],
        ["在职状态", member.employment_status.label],
        ["会籍状态", member.membership_status.label],
    ]
    cards = Section("cards", "会员卡", ["卡号", "发卡银行", "开卡日期", "状态"])
    cards.rows = [
        [card.card_no, card.bank.name, card.opened_on.isoformat(), card.status.label]
        for card in member_queries.cards_of(session, actor, member)
    ]
    cover = insurance_queries.cover_of(session, member, business_date(now))
    covered = Section("cover", "互助保障", ["保障开始", "保障结束"])
    covered.rows = [[start.isoformat(), end.isoformat()] for start, end in cover.periods]
    claims = Section("claims", "理赔", ["编号", "医院", "入院", "出院", "状态"])
    claims.rows = [
        [
            str(claim.id),
            claim.hospital,
            claim.admitted_on.isoformat(),
            claim.discharged_on.isoformat(),
            claim.status.label,
        ]
        for claim in insurance_queries.claims_visible(session, actor).items
    ]
    return [profile, cards, covered, claims]


def _wallet_sections(session: Session, insured: Insured) -> list[Section]:
    balances = wallet_queries.balances_of(session, insured)
    wallet = Section("wallet", "医保钱包", ["项目", "内容"])
    wallet.rows = [
        ["个人账户", format_fen(balances.personal_fen)],
        ["共济额度", format_fen(balances.quota_fen)],
    ]
    history = Section("wallet_history", "钱包收支（最近50笔）", ["时间", "事项", "备注", "金额"])
    history.rows = [
        [beijing(line.at, _AT), line.label, line.memo, format_fen(line.amount_fen)]
        for line in wallet_queries.history_of(session, insured)
    ]
    return [wallet, history]


def _consents(session: Session, member_id: int | None, insured_id: int | None) -> Section:
    section = Section("consents", "同意记录", ["事项", "版本", "同意时间", "撤回时间"])
    held: list[Consent] = []
    if member_id is not None:
        held += consents.history(session, Subject.MEMBER, member_id)
    if insured_id is not None:
        held += consents.history(session, Subject.INSURED, insured_id)
    section.rows = [
        [
            WORDINGS[c.purpose].title,
            str(c.version),
            beijing(c.given_at, _AT),
            beijing(c.withdrawn_at, _AT) if c.withdrawn_at else "",
        ]
        for c in held
    ]
    return section


def _id_views(session: Session, member_id: int) -> Section:
    section = Section("id_views", "谁查看过我的完整身份证号", ["时间", "查看人", "来源地址"])
    views = session.scalars(
        select(AuditEntry)
        .where(
            AuditEntry.action == audit.ID_VIEWED,
            AuditEntry.target_type == "member",
            AuditEntry.target_id == str(member_id),
        )
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .limit(200)
    )
    section.rows = [
        [beijing(v.at, _AT), v.actor_label, str((v.after or {}).get("client", ""))] for v in views
    ]
    return section
