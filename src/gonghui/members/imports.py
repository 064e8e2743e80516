"""Import of units, members and cards from the published templates (CSV or XLSX).

All-or-nothing: every row is checked first and every bad line reported; only a clean file is
written. Re-importing the same file finds every row unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import TypeVar

from sqlalchemy.orm import Session

from gonghui.core.auth import Actor, Permission
from gonghui.core.clock import business_date
from gonghui.core.errors import ImportRejected, LineError
from gonghui.core.pii import IdentityVault
from gonghui.core.tabular import Row, Table, missing_columns, parse_date_cell, read_table
from gonghui.members import queries, service
from gonghui.members.rules import (
    InvalidValue,
    parse_credit_code,
    parse_employment_status,
    parse_id_number,
    parse_mobile,
    parse_post_type,
)
from gonghui.members.service import CardRecord, MemberRecord, Outcome, UnitRecord


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
    table = read_table(content)
    kind = detect_kind(table)
    _require_right(actor, kind)
    errors = missing_columns(table, kind.headers)
    if errors:
        raise ImportRejected(errors)
    if not table.rows:
        raise ImportRejected([LineError(0, "文件中没有数据行")])
    checker = _Checker(session, actor, vault, business_date(now))
    records = checker.check(kind, table.rows)
    if checker.errors:
        raise ImportRejected(checker.errors)
    report = ImportReport(kind, rows=len(records))
    for done, record in enumerate(records, start=1):
        outcome = _save(session, record, actor=actor, now=now, vault=vault)
        report.counts[outcome] += 1
        if progress is not None:
            progress(done, len(records))
    session.flush()
    return report


def _require_right(actor: Actor, kind: ImportKind) -> None:
    needed = {
        ImportKind.UNITS: Permission.UNITS_MANAGE,
        ImportKind.MEMBERS: Permission.MEMBERS_MANAGE,
        ImportKind.CARDS: Permission.CARDS_MANAGE,
    }[kind]
    actor.require(needed)


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


class _Checker:
    """Turns rows into records, collecting one error line per bad row."""

    def __init__(self, session: Session, actor: Actor, vault: IdentityVault, today: date) -> None:
        self.session = session
        self.actor = actor
        self.vault = vault
        self.today = today
        self.errors: list[LineError] = []

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

    def _members(self, rows: list[Row]) -> list[UnitRecord | MemberRecord | CardRecord]:
        parsed = []
        for row in rows:
            reasons = _blank(row, ("姓名",))
            id_number = _parsed(
                lambda t: parse_id_number(t, today=self.today), row.get("身份证号"), reasons
            )
            phone = _parsed(parse_mobile, row.get("手机号"), reasons)
            code = _parsed(parse_credit_code, row.get("统一社会信用代码"), reasons)
            post = _parsed(parse_post_type, row.get("岗位类型"), reasons)
            employment = _parsed(parse_employment_status, row.get("在职状态"), reasons)
            parsed.append((row, reasons, id_number, phone, code, post, employment))
        units = queries.units_by_credit_code(self.session, {p[4] for p in parsed if p[4]})
        hashes = {self.vault.search_hash(p[2].value): p[2] for p in parsed if p[2]}
        existing = queries.members_by_hash(self.session, set(hashes))
        records: list[UnitRecord | MemberRecord | CardRecord] = []
        seen: dict[str, int] = {}
        for row, reasons, id_number, phone, code, post, employment in parsed:
            unit = units.get(code) if code else None
            if code and unit is None:
                reasons.append(f"单位不存在（统一社会信用代码 {code}），请先导入单位")
            if unit is not None and not self._may_manage_unit(unit.id):
                reasons.append("只能导入本单位的会员")
            if id_number is not None:
                if dup := self._first_seen(seen, id_number.value, row, "身份证号"):
                    reasons.append(dup)
                known = existing.get(self.vault.search_hash(id_number.value))
                if known is not None and not self._may_manage_unit(known.unit_id):
                    reasons.append("该会员已在其他单位登记，请联系总工会办理转会")
            if reasons or None in (id_number, phone, unit, post, employment):
                self._fail(row, reasons)
                continue
            assert id_number and phone and unit and post and employment  # noqa: S101 - narrowed above
            records.append(
                MemberRecord(row.get("姓名"), id_number, phone, unit.id, post, employment)
            )
        return records

    def _may_manage_unit(self, unit_id: int) -> bool:
        return self.actor.is_federation_wide or self.actor.unit_id == unit_id

    def _cards(self, rows: list[Row]) -> list[UnitRecord | MemberRecord | CardRecord]:
        banks = {}
        for bank in queries.all_banks(self.session):
            banks[bank.name] = bank
            banks[bank.code] = bank
        parsed = []
        for row in rows:
            reasons: list[str] = []
            card_no = _parsed(_parse_card_no, row.get("卡号"), reasons)
            id_number = _parsed(
                lambda t: parse_id_number(t, today=self.today), row.get("身份证号"), reasons
            )
            opened = _parsed(self._opening_date, row.get("开卡日期"), reasons)
            bank = banks.get(row.get("发卡银行"))
            if bank is None:
                reasons.append(f"发卡银行“{row.get('发卡银行')}”不是合作银行")
            elif self.actor.bank_id is not None and bank.id != self.actor.bank_id:
                reasons.append("只能导入本行发行的会员卡")
            parsed.append((row, reasons, card_no, id_number, opened, bank))
        members = queries.members_by_hash(
            self.session, {self.vault.search_hash(p[3].value) for p in parsed if p[3]}
        )
        cards = queries.cards_by_number(self.session, {p[2] for p in parsed if p[2]})
        records: list[UnitRecord | MemberRecord | CardRecord] = []
        seen: dict[str, int] = {}
        for row, reasons, card_no, id_number, opened, bank in parsed:
            member = members.get(self.vault.search_hash(id_number.value)) if id_number else None
            if id_number is not None and member is None:
                reasons.append("身份证号不在会员名册中，请先导入会员")
            if card_no is not None:
                if dup := self._first_seen(seen, card_no, row, "卡号"):
                    reasons.append(dup)
                known = cards.get(card_no)
                if known is not None and member is not None and known.member_id != member.id:
                    reasons.append("该卡号已登记在其他会员名下")
                if known is not None and bank is not None and known.bank_id != bank.id:
                    reasons.append("该卡号已登记为其他银行的卡")
            if reasons or card_no is None or member is None or opened is None or bank is None:
                self._fail(row, reasons)
                continue
            records.append(CardRecord(card_no, member.id, bank.id, opened))
        return records

    def _opening_date(self, text: str) -> date:
        opened = parse_date_cell(text)
        if opened > self.today:
            raise InvalidValue("开卡日期不能晚于今天")
        return opened


def _blank(row: Row, headers: tuple[str, ...]) -> list[str]:
    return [f"“{header}”不能为空" for header in headers if not row.get(header)]


def _parsed(parse: Callable[[str], _V], text: str, reasons: list[str]) -> _V | None:
    try:
        return parse(text)
    except ValueError as error:
        reasons.append(str(error))
        return None


def _parse_card_no(text: str) -> str:
    value = text.strip().replace(" ", "")
    if not value.isdigit() or not 16 <= len(value) <= 19:  # noqa: PLR2004 - bank card lengths
        raise InvalidValue("卡号应为16至19位数字")
    return value
