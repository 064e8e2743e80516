"""Import of units, members and cards from the published templates (CSV or XLSX).

All-or-nothing: every row is checked first and every bad line reported; only a clean file is
written. Re-importing the same file finds every row unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from gonghui.core.auth import Actor, Permission
from gonghui.core.clock import business_date
from gonghui.core.errors import Forbidden, ImportRejected, LineError
from gonghui.core.inputs import IdNumber, parse_credit_code, parse_id_number, parse_mobile
from gonghui.core.logging import get_logger
from gonghui.core.metrics import import_refused, imported
from gonghui.core.pii import IdentityVault
from gonghui.core.tabular import Row, Table, missing_columns, parse_date_cell, read_table
from gonghui.members import queries, service
from gonghui.members.banks import bank_views
from gonghui.members.models import Bank, Card, Member, Unit
from gonghui.members.rules import (
    EmploymentStatus,
    InvalidValue,
    PostType,
    parse_card_no,
    parse_employment_status,
    parse_post_type,
)
from gonghui.members.service import CardRecord, MemberRecord, Outcome, UnitRecord

log = get_logger(__name__)


class ImportKind(StrEnum):
    UNITS = "units"
    MEMBERS = "members"
    CARDS = "cards"

    @property
    def label(self) -> str:
        return {"units": "单位", "members": "会员", "cards": "会员卡"}[self.value]

    @property
    def headers(self) -> tuple[str, ...]:
        return TEMPLATE_HEADERS[self]


TEMPLATE_HEADERS: dict[ImportKind, tuple[str, ...]] = {
    ImportKind.UNITS: ("单位名称", "统一社会信用代码", "行业", "区县", "上级工会"),
    ImportKind.MEMBERS: ("姓名", "身份证号", "手机号", "统一社会信用代码", "岗位类型", "在职状态"),
    ImportKind.CARDS: ("卡号", "身份证号", "发卡银行", "开卡日期"),
}
# Columns whose values must stay text in Excel (long digit strings).
TEXT_COLUMNS = ("统一社会信用代码", "身份证号", "手机号", "卡号")
# The column that tells each kind apart when headers are incomplete.
_MARKERS = {ImportKind.CARDS: "卡号", ImportKind.MEMBERS: "姓名", ImportKind.UNITS: "单位名称"}

IMPORT_RIGHTS = {
    ImportKind.UNITS: Permission.UNITS_MANAGE,
    ImportKind.MEMBERS: Permission.MEMBERS_MANAGE,
    ImportKind.CARDS: Permission.CARDS_MANAGE,
}

ProgressCallback = Callable[[int, int], None]
_V = TypeVar("_V")


@dataclass
class ImportReport:
    kind: ImportKind
    rows: int = 0
    counts: dict[Outcome, int] = field(default_factory=lambda: dict.fromkeys(Outcome, 0))

    @property
    def summary(self) -> str:
        return (
            f"{self.kind.label}导入完成：共{self.rows}行，新增{self.counts[Outcome.CREATED]}，"
            f"更新{self.counts[Outcome.UPDATED]}，未变{self.counts[Outcome.UNCHANGED]}"
        )


def detect_kind(table: Table) -> ImportKind:
    for kind, marker in _MARKERS.items():
        if marker in table.headers:
            return kind
    expected = "；".join(f"{kind.label}：{'、'.join(kind.headers)}" for kind in ImportKind)
    raise ImportRejected([LineError(1, f"无法识别表头，请使用导入模板（{expected}）")])


def import_file(
    session: Session,
    content: bytes,
    *,
    actor: Actor,
    now: datetime,
    vault: IdentityVault,
    progress: ProgressCallback | None = None,
) -> ImportReport:
    """Check the whole file, then write it; raise `ImportRejected` with every bad line."""
    require_import_right(actor)
    table = read_table(content)
    kind = detect_kind(table)
    _require_right(actor, kind)
    try:
        records = _checked(session, table, kind, actor, vault, now)
    except ImportRejected as refused:
        import_refused(kind.value, refused.total, actor=actor.username)
        raise
    report = ImportReport(kind, rows=len(records))
    for done, record in enumerate(records, start=1):
        outcome = _save(session, record, actor=actor, now=now, vault=vault)
        report.counts[outcome] += 1
        if progress is not None:
            progress(done, len(records))
    session.flush()
    imported(
        kind.value,
        len(records),
        actor=actor.username,
        **{outcome.value: count for outcome, count in report.counts.items()},
    )
    return report


def _checked(
    session: Session,
    table: Table,
    kind: ImportKind,
    actor: Actor,
    vault: IdentityVault,
    now: datetime,
) -> list[UnitRecord | MemberRecord | CardRecord]:
    errors = missing_columns(table, kind.headers)
    if errors:
        raise ImportRejected(errors)
    if not table.rows:
        raise ImportRejected([LineError(0, "文件中没有数据行")])
    checker = _Checker(session, actor, vault, business_date(now))
    records = checker.check(kind, table.rows)
    if checker.errors:
        raise ImportRejected(checker.reportable_errors())
    return records


def _require_right(actor: Actor, kind: ImportKind) -> None:
    actor.require(IMPORT_RIGHTS[kind])


def importable_kinds(actor: Actor) -> list[ImportKind]:
    return [kind for kind, right in IMPORT_RIGHTS.items() if actor.can(right)]


def require_import_right(actor: Actor) -> None:
    """Refuse, before reading a byte, a caller who may import nothing at all."""
    if not importable_kinds(actor):
        raise Forbidden


def _save(
    session: Session,
    record: UnitRecord | MemberRecord | CardRecord,
    *,
    actor: Actor,
    now: datetime,
    vault: IdentityVault,
) -> Outcome:
    if isinstance(record, UnitRecord):
        return service.save_unit(session, record, actor=actor, now=now)
    if isinstance(record, MemberRecord):
        return service.save_member(session, record, actor=actor, now=now, vault=vault)
    return service.save_card(session, record, actor=actor, now=now)


@dataclass
class _MemberDraft:
    row: Row
    reasons: list[str]
    id_number: IdNumber | None
    phone: str | None
    code: str | None
    post: PostType | None
    employment: EmploymentStatus | None

    def record(self, unit: Unit | None) -> MemberRecord | None:
        if self.reasons or unit is None:
            return None
        if self.id_number is None or self.phone is None:
            return None
        if self.post is None or self.employment is None:
            return None
        return MemberRecord(
            self.row.get("姓名"), self.id_number, self.phone, unit.id, self.post, self.employment
        )


@dataclass
class _CardDraft:
    row: Row
    reasons: list[str]
    card_no: str | None
    id_number: IdNumber | None
    opened: date | None
    bank: Bank | None

    def record(self, member: Member | None) -> CardRecord | None:
        if self.reasons or member is None or self.bank is None:
            return None
        if self.card_no is None or self.opened is None:
            return None
        return CardRecord(self.card_no, member.id, self.bank.id, self.opened)


log = get_logger("gonghui.imports")
_OTHER_UNIT = "该会员已在其他单位登记，请联系总工会办理转会"


class _Checker:
    """Turns rows into records, collecting one error line per bad row."""

    def __init__(self, session: Session, actor: Actor, vault: IdentityVault, today: date) -> None:
        self.session = session
        self.prefixes: dict[int, tuple[str, ...]] = {}
        self.actor = actor
        self.vault = vault
        self.today = today
        self.errors: list[LineError] = []
        # Lines refused because the ID number is a member of a unit the importer does not keep,
        # with the line's other reasons.
        self.other_unit: dict[int, list[str]] = {}

    def check(
        self, kind: ImportKind, rows: list[Row]
    ) -> list[UnitRecord | MemberRecord | CardRecord]:
        checks = {
            ImportKind.UNITS: self._units,
            ImportKind.MEMBERS: self._members,
            ImportKind.CARDS: self._cards,
        }
        return checks[kind](rows)

    def _fail(self, row: Row, reasons: list[str]) -> None:
        self.errors.append(LineError(row.line, "；".join(reasons)))
        if _OTHER_UNIT in reasons:
            self.other_unit[row.line] = [reason for reason in reasons if reason != _OTHER_UNIT]

    def reportable_errors(self) -> list[LineError]:
        """The errors to show. That an ID number belongs to another unit's member is said only
        about a file that is otherwise right (whose other lines would be written): a file that
        fails anyway must not serve an officer as a free probe of the federation's roll."""
        fails_anyway = any(
            error.line not in self.other_unit or self.other_unit[error.line]
            for error in self.errors
        )
        if not fails_anyway:
            log.warning("import.other_units_member", actor=self.actor.username)
            return self.errors
        return [
            LineError(error.line, "；".join(self.other_unit[error.line]))
            if error.line in self.other_unit
            else error
            for error in self.errors
            if error.line not in self.other_unit or self.other_unit[error.line]
        ]

    def _first_seen(self, seen: dict[str, int], key: str, row: Row, what: str) -> str | None:
        if key in seen:
            return f"{what}与第{seen[key]}行重复"
        seen[key] = row.line
        return None

    def _units(self, rows: list[Row]) -> list[UnitRecord | MemberRecord | CardRecord]:
        records: list[UnitRecord | MemberRecord | CardRecord] = []
        seen: dict[str, int] = {}
        for row in rows:
            reasons = _blank(row, ("单位名称", "行业", "区县", "上级工会"))
            reasons += _too_long(row, _UNIT_TEXT)
            code = _parsed(parse_credit_code, row.get("统一社会信用代码"), reasons)
            if code is not None and (dup := self._first_seen(seen, code, row, "统一社会信用代码")):
                reasons.append(dup)
            if reasons or code is None:
                self._fail(row, reasons)
                continue
            records.append(
                UnitRecord(
                    row.get("单位名称"), code, row.get("行业"), row.get("区县"), row.get("上级工会")
                )
            )
        return records

    def _id_number(self, text: str) -> IdNumber:
        return parse_id_number(text, today=self.today)

    def _members(self, rows: list[Row]) -> list[UnitRecord | MemberRecord | CardRecord]:
        drafts = [self._member_draft(row) for row in rows]
        units = queries.units_by_credit_code(self.session, {d.code for d in drafts if d.code})
        existing = queries.members_by_hash(
            self.session, {self.vault.search_hash(d.id_number.value) for d in drafts if d.id_number}
        )
        records: list[UnitRecord | MemberRecord | CardRecord] = []
        seen: dict[str, int] = {}
        for draft in drafts:
            unit = units.get(draft.code) if draft.code else None
            if draft.code and unit is None:
                draft.reasons.append(f"单位不存在（统一社会信用代码 {draft.code}），请先导入单位")
            if unit is not None and not self._may_manage_unit(unit.id):
                draft.reasons.append("只能导入本单位的会员")
            if draft.id_number is not None:
                self._check_member_identity(draft, seen, existing)
            record = draft.record(unit)
            if record is None:
                self._fail(draft.row, draft.reasons)
            else:
                records.append(record)
        return records

    def _member_draft(self, row: Row) -> _MemberDraft:
        reasons = _blank(row, ("姓名",)) + _too_long(row, _MEMBER_TEXT)
        return _MemberDraft(
            row,
            reasons,
            _parsed(self._id_number, row.get("身份证号"), reasons),
            _parsed(parse_mobile, row.get("手机号"), reasons),
            _parsed(parse_credit_code, row.get("统一社会信用代码"), reasons),
            _parsed(parse_post_type, row.get("岗位类型"), reasons),
            _parsed(parse_employment_status, row.get("在职状态"), reasons),
        )

    def _check_member_identity(
        self, draft: _MemberDraft, seen: dict[str, int], existing: dict[str, Member]
    ) -> None:
        assert draft.id_number is not None  # noqa: S101 - the caller checked
        if dup := self._first_seen(seen, draft.id_number.value, draft.row, "身份证号"):
            draft.reasons.append(dup)
        known = existing.get(self.vault.search_hash(draft.id_number.value))
        if known is not None and not self._may_manage_unit(known.unit_id):
            draft.reasons.append(_OTHER_UNIT)

    def _may_manage_unit(self, unit_id: int) -> bool:
        return self.actor.is_federation_wide or self.actor.unit_id == unit_id

    def _cards(self, rows: list[Row]) -> list[UnitRecord | MemberRecord | CardRecord]:
        banks: dict[str, Bank] = {}
        for bank in queries.all_banks(self.session):
            banks[bank.name] = banks[bank.code] = bank
        self.prefixes = {view.id: view.prefixes for view in bank_views(self.session)}
        drafts = [self._card_draft(row, banks) for row in rows]
        members = queries.members_by_hash(
            self.session, {self.vault.search_hash(d.id_number.value) for d in drafts if d.id_number}
        )
        cards = queries.cards_by_number(self.session, {d.card_no for d in drafts if d.card_no})
        records: list[UnitRecord | MemberRecord | CardRecord] = []
        seen: dict[str, int] = {}
        for draft in drafts:
            member = None
            if draft.id_number is not None:
                member = members.get(self.vault.search_hash(draft.id_number.value))
                if member is None:
                    draft.reasons.append("身份证号不在会员名册中，请先导入会员")
            if draft.card_no is not None:
                self._check_card_number(draft, member, seen, cards)
            record = draft.record(member)
            if record is None:
                self._fail(draft.row, draft.reasons)
            else:
                records.append(record)
        return records

    def _card_draft(self, row: Row, banks: dict[str, Bank]) -> _CardDraft:
        reasons: list[str] = []
        draft = _CardDraft(
            row,
            reasons,
            _parsed(parse_card_no, row.get("卡号"), reasons),
            _parsed(self._id_number, row.get("身份证号"), reasons),
            _parsed(self._opening_date, row.get("开卡日期"), reasons),
            banks.get(row.get("发卡银行")),
        )
        if draft.bank is None:
            reasons.append(f"发卡银行“{row.get('发卡银行')}”不是合作银行")
        elif self.actor.bank_id is not None and draft.bank.id != self.actor.bank_id:
            reasons.append("只能导入本行发行的会员卡")
        return draft

    def _check_card_number(
        self, draft: _CardDraft, member: Member | None, seen: dict[str, int], cards: dict[str, Card]
    ) -> None:
        assert draft.card_no is not None  # noqa: S101 - the caller checked
        if dup := self._first_seen(seen, draft.card_no, draft.row, "卡号"):
            draft.reasons.append(dup)
        known = cards.get(draft.card_no)
        if known is None:
            self._check_new_card(draft)
            return
        if member is not None and known.member_id != member.id:
            draft.reasons.append("该卡号已登记在其他会员名下")
        if draft.bank is not None and known.bank_id != draft.bank.id:
            draft.reasons.append("该卡号已登记为其他银行的卡")

    def _check_new_card(self, draft: _CardDraft) -> None:
        """A new card must come from a bank still in partnership, under one of its prefixes
        (when it has registered any); cards already on the roll keep what they were."""
        assert draft.card_no is not None  # noqa: S101 - the caller checked
        if draft.bank is None:
            return
        if draft.bank.retired_on is not None and draft.bank.retired_on <= self.today:
            draft.reasons.append(
                f"发卡银行“{draft.bank.name}”已于 {draft.bank.retired_on} 停止合作，不再登记新卡"
            )
        prefixes = self.prefixes.get(draft.bank.id, ())
        if prefixes and not draft.card_no.startswith(prefixes):
            draft.reasons.append(
                f"卡号不在{draft.bank.name}的会员卡号段内（卡号前缀：{'、'.join(prefixes)}）"
            )

    def _opening_date(self, text: str) -> date:
        opened = parse_date_cell(text, "开卡日期")
        if opened > self.today:
            raise InvalidValue("开卡日期不能晚于今天")
        return opened


def _blank(row: Row, headers: tuple[str, ...]) -> list[str]:
    return [f"“{header}”不能为空" for header in headers if not row.get(header)]


# The free-text columns and the length of the column each is stored in: SQLite keeps any
# length, PostgreSQL refuses the whole statement.
_UNIT_TEXT = {
    "单位名称": Unit.name,
    "行业": Unit.industry,
    "区县": Unit.district,
    "上级工会": Unit.parent_union,
}
_MEMBER_TEXT = {"姓名": Member.name}


def _too_long(row: Row, columns: dict[str, Any]) -> list[str]:
    return [
        f"“{header}”不能超过{column.type.length}个字"
        for header, column in columns.items()
        if len(row.get(header)) > column.type.length
    ]


def _parsed(parse: Callable[[str], _V], text: str, reasons: list[str]) -> _V | None:
    try:
        return parse(text)
    except ValueError as error:
        reasons.append(str(error))
        return None
