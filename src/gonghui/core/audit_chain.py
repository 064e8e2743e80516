"""The tamper-evident chain over the audit log (等保 2.0 level 3, GB/T 22239-2019 8.1.4.3).

Every committed audit row gets one link: its place in the chain (`seq`), the hash of the link
before it, and a SHA-256 over the row's canonical content and that previous hash. Changing,
removing or slipping in a row anywhere breaks the hashes from there on; `verify` walks the
chain and names the first row that does not fit.

Links are made when a transaction commits, not when the row is written: appending a link
locks the one-row chain head, and taking that lock last (after every row lock a service took)
means it cannot deadlock against them, and is held only for the commit itself. Writers on
SQLite already queue at BEGIN IMMEDIATE. So the chain runs in commit order, which is the order
in which rows became visible, and two concurrent writers can never both link onto one head.

A purge (retention, 网络安全法 art. 21: at least six months) removes a prefix of the chain and
first records a checkpoint with the seq and hash it ended at; verification starts from the
latest checkpoint. The database refuses a DELETE of an audit row or link no checkpoint covers.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    LargeBinary,
    String,
    bindparam,
    delete,
    event,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.orm import Mapped, Session, SessionTransaction, mapped_column

from gonghui.core.audit import PENDING_LINKS, WRITTEN, AuditEntry, Written
from gonghui.core.committed import inside
from gonghui.core.db import Base, table_of

GENESIS = "0" * 64
# 网络安全法 art. 21: network logs are kept no less than six months.
MIN_RETENTION_DAYS = 180
_BATCH = 1000
_NO_END = 2**62


class AuditLink(Base):
    __tablename__ = "audit_chain"

    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    audit_id: Mapped[int] = mapped_column(unique=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditChainHead(Base):
    """One row (id 1): the last link's seq and hash, locked by whoever appends."""

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    seq: Mapped[int]
    hash: Mapped[str] = mapped_column(String(64))


class AuditLinkDue(Base):
    """An audit row a server-side function wrote (the wallet's one-call transfers), with its
    canonical bytes: a deferred trigger links it onto the chain when its transaction commits
    and removes it (PostgreSQL), so the table is empty between transactions. The head's lock
    is then taken inside the commit itself, after everything else the transaction does."""

    __tablename__ = "audit_links_due"

    audit_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    content: Mapped[bytes] = mapped_column(LargeBinary)


class AuditCheckpoint(Base):
    """Where a purge cut the chain: links up to `through_seq` are gone, and the next one must
    follow `through_hash`."""

    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    through_seq: Mapped[int]
    through_hash: Mapped[str] = mapped_column(String(64))
    cutoff: Mapped[datetime]
    purged: Mapped[int]
    actor_label: Mapped[str] = mapped_column(String(100))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)


_CONTENT = ("id", *WRITTEN)


def canonical(row: Mapping[Any, Any]) -> bytes:
    """The row as hashed: every column, the instant as UTC ISO text, JSON with sorted keys, so
    the same stored row always gives the same bytes on either database."""
    content = {name: row[name] for name in _CONTENT}
    at: datetime = content["at"]
    content["at"] = at.astimezone(UTC).isoformat(timespec="microseconds")
    return canonical_json(content).encode()


def canonical_json(value: Any) -> str:
    """JSON as the chain hashes it: sorted keys, no spaces, text as itself (no \\u escapes
    but for control characters). The wallet's server-side functions are given a row's `after`
    this way, and spell the rest of `canonical` in SQL (`gonghui_audit_canonical`)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def link_hash(prev_hash: str, seq: int, row: Mapping[Any, Any]) -> str:
    """The link's hash (PostgreSQL's link at commit spells the same rule in SQL: `_LINK_ALL`,
    and so does the wallet's one-call path: `gonghui_audit_link`)."""
    digest = hashlib.sha256()
    digest.update(f"{seq}:{prev_hash}:".encode())
    digest.update(canonical(row))
    return digest.hexdigest()


def chain_links(
    prev_hash: str, last_seq: int, rows: Iterable[Mapping[Any, Any]]
) -> list[dict[str, Any]]:
    """The links for rows appended after (`last_seq`, `prev_hash`), in the order given."""
    links = []
    for seq, row in enumerate(rows, start=last_seq + 1):
        this = link_hash(prev_hash, seq, row)
        links.append({"seq": seq, "audit_id": row["id"], "prev_hash": prev_hash, "hash": this})
        prev_hash = this
    return links


_AUDIT = table_of(AuditEntry)
_LINK = table_of(AuditLink)
_HEAD = table_of(AuditChainHead)

# The statements of the link at commit, built once (it runs in every writing transaction).
_ROWS = select(_AUDIT).where(_AUDIT.c.id.in_(bindparam("ids", expanding=True)))
_HEAD_LOCKED = select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == 1).with_for_update()
_NEW_LINKS = insert(_LINK)
_MOVE_HEAD = (
    update(_HEAD)
    .where(_HEAD.c.id == 1)
    .values(seq=bindparam("last_seq"), hash=bindparam("last_hash"))
)


# On PostgreSQL the whole link is one statement, hashed by the server: it locks the head, walks
# the rows from it (a recursive WITH, one step a row), inserts the links and moves the head, so
# that the head's lock is held for that statement and the commit, and no longer than that.
# Each step is `link_hash` spelt in SQL: SHA-256 over "seq:prev_hash:" and the row's canonical
# bytes (made in Python, `canonical`), in lowercase hex; `verify` checks it in Python. A head
# that waited for another writer's commit is read as that writer left it (SELECT … FOR UPDATE
# returns the row's newest version, and the UPDATE below applies to it).
_LINK_ALL = text(
    """
WITH RECURSIVE head AS (
  SELECT seq, hash FROM audit_chain_head WHERE id = 1 FOR UPDATE
), chain (n, seq, prev_hash, hash) AS (
  SELECT 0, seq, hash::text, hash::text FROM head
  UNION ALL
  SELECT n + 1, seq + 1, hash,
    encode(sha256(convert_to((seq + 1)::text || ':' || hash || ':', 'UTF8')
      || (CAST(:contents AS bytea[]))[n + 1]), 'hex')
  FROM chain WHERE n < cardinality(CAST(:contents AS bytea[]))
), links AS (
  INSERT INTO audit_chain (seq, audit_id, prev_hash, hash)
  SELECT seq, (CAST(:audit_ids AS bigint[]))[n], prev_hash, hash FROM chain WHERE n > 0
)
UPDATE audit_chain_head SET seq = last.seq, hash = last.hash
FROM (SELECT seq, hash FROM chain ORDER BY n DESC LIMIT 1) AS last
WHERE audit_chain_head.id = 1
"""
)
# Each step reads its row's bytes from an array by position, which PostgreSQL finds by walking
# the array: a step costs as many rows as it is from the start. A batch's thousands of rows are
# hashed in Python (three statements whatever their number) instead.
SERVER_LINKS_AT_MOST = 100


def _rows(session: Session, ids: Sequence[int]) -> list[Mapping[Any, Any]]:
    found: list[Mapping[Any, Any]] = []
    for start in range(0, len(ids), _BATCH):
        chunk = {"ids": ids[start : start + _BATCH]}
        found.extend(session.execute(_ROWS, chunk).mappings().all())
    return found


def link_pending(session: Session) -> None:
    """Chain this transaction's audit rows onto the head; called just before commit."""
    if session.in_nested_transaction():
        # A savepoint's release is not the commit: the enclosing transaction may still roll it
        # back, and with it links made for rows written before the savepoint.
        return
    pending = session.info.pop(PENDING_LINKS, None)
    if not pending:
        return
    rows = _pending_rows(session, pending)
    if not rows:
        return
    if len(rows) <= SERVER_LINKS_AT_MOST and session.get_bind().dialect.name == "postgresql":
        contents = [canonical(row) for row in rows]
        session.execute(_LINK_ALL, {"contents": contents, "audit_ids": [row["id"] for row in rows]})
        return
    head = session.execute(_HEAD_LOCKED).one()
    links = chain_links(head.hash, head.seq, rows)
    session.execute(_NEW_LINKS, links)
    session.execute(_MOVE_HEAD, {"last_seq": links[-1]["seq"], "last_hash": links[-1]["hash"]})


def _pending_rows(session: Session, pending: list[Any]) -> list[Mapping[Any, Any]]:
    """The rows to link, in id order: those `audit.append` wrote as they were written (a
    rolled-back savepoint's are dropped by `_drop_undone`), the others read back. Rows of a
    rolled-back savepoint are gone (an entry's id is None again, an id finds no row): only what
    is still there is linked."""
    # Everything the transaction still has to write goes first (its entries' ids, and row
    # locks of its own, which must come before the head's; see the module's docstring).
    session.flush()
    written = [item.row for item in pending if isinstance(item, Written)]
    others = [item for item in pending if not isinstance(item, Written)]
    found = (item if isinstance(item, int) else item.id for item in others)
    ids = sorted({audit_id for audit_id in found if audit_id is not None})
    rows = written + _rows(session, ids) if ids else written
    return sorted(rows, key=lambda row: row["id"])


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    link_pending(session)


@event.listens_for(Session, "after_soft_rollback")
def _drop_undone(session: Session, previous: SessionTransaction) -> None:
    pending = session.info.get(PENDING_LINKS)
    if pending:
        session.info[PENDING_LINKS] = [
            item
            for item in pending
            if not (isinstance(item, Written) and inside(item.within, previous))
        ]


@event.listens_for(Session, "after_transaction_end")
def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(PENDING_LINKS, None)


@dataclass(frozen=True)
class Verdict:
    checked: int
    broken_at: int | None = None  # the audit row id that does not fit
    reason: str = ""

    @property
    def ok(self) -> bool:
        return not self.reason


def latest_checkpoint(session: Session) -> AuditCheckpoint | None:
    return session.scalars(
        select(AuditCheckpoint).order_by(AuditCheckpoint.through_seq.desc()).limit(1)
    ).first()


def verify(session: Session, *, through: int | None = None) -> Verdict:
    """Walk the chain from the latest checkpoint; the first link that does not fit is named.
    With `through`, only the links up to that seq (what a purge is about to remove)."""
    checkpoint = latest_checkpoint(session)
    seq, prev = (checkpoint.through_seq, checkpoint.through_hash) if checkpoint else (0, GENESIS)
    checked = 0
    while True:
        batch = (
            session.execute(
                select(_LINK, _AUDIT)
                .join_from(_LINK, _AUDIT, _AUDIT.c.id == _LINK.c.audit_id, isouter=True)
                .where(_LINK.c.seq > seq, _LINK.c.seq <= (through or _NO_END))
                .order_by(_LINK.c.seq)
                .limit(_BATCH)
            )
            .mappings()
            .all()
        )
        for link in batch:
            if reason := _misfit(link, seq, prev):
                return Verdict(checked, link["audit_id"], reason)
            seq, prev = seq + 1, link["hash"]
            checked += 1
        if len(batch) < _BATCH:
            break
    if through is not None:
        return Verdict(checked)
    head = session.execute(select(_HEAD).where(_HEAD.c.id == 1)).one()
    if (head.seq, head.hash) != (seq, prev):
        return Verdict(checked, None, f"链尾不符：链头记为第 {head.seq} 条，实际到第 {seq} 条")
    unlinked = session.scalar(
        select(func.min(_AUDIT.c.id)).where(~_AUDIT.c.id.in_(select(_LINK.c.audit_id)))
    )
    if unlinked is not None:
        return Verdict(checked, unlinked, "记录不在链上（绕过审计写入）")
    return Verdict(checked)


def _misfit(link: Mapping[Any, Any], seq: int, prev: str) -> str:
    if link["seq"] != seq + 1:
        return f"链序号跳过：{seq} 之后是 {link['seq']}"
    if link["prev_hash"] != prev:
        return "前一条的哈希不符（其前有记录被改动或删除）"
    if link["id"] is None:
        return "审计记录已被删除"
    if link_hash(prev, seq + 1, link) != link["hash"]:
        return "记录内容与哈希不符（已被改动）"
    return ""


class RetentionTooShortError(ValueError):
    pass


class ChainBrokenError(RuntimeError):
    pass


def purge(
    session: Session, *, now: datetime, keep_days: int, actor_label: str
) -> AuditCheckpoint | None:
    """Remove the longest prefix of the chain whose rows are all older than `keep_days`; a
    younger row stops it (a row written late with an early time keeps everything after it).
    Nothing is purged from a part of the chain that does not verify: the evidence would go
    with it."""
    if keep_days < MIN_RETENTION_DAYS:
        msg = f"审计日志至少保留 {MIN_RETENTION_DAYS} 天（网络安全法第二十一条）"
        raise RetentionTooShortError(msg)
    cutoff = now - timedelta(days=keep_days)
    head = session.execute(select(_HEAD).where(_HEAD.c.id == 1).with_for_update()).one()
    checkpoint = latest_checkpoint(session)
    start = checkpoint.through_seq if checkpoint else 0
    first_young = session.scalar(
        select(func.min(_LINK.c.seq))
        .join(_AUDIT, _AUDIT.c.id == _LINK.c.audit_id)
        .where(_LINK.c.seq > start, _AUDIT.c.at >= cutoff)
    )
    through = head.seq if first_young is None else first_young - 1
    if through <= start:
        return None
    # Only what is about to go is checked (the whole chain is `gonghui audit verify`'s job).
    verdict = verify(session, through=through)
    if not verdict.ok:
        msg = f"审计链校验未通过，不清理：第 {verdict.broken_at} 条，{verdict.reason}"
        raise ChainBrokenError(msg)
    through_hash = session.scalar(select(_LINK.c.hash).where(_LINK.c.seq == through))
    assert through_hash is not None  # noqa: S101 - verified just above
    anchor = AuditCheckpoint(
        at=now,
        through_seq=through,
        through_hash=through_hash,
        cutoff=cutoff,
        purged=through - start,
        actor_label=actor_label,
        detail={"from_seq": start + 1, "keep_days": keep_days},
    )
    session.add(anchor)
    session.flush()
    # The database lets these DELETEs through only because the checkpoint now covers them.
    session.execute(
        delete(_AUDIT).where(
            _AUDIT.c.id.in_(select(_LINK.c.audit_id).where(_LINK.c.seq <= through))
        )
    )
    session.execute(delete(_LINK).where(_LINK.c.seq <= through))
    return anchor
