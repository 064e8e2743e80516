"""Exports in the import templates' own layout, so an exported file can be imported again."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from gonghui.core.auth import Actor, Permission
from gonghui.core.pii import IdentityVault
from gonghui.core.tabular import Column, export_caption, write_template, write_xlsx
from gonghui.members import banks, queries
from gonghui.members.imports import TEXT_COLUMNS, ImportKind
from gonghui.members.models import Card, Member
from gonghui.members.rules import (
    EMPLOYMENT_LABELS,
    INDUSTRY_SECTIONS,
    POST_TYPE_LABELS,
    EmploymentStatus,
    PostType,
)
from gonghui.members.schemas import shown_id_number


def template_xlsx(session: Session, actor: Actor, kind: ImportKind) -> bytes:
    """The import template for `kind`, with its notes, an example row and the drop-down lists
    (the banks this person may import cards for; the districts already on their roll)."""
    columns = {
        ImportKind.UNITS: _unit_columns,
        ImportKind.MEMBERS: _member_columns,
        ImportKind.CARDS: _card_columns,
    }[kind](session, actor)
    return write_template(kind.label, columns)


_CREDIT_CODE = Column(
    "统一社会信用代码", "18位，末位为校验位；填写后请核对", "91370602MA3C123450", text=True
)
_ID_NUMBER = Column("身份证号", "18位居民身份证号码，末位X大写", "370602198806151234", text=True)
_UNIT_OF_MEMBER = Column(
    "统一社会信用代码", "会员所在单位的代码，单位须已导入", _CREDIT_CODE.example, text=True
)


def _unit_columns(session: Session, actor: Actor) -> list[Column]:
    districts = queries.districts_in_scope(session, actor)
    return [
        Column("单位名称", "单位全称，与营业执照一致", "烟台示例机械有限公司"),
        _CREDIT_CODE,
        Column(
            "行业",
            "可从列表选择《国民经济行业分类》门类，也可填写其他行业",
            "制造业",
            choices=INDUSTRY_SECTIONS,
            strict=False,
        ),
        Column(
            "区县",
            "单位所在区县（市）；列表为系统中已有的区县，新区县可直接填写",
            "芝罘区",
            choices=districts,
            strict=False,
        ),
        Column("上级工会", "上级工会全称", "烟台市芝罘区总工会"),
    ]


def _member_columns(_session: Session, _actor: Actor) -> list[Column]:
    return [
        Column("姓名", "与身份证一致", "张伟"),
        _ID_NUMBER,
        Column("手机号", "11位手机号码，用于开通账号和接收通知", "13800000000", text=True),
        _UNIT_OF_MEMBER,
        Column(
            "岗位类型",
            "从列表选择",
            POST_TYPE_LABELS[PostType.PRODUCTION],
            choices=tuple(POST_TYPE_LABELS.values()),
        ),
        Column(
            "在职状态",
            "从列表选择",
            EMPLOYMENT_LABELS[EmploymentStatus.EMPLOYED],
            choices=tuple(EMPLOYMENT_LABELS.values()),
        ),
    ]


def _card_columns(session: Session, actor: Actor) -> list[Column]:
    usable = [
        view
        for view in banks.bank_views(session)
        if view.active and actor.bank_id in (None, view.id)
    ]
    prefix = usable[0].prefixes[0] if usable and usable[0].prefixes else "62"
    example_card = (prefix + "0" * 16)[:12] + "0001"
    return [
        Column("卡号", "16至19位数字，以发卡银行登记的前缀开头", example_card, text=True),
        Column("身份证号", "持卡会员的身份证号，会员须已导入", _ID_NUMBER.example, text=True),
        Column(
            "发卡银行",
            "从列表选择合作银行",
            usable[0].name if usable else "（请先登记合作银行）",
            choices=tuple(view.name for view in usable),
        ),
        Column("开卡日期", "格式 2025-01-31，不晚于今天", "2025-01-31"),
    ]


def export_xlsx(
    session: Session, actor: Actor, vault: IdentityVault, kind: ImportKind, now: datetime
) -> bytes:
    """The roll in its import template's layout, under a title row naming who exported it and
    when (the import skips that row)."""
    rows = {
        ImportKind.UNITS: _unit_rows,
        ImportKind.MEMBERS: _member_rows,
        ImportKind.CARDS: _card_rows,
    }[kind](session, actor, vault)
    caption = export_caption(actor.display_name, f"{kind.label}名册", now)
    return write_xlsx(kind.label, kind.headers, rows, text_columns=TEXT_COLUMNS, caption=caption)


def _unit_rows(session: Session, actor: Actor, _vault: IdentityVault) -> Iterator[list[object]]:
    for unit in session.scalars(queries.export_units(actor)):
        yield [unit.name, unit.credit_code, unit.industry, unit.district, unit.parent_union]


def _member_rows(session: Session, actor: Actor, vault: IdentityVault) -> Iterator[list[object]]:
    for member in session.scalars(queries.export_members(actor)):
        yield [
            member.name,
            vault.decrypt(member.id_cipher),
            member.phone,
            member.unit.credit_code,
            member.post_type.label,
            member.employment_status.label,
        ]


def _card_rows(session: Session, actor: Actor, vault: IdentityVault) -> Iterator[list[object]]:
    actor.require(Permission.CARDS_VIEW)
    statement = (
        select(Card)
        .where(queries.card_scope(actor))
        .options(joinedload(Card.bank), joinedload(Card.member))
        .order_by(Card.id)
    )
    for card in session.scalars(statement):
        member: Member = card.member
        yield [
            card.card_no,
            shown_id_number(member, actor, vault),
            card.bank.name,
            card.opened_on.isoformat(),
        ]
