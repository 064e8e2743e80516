"""The append-only audit log: who did what, when, to what, with the values before and after.

Rows are only ever inserted; the migration adds triggers that refuse UPDATE and DELETE.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from gonghui.core.auth import Actor
from gonghui.core.db import Base


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
    more than the insert. No entry object comes back; a bad value fails here, not at flush."""
    session.execute(_INSERT, _row(actor, at, action, target_type, target_id, before, after))


# Built once; `inline()`: no RETURNING of the new id, which `append` does not give back.
_INSERT = insert(AuditEntry.metadata.tables[AuditEntry.__tablename__]).inline()


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
        "actor_label": f"{actor.username}({actor.display_name})",
        "action": action,
        "target_type": target_type,
        "target_id": str(target_id),
        "before": before,
        "after": after,
    }


def changes(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the fields that differ, for a compact before/after pair."""
    keys = [key for key in after if before.get(key) != after[key]]
    return {key: before.get(key) for key in keys}, {key: after[key] for key in keys}
