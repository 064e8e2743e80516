"""The append-only audit log: who did what, when, to what, with the values before and after.

Rows are only ever inserted; the migration adds triggers that refuse UPDATE and DELETE (except
a retention purge a checkpoint covers). Each row is chained when its transaction commits; see
`audit_chain`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, insert
from sqlalchemy.orm import Mapped, Session, SessionTransaction, mapped_column

from gonghui.core.auth import Actor
from gonghui.core.db import Base

# Views of personal information (the one kind of row a GET writes); the 我的数据 page lists
# the first as "who saw my full ID number".
ID_VIEWED = "member.id_viewed"
ID_EXPORTED = "member.ids_exported"
DOCUMENT_VIEWED = "claim.document_viewed"
CLAIM_VIEWED = "claim.viewed"


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor_user_id: Mapped[int | None]
    actor_token_id: Mapped[int | None]
    actor_label: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64), index=True)
    target_type: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)


def record(
    session: Session,
    *,
    actor: Actor,
    at: datetime,
    action: str,
    target_type: str,
    target_id: object,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    entry = AuditEntry(**_row(actor, at, action, target_type, target_id, before, after))
    session.add(entry)
    session.info.setdefault(PENDING_LINKS, []).append(entry)
    return entry


def append(
    session: Session,
    *,
    actor: Actor,
    at: datetime,
    action: str,
    target_type: str,
    target_id: object,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """The same row as `record`, inserted at once by one Core INSERT instead of through the
    unit of work: for hot paths (the wallet's transfers), where the flush's bookkeeping costs
    more than the insert. No entry object comes back; a bad value fails here, not at flush.
    The chain hashes the row from the values kept here (`Written`), not from a second read."""
    row = _row(actor, at, action, target_type, target_id, before, after)
    new_id = session.execute(_INSERT, row).scalar_one()
    row["id"] = new_id
    # The JSON columns as they will read back (a tuple as a list, an int key as text): the
    # hash must cover what is stored, which `audit_chain.verify` reads.
    row["before"], row["after"] = _as_stored(before), _as_stored(after)
    within = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(PENDING_LINKS, []).append(Written(within, row))


# What an entry is written with (all but its id), in the order the chain hashes them: a set-based
# INSERT … SELECT names these columns, and `audit_chain` hashes the id and these.
WRITTEN = (
    "at",
    "actor_user_id",
    "actor_token_id",
    "actor_label",
    "action",
    "target_type",
    "target_id",
    "before",
    "after",
)
# The table, for a set-based INSERT … SELECT of many rows (see `chain_at_commit`).
TABLE = AuditEntry.metadata.tables[AuditEntry.__tablename__]
# Built once. The new id comes back so that the commit can chain the row.
_INSERT = insert(TABLE).returning(TABLE.c.id)


def chain_at_commit(session: Session, ids: Iterable[int]) -> None:
    """Rows a batch inserted into `TABLE` itself (one INSERT … SELECT … RETURNING id for a
    thousand rows, where `append` would be a thousand statements): chained at commit as
    `append`'s rows are. The rows must be built as `append` builds them."""
    session.info.setdefault(PENDING_LINKS, []).extend(ids)


# Session.info key: this transaction's audit rows (entries, ids, or `Written`), chained at
# commit.
PENDING_LINKS = "gonghui_audit_pending"


@dataclass(frozen=True)
class Written:
    """A row `append` inserted, with the values it was written with (its id and `WRITTEN`), and
    the transaction or savepoint it was written in: dropped if that one rolls back."""

    within: SessionTransaction | None
    row: dict[str, Any]


def _as_stored(value: dict[str, Any] | None) -> Any:
    # The engines serialise JSON with `json.dumps` and read it with `json.loads` (the
    # SQLAlchemy default; `db.make_engine` sets no other).
    return None if value is None else json.loads(json.dumps(value))


def _row(
    actor: Actor,
    at: datetime,
    action: str,
    target_type: str,
    target_id: object,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> dict[str, Any]:
    return {
        "at": at,
        "actor_user_id": actor.user_id,
        "actor_token_id": actor.token_id,
        "actor_label": label_of(actor),
        "action": action,
        "target_type": target_type,
        "target_id": str(target_id),
        "before": before,
        "after": after,
    }


def label_of(actor: Actor) -> str:
    return f"{actor.username}({actor.display_name})"


def changes(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the fields that differ, for a compact before/after pair."""
    keys = [key for key in after if before.get(key) != after[key]]
    return {key: before.get(key) for key in keys}, {key: after[key] for key in keys}


# Registers the commit hook that chains the rows (it needs the names above).
from gonghui.core import audit_chain  # noqa: E402, F401
