"""Bank balance files: card number, date, end-of-day balance.

All-or-nothing and idempotent: every bad line is reported, a clean file is stored once, the
same file (or the same card-day with the same balance) again changes nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gonghui.core import audit
from gonghui.core.auth import Actor, Permission
from gonghui.core.clock import business_date
from gonghui.core.errors import Forbidden, ImportRejected, LineError
from gonghui.core.inputs import InputError, parse_amount, parse_date
from gonghui.core.metrics import import_refused, imported
from gonghui.core.money import format_fen
from gonghui.core.tabular import Row, Table, read_table
from gonghui.insurance import parts
from gonghui.insurance.models import BalanceImport
from gonghui.insurance.store import BalanceStore, scan, staged
from gonghui.members import queries as member_queries
from gonghui.members.queries import Bank

# Each column under its Chinese name and the English one banks' systems often use.
_T = TypeVar("_T")
_STAGED_COLUMNS = {
    "line": "BIGINT",
    "card_no": "VARCHAR",
    "on_date": "DATE",
    "balance_fen": "BIGINT",
}

COLUMNS = {"卡号": "card_no", "日期": "date", "日终余额": "balance"}


class Source(StrEnum):
    UPLOAD = "upload"
    API = "api"
    CLI = "cli"


@dataclass(frozen=True)
class BalanceRow:
    line: int
    card_no: str
    on: date
    balance_fen: int


@dataclass(frozen=True)
class BalanceImportReport:
    rows: int
    new_rows: int
    already_known: bool

    @property
    def summary(self) -> str:
        if self.already_known:
            return f"该文件已导入过，共{self.rows}行，未作任何改动"
        if self.new_rows == self.rows:
            return f"余额导入完成：共{self.rows}行，新增{self.new_rows}行"
        if self.new_rows == 0:
            return f"余额导入完成：共{self.rows}行，均与已导入数据相同，未作改动"
        return (
            f"余额导入完成：共{self.rows}行，新增{self.new_rows}行，"
            f"其余{self.rows - self.new_rows}行与已导入数据相同"
        )


def parse_balance(text: str) -> int:
    if not text.strip():
        raise InputError("日终余额不能为空")
    return parse_amount(text, "日终余额")


# A bank's export often ends with a sum line; it is not a card and is named for what it is.
_TOTAL_MARKERS = ("合计", "总计", "小计", "total")


def import_balances(
    session: Session,
    content: bytes,
    *,
    bank: Bank,
    filename: str,
    source: Source,
    actor: Actor,
    now: datetime,
    store: BalanceStore,
) -> BalanceImportReport:
    """A bank's file (CSV or XLSX)."""
    return _import(
        session,
        hashlib.sha256(content).hexdigest(),
        lambda: read_table(content),
        _Batch(bank, filename, source, actor, now, store),
    )


def import_balance_rows(
    session: Session,
    rows: Sequence[tuple[str, str, str]],
    *,
    bank: Bank,
    source: Source,
    actor: Actor,
    now: datetime,
    store: BalanceStore,
) -> BalanceImportReport:
    """The API's JSON batches: the same checks, with "line" meaning the item's position + 1."""
    headers = list(COLUMNS)
    table = Table(
        headers,
        [Row(index + 2, dict(zip(headers, row, strict=True))) for index, row in enumerate(rows)],
    )
    digest = hashlib.sha256(repr(list(rows)).encode()).hexdigest()
    return _import(session, digest, lambda: table, _Batch(bank, "api", source, actor, now, store))


@dataclass(frozen=True)
class _Batch:
    bank: Bank
    filename: str
    source: Source
    actor: Actor
    now: datetime
    store: BalanceStore


def _import(
    session: Session, sha256: str, table: Callable[[], Table], batch: _Batch
) -> BalanceImportReport:
    _require_right(batch.actor, batch.bank)
    known = _known(session, batch.bank, sha256)
    if known is not None:
        return BalanceImportReport(known.rows, 0, already_known=True)
    who = {"bank": batch.bank.code, "file": batch.filename, "actor": batch.actor.username}
    try:
        rows = _checked_rows(session, table(), batch.bank, business_date(batch.now))
        report = _store(session, rows, sha256, batch)
    except ImportRejected as refused:
        import_refused("balances", refused.total, **who)
        raise
    imported("balances", len(rows), new_rows=report.new_rows, **who)
    return report


def _known(session: Session, bank: Bank, sha256: str) -> BalanceImport | None:
    return session.scalars(
        select(BalanceImport).where(
            BalanceImport.bank_id == bank.id, BalanceImport.sha256 == sha256
        )
    ).one_or_none()


def _require_right(actor: Actor, bank: Bank) -> None:
    actor.require(Permission.BALANCES_IMPORT)
    if actor.bank_id is not None and actor.bank_id != bank.id:
        raise Forbidden("只能导入本行的余额文件")


def _checked_rows(session: Session, table: Table, bank: Bank, today: date) -> list[BalanceRow]:
    headers = _header_map(table.headers)
    if not table.rows:
        raise ImportRejected([LineError(0, "文件中没有数据行")])
    checker = _RowChecker(bank, member_queries.card_banks(session), headers, today)
    rows = [checked for row in table.rows if (checked := checker.check(row)) is not None]
    if checker.errors:
        raise ImportRejected(checker.errors)
    return rows


class _RowChecker:
    def __init__(
        self, bank: Bank, card_banks: dict[str, int], headers: dict[str, str], today: date
    ) -> None:
        self.bank = bank
        self.today = today
        self.card_banks = card_banks
        self.headers = headers
        self.errors: list[LineError] = []
        self.first_seen: dict[tuple[str, date], tuple[int, int]] = {}

    def check(self, row: Row) -> BalanceRow | None:
        """The row, or None when it is bad (its error recorded) or repeats an earlier line."""
        reasons: list[str] = []
        card_no = row.get(self.headers["卡号"]).replace(" ", "")
        if card_no.lower().startswith(_TOTAL_MARKERS):
            self.errors.append(
                LineError(row.line, f"“{card_no}”是合计行，不是某张卡的余额，请删除该行后再导入")
            )
            return None
        self._check_card(card_no, reasons)
        on = _try(parse_date, row.get(self.headers["日期"]), reasons)
        fen = _try(parse_balance, row.get(self.headers["日终余额"]), reasons)
        if on is not None:
            self._check_day(on, reasons)
        if on is not None and fen is not None and card_no:
            earlier_line, earlier_fen = self.first_seen.setdefault((card_no, on), (row.line, fen))
            if earlier_line != row.line and earlier_fen != fen:
                reasons.append(f"与第{earlier_line}行同卡同日但余额不同")
            elif earlier_line != row.line:
                return None  # the same card-day with the same balance: nothing new
        if reasons or on is None or fen is None:
            self.errors.append(LineError(row.line, "；".join(reasons)))
            return None
        return BalanceRow(row.line, card_no, on, fen)

    def _check_day(self, on: date, reasons: list[str]) -> None:
        retired = self.bank.retired_on
        if retired is not None and on >= retired:
            reasons.append(f"{self.bank.name}自 {retired} 起已停止合作，不接收此后的余额")
        elif on >= self.today:
            # A closing balance exists only once the day has closed in Beijing.
            reasons.append(f"日期 {on} 尚未结束，当天结束后才能报送日终余额")

    def _check_card(self, card_no: str, reasons: list[str]) -> None:
        # One answer for "no such card" and "another bank's card": a bank must not learn from
        # its own file which numbers the other banks issued.
        if self.card_banks.get(card_no) != self.bank.id:
            reasons.append(f"卡号 {card_no or '（空）'} 不是本行（{self.bank.name}）已登记的会员卡")


def _header_map(headers: list[str]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    missing: list[LineError] = []
    for chinese, english in COLUMNS.items():
        if chinese in headers:
            mapping[chinese] = chinese
        elif english in headers:
            mapping[chinese] = english
        else:
            missing.append(LineError(1, f"缺少列“{chinese}”（或 {english}）"))
    if missing:
        raise ImportRejected(missing)
    return mapping


def _try(parse: Callable[[str], _T], text: str, reasons: list[str]) -> _T | None:
    try:
        return parse(text)
    except ValueError as error:
        reasons.append(str(error))
        return None


def _store(
    session: Session, rows: list[BalanceRow], sha256: str, batch: _Batch
) -> BalanceImportReport:
    bank, store, actor, now = batch.bank, batch.store, batch.actor, batch.now
    first, last = min(row.on for row in rows), max(row.on for row in rows)
    existing = parts.reads(
        store, parts.live_parts(session, *parts.overlapping(first, last), bank_id=bank.id)
    )
    part = store.part_for(bank.code, sha256)
    connection = store.analytics()
    try:
        with store.staging(
            (r.line, r.card_no, r.on.isoformat(), r.balance_fen) for r in rows
        ) as path:
            connection.execute(
                f"CREATE TEMP TABLE incoming AS SELECT * FROM {staged(path, _STAGED_COLUMNS)}"
            )
        # The interpolated part is `scan()` over paths the database lists, never user input.
        conflicts = connection.execute(
            f"SELECT i.line, s.balance_fen FROM incoming i JOIN {scan(existing)} s "
            "USING (card_no, on_date) WHERE s.balance_fen <> i.balance_fen ORDER BY i.line"
        ).fetchall()
        if conflicts:
            raise ImportRejected(
                [
                    LineError(line, f"该卡该日已导入不同的日终余额（{format_fen(fen)}）")
                    for line, fen in conflicts
                ]
            )
        new_rows_query = (
            f"SELECT card_no, on_date, balance_fen FROM incoming ANTI JOIN {scan(existing)} s "
            "USING (card_no, on_date) ORDER BY card_no, on_date"
        )
        # An aggregate without GROUP BY: always exactly one row.
        new_rows, low_card, high_card, first_new, last_new = connection.execute(
            f"SELECT count(*), min(card_no), max(card_no), min(on_date), max(on_date) "
            f"FROM ({new_rows_query})"
        ).fetchall()[0]
        if new_rows:
            store.write_part(connection, new_rows_query, part)
    finally:
        connection.close()
    record = BalanceImport(
        bank_id=bank.id,
        sha256=sha256,
        source=batch.source.value,
        filename=batch.filename[:200],
        rows=len(rows),
        new_rows=new_rows,
        first_date=first,
        last_date=last,
        part_path=part if new_rows else None,
        imported_at=now,
        actor_label=actor.username,
    )
    try:
        # A savepoint: the same file sent twice at once is stored once, the second told so.
        with session.begin_nested():
            session.add(record)
            if new_rows:
                parts.record_part(
                    session,
                    bank_id=bank.id,
                    path=part,
                    span=(first_new, last_new),
                    rows=new_rows,
                    cards=(low_card, high_card),
                    now=now,
                )
    except IntegrityError:
        return BalanceImportReport(len(rows), 0, already_known=True)
    audit.record(
        session,
        actor=actor,
        at=now,
        action="balances.imported",
        target_type="balance_import",
        target_id=record.id,
        after={"bank": bank.code, "rows": len(rows), "new_rows": new_rows},
    )
    return BalanceImportReport(len(rows), new_rows, already_known=False)


def last_days_reported(session: Session, bank_ids: Sequence[int]) -> dict[int, date]:
    """The last day each bank's files reach; a bank that never sent a file is absent."""
    rows = session.execute(
        select(BalanceImport.bank_id, func.max(BalanceImport.last_date))
        .where(BalanceImport.bank_id.in_(bank_ids))
        .group_by(BalanceImport.bank_id)
    )
    return {bank_id: last for bank_id, last in rows if last is not None}
