"""The index of balance parts: which columnar files readers open, their compaction and purge,
and how an assessment's recorded parts are found again after they were compacted.

The list of live parts is kept by hand in the database (`BalancePart`), not by a table format:
the README's "Balance parts" section gives the measured comparison with Iceberg and Delta.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import Session

from gonghui.core import audit
from gonghui.core.auth import Actor, Permission
from gonghui.core.clock import business_date
from gonghui.core.errors import InvalidInput
from gonghui.core.logging import get_logger
from gonghui.insurance.models import BalancePart
from gonghui.insurance.rules import Period, PeriodKind, period_containing
from gonghui.insurance.store import DATA_PAGE_BYTES, ROW_GROUP_ROWS, BalanceStore, PartRead
from gonghui.members import queries as member_queries

log = get_logger(__name__)

# A replaced part's file is removed this long after the swap. Readers list parts and open them
# within one request or one assessment (minutes at a province's size); a day leaves room for
# the longest of them. Snapshots do not need the file: they read the merged part instead.
REPLACED_PARTS_KEPT = timedelta(days=1)


def record_part(
    session: Session,
    *,
    bank_id: int,
    path: str,
    span: tuple[date, date],
    rows: int,
    cards: tuple[str, str],
    now: datetime,
    merged: bool = False,
) -> BalancePart:
    part = BalancePart(
        bank_id=bank_id,
        path=path,
        first_date=span[0],
        last_date=span[1],
        rows=rows,
        min_card_no=cards[0],
        max_card_no=cards[1],
        compacted=merged,
        created_at=now,
    )
    session.add(part)
    session.flush()
    return part


def live_parts(
    session: Session,
    *conditions: ColumnElement[bool],
    bank_id: int | None = None,
    card_no: str | None = None,
) -> list[BalancePart]:
    """Parts readers open now (not replaced by a compaction), oldest first; of one bank, and
    only those whose card range may hold `card_no`, when given."""
    statement = select(BalancePart).where(BalancePart.replaced_by_id.is_(None), *conditions)
    if bank_id is not None:
        statement = statement.where(BalancePart.bank_id == bank_id)
    if card_no is not None:
        statement = statement.where(
            BalancePart.min_card_no <= card_no, BalancePart.max_card_no >= card_no
        )
    return list(session.scalars(statement.order_by(BalancePart.id)))


def overlapping(first: date, last: date) -> list[ColumnElement[bool]]:
    return [BalancePart.first_date <= last, BalancePart.last_date >= first]


def before(day: date) -> list[ColumnElement[bool]]:
    return [BalancePart.first_date < day]


def reads(store: BalanceStore, parts: Iterable[BalancePart]) -> list[PartRead]:
    return [PartRead(store.absolute(part.path), merged=part.compacted) for part in parts]


def snapshot_reads(
    session: Session, store: BalanceStore, part_ids: Sequence[int]
) -> list[PartRead]:
    """The rows exactly as the parts `part_ids` held them when an assessment read them: each
    part's own file while it is on disk, else the merged part that took it in, restricted to
    the rows that came from it."""
    index = {part.id: part for part in session.scalars(select(BalancePart))}
    children: dict[int, list[int]] = {}
    for part in index.values():
        if part.replaced_by_id is not None:
            children.setdefault(part.replaced_by_id, []).append(part.id)

    def origins(part_id: int) -> set[int]:
        below = children.get(part_id, [])
        if not index[part_id].compacted or not below:
            return {part_id}
        return set().union(*(origins(child) for child in below))

    found: list[PartRead] = []
    for part_id in part_ids:
        carrier = index[part_id]
        while carrier.replaced_by_id is not None and (
            carrier.purged_at is not None or not store.absolute(carrier.path).exists()
        ):
            carrier = index[carrier.replaced_by_id]
        path = store.absolute(carrier.path)
        if carrier.id == part_id:
            found.append(PartRead(path, merged=carrier.compacted))
        else:
            found.append(PartRead(path, merged=True, sources=tuple(sorted(origins(part_id)))))
    return found


@dataclass(frozen=True)
class CompactionReport:
    month: str
    banks: int
    parts_replaced: int
    rows: int
    # The last day merged of a month still running (`compact_month_so_far`); None for a month
    # merged whole.
    through: str | None = None

    @property
    def summary(self) -> str:
        label = self.month
        if self.through is not None:
            day = date.fromisoformat(self.through)
            label = f"{self.month}（截至{day.month}月{day.day}日）"
        if not self.parts_replaced:
            return f"{label}：没有需要合并的余额分片"
        return (
            f"{label}：{self.banks} 家银行的 {self.parts_replaced} 个余额分片已合并，"
            f"共 {self.rows} 行"
        )


def compact_month(
    session: Session, store: BalanceStore, month: date, *, actor: Actor, now: datetime
) -> CompactionReport:
    """Merge each bank's live parts lying wholly inside a closed month into one part sorted by
    card number, and swap it in for them in one transaction. A file spanning two months stays as
    it is. Run again after a late file, it merges the merged part with the new one."""
    actor.require(Permission.INSURANCE_MANAGE)
    period = period_containing(month, PeriodKind.MONTH)
    if period.end >= business_date(now):
        raise InvalidInput("month_open", f"{period.code} 尚未结束，期满后才能合并余额分片")
    return _compact(session, store, period, CompactionReport(period.code, 0, 0, 0), actor, now)


def compact_month_so_far(
    session: Session, store: BalanceStore, *, actor: Actor, now: datetime
) -> CompactionReport:
    """The same merge over the current month's days that have ended (Beijing): run each day, it
    merges the new day's parts with the month's merged part, so that a read of the month so far
    (本月截至昨日日均) opens one part and the few files come in since, not one file per day.
    Only the layout changes: readers still read exactly the rows of the live parts."""
    actor.require(Permission.INSURANCE_MANAGE)
    today = business_date(now)
    month = period_containing(today, PeriodKind.MONTH)
    yesterday = today - timedelta(days=1)
    report = CompactionReport(month.code, 0, 0, 0, through=yesterday.isoformat())
    if today == month.start:
        return report
    return _compact(session, store, Period(month.start, yesterday), report, actor, now)


def _compact(
    session: Session,
    store: BalanceStore,
    span: Period,
    report: CompactionReport,
    actor: Actor,
    now: datetime,
) -> CompactionReport:
    banks = replaced = rows = 0
    for bank in member_queries.all_banks(session):
        parts = _compactable(session, bank.id, span)
        if len(parts) <= 1 and all(part.compacted for part in parts):
            continue
        merged = _merge(session, store, bank.code, bank.id, parts, span, now)
        banks, replaced, rows = banks + 1, replaced + len(parts), rows + merged.rows
    report = replace(report, banks=banks, parts_replaced=replaced, rows=rows)
    if replaced:
        log.info("insurance.parts_compacted", **report.__dict__)
        audit.record(
            session,
            actor=actor,
            at=now,
            action="balances.compacted",
            target_type="balance_month",
            target_id=report.month,
            after=report.__dict__,
        )
    return report


def _compactable(session: Session, bank_id: int, period: Period) -> list[BalancePart]:
    # Locked (on PostgreSQL) so two compactions of one month cannot both replace a part.
    return list(
        session.scalars(
            select(BalancePart)
            .where(
                BalancePart.bank_id == bank_id,
                BalancePart.replaced_by_id.is_(None),
                BalancePart.first_date >= period.start,
                BalancePart.last_date <= period.end,
            )
            .order_by(BalancePart.id)
            .with_for_update()
        )
    )


def _merge(
    session: Session,
    store: BalanceStore,
    bank_code: str,
    bank_id: int,
    parts: list[BalancePart],
    period: Period,
    now: datetime,
) -> BalancePart:
    relative = f"balances/{bank_code}/merged/{period.code}-{secrets.token_hex(6)}.parquet"
    pieces = []
    for part in parts:
        path = str(store.absolute(part.path)).replace("'", "''")
        source = "source_part" if part.compacted else f"{int(part.id)}::BIGINT AS source_part"
        pieces.append(f"SELECT card_no, on_date, balance_fen, {source} FROM read_parquet('{path}')")
    with store.analytics() as connection:
        _write_sorted(store, connection, " UNION ALL ".join(pieces), parts, relative)
        total, low, high, first, last = connection.execute(
            "SELECT count(*), min(card_no), max(card_no), min(on_date), max(on_date) "
            "FROM read_parquet($path)",
            {"path": str(store.absolute(relative))},
        ).fetchall()[0]
    merged = record_part(
        session,
        bank_id=bank_id,
        path=relative,
        span=(first, last),
        rows=int(total),
        cards=(str(low), str(high)),
        now=now,
        merged=True,
    )
    swapped = session.execute(
        update(BalancePart)
        .where(
            BalancePart.id.in_([part.id for part in parts]), BalancePart.replaced_by_id.is_(None)
        )
        .values(replaced_by_id=merged.id, replaced_at=now)
    )
    if swapped.rowcount != len(parts):  # type: ignore[attr-defined]
        raise InvalidInput("compaction_conflict", "另一合并任务正在处理同一月份，请稍后再试")
    return merged


# Rows sorted in one go: a month of a million cards (31 million rows) sorted at once does not
# fit DuckDB's 2 GB budget, so the merge sorts a card range at a time; the daily parts are
# themselves sorted by card, so each range reads only its row groups.
ROWS_PER_SORT = 2_000_000
CUT_SAMPLE_ROWS = 100_000
_MERGED = pa.schema(
    [
        ("card_no", pa.string()),
        ("on_date", pa.date32()),
        ("balance_fen", pa.int64()),
        ("source_part", pa.int64()),
    ]
)


def _write_sorted(
    store: BalanceStore,
    connection: duckdb.DuckDBPyConnection,
    rows: str,
    sources: list[BalancePart],
    relative: str,
) -> None:
    """`rows` written to `relative` sorted by card and day, atomically."""
    largest = max(sources, key=lambda part: part.rows)
    ranges = sum(part.rows for part in sources) // ROWS_PER_SORT + 1
    edges: list[str | None] = [None, None]
    if ranges > 1:
        # From a sample: an exact quantile holds every card number in memory, 1.4 GB for a
        # month's merged part at 1,000,000 cards. The cuts only size the ranges; any cuts give
        # the same file.
        cut = connection.execute(
            "SELECT quantile_disc(card_no, $at) FROM (SELECT card_no FROM read_parquet($path) "
            f"USING SAMPLE reservoir({CUT_SAMPLE_ROWS} ROWS))",
            {
                "at": [n / ranges for n in range(1, ranges)],
                "path": str(store.absolute(largest.path)),
            },
        ).fetchall()[0][0]
        edges = [None, *sorted(set(cut)), None]
    target = store.absolute(relative)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_suffix(".tmp")
    with pq.ParquetWriter(
        temporary, _MERGED, write_page_index=True, data_page_size=DATA_PAGE_BYTES
    ) as writer:
        pending: list[pa.Table] = []
        for low, high in itertools.pairwise(edges):
            # Plain comparisons (no "IS NULL OR"), which DuckDB checks against row-group stats.
            bounds = {"low": low, "high": high}
            conditions = [
                condition
                for condition, edge in (("card_no > $low", low), ("card_no <= $high", high))
                if edge is not None
            ]
            where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
            batches = connection.sql(
                f"SELECT card_no, on_date, balance_fen, source_part FROM ({rows}) m {where} "
                "ORDER BY card_no, on_date",
                params={key: value for key, value in bounds.items() if value is not None},
            ).to_arrow_reader(ROW_GROUP_ROWS)
            for batch in batches:
                pending.append(pa.Table.from_batches([batch]).cast(_MERGED))
                if sum(len(table) for table in pending) >= ROW_GROUP_ROWS:
                    pending = [_write_row_groups(writer, pending, whole_only=True)]
        _write_row_groups(writer, pending, whole_only=False)
    temporary.replace(target)


def _write_row_groups(
    writer: pq.ParquetWriter, tables: list[pa.Table], *, whole_only: bool
) -> pa.Table:
    """Write `tables` as row groups of ROW_GROUP_ROWS (DuckDB hands batches over smaller than
    that: gathered, they make a small footer); with `whole_only`, the rows short of a whole
    group are returned to be written with the next ones."""
    table = pa.concat_tables(tables)
    cut = len(table) // ROW_GROUP_ROWS * ROW_GROUP_ROWS if whole_only else len(table)
    if cut:
        writer.write_table(table.slice(0, cut), row_group_size=ROW_GROUP_ROWS)
    return table.slice(cut)


def purge_replaced(session: Session, store: BalanceStore, now: datetime) -> int:
    """Remove the files of parts replaced more than `REPLACED_PARTS_KEPT` ago."""
    due = list(
        session.scalars(
            select(BalancePart).where(
                BalancePart.replaced_at < now - REPLACED_PARTS_KEPT,
                BalancePart.purged_at.is_(None),
            )
        )
    )
    for part in due:
        part.purged_at = now
    session.flush()
    # A rollback after this leaves parts marked unpurged whose files are gone: nothing lists
    # them as live, and `snapshot_reads` goes by what is on disk. A failed removal leaves litter.
    for part in due:
        try:
            store.absolute(part.path).unlink(missing_ok=True)
        except OSError as error:
            log.warning("insurance.part_purge_failed", path=part.path, error=str(error))
    return len(due)
