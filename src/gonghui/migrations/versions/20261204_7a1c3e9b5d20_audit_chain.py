"""audit chain: links, head, checkpoints; the rows already there are chained in id order

Revision ID: 7a1c3e9b5d20
Revises: b7c41e2d9a05
Create Date: 2026-12-04 17:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import gonghui.core.db
from gonghui.core.append_only import allow_changes_to, forbid_changes_to
from gonghui.core.audit_chain import GENESIS, chain_links

revision: str = "7a1c3e9b5d20"
down_revision: str | None = "b7c41e2d9a05"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# The audit_log columns as this revision knows them (not the model, which may grow later).
_AUDIT = sa.table(
    "audit_log",
    sa.column("id", _ID),
    sa.column("at", gonghui.core.db.UTCDateTime(timezone=True)),
    sa.column("actor_user_id", _ID),
    sa.column("actor_token_id", _ID),
    sa.column("actor_label", sa.String()),
    sa.column("action", sa.String()),
    sa.column("target_type", sa.String()),
    sa.column("target_id", sa.String()),
    sa.column("before", sa.JSON()),
    sa.column("after", sa.JSON()),
)

# A DELETE of an audit row or link goes through only when a purge's checkpoint covers it.
_COVERED_ROW = (
    "EXISTS (SELECT 1 FROM audit_chain c JOIN audit_checkpoints k ON c.seq <= k.through_seq "
    "WHERE c.audit_id = OLD.id AND OLD.at < k.cutoff)"
)
_COVERED_LINK = "OLD.seq <= (SELECT COALESCE(MAX(through_seq), 0) FROM audit_checkpoints)"


def upgrade() -> None:
    op.create_table(
        "audit_chain",
        sa.Column("seq", _ID, autoincrement=False, nullable=False),
        sa.Column("audit_id", _ID, nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_chain")),
        sa.UniqueConstraint("audit_id", name=op.f("uq_audit_chain_audit_id")),
    )
    head = op.create_table(
        "audit_chain_head",
        sa.Column("id", _ID, autoincrement=False, nullable=False),
        sa.Column("seq", _ID, nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_chain_head")),
    )
    op.create_table(
        "audit_checkpoints",
        sa.Column("id", _ID, nullable=False),
        sa.Column("at", gonghui.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("through_seq", _ID, nullable=False),
        sa.Column("through_hash", sa.String(length=64), nullable=False),
        sa.Column("cutoff", gonghui.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("purged", _ID, nullable=False),
        sa.Column("actor_label", sa.String(length=100), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_checkpoints")),
    )
    _chain_existing_rows(head)
    forbid_changes_to("audit_checkpoints")
    allow_changes_to("audit_log")
    _guard_deletes()


def _chain_existing_rows(head: sa.Table | None) -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.select(_AUDIT).order_by(_AUDIT.c.id)).mappings().all()
    links = chain_links(GENESIS, 0, rows)
    if links:
        op.bulk_insert(sa.table("audit_chain", *(sa.column(n) for n in links[0])), links)
    last = links[-1] if links else {"seq": 0, "hash": GENESIS}
    assert head is not None  # noqa: S101 - create_table returns the table
    op.bulk_insert(head, [{"id": 1, "seq": last["seq"], "hash": last["hash"]}])


def _guard_deletes() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            # Nested IFs: plpgsql does not promise to stop at the first false AND, and OLD of
            # one table lacks the other's columns.
            "CREATE OR REPLACE FUNCTION gonghui_audit_guard() RETURNS trigger AS $$ BEGIN "
            "IF TG_OP = 'DELETE' THEN "
            f"IF TG_TABLE_NAME = 'audit_log' THEN IF {_COVERED_ROW} THEN RETURN OLD; END IF; "
            f"ELSIF {_COVERED_LINK} THEN RETURN OLD; END IF; END IF; "
            "RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE OR REPLACE FUNCTION gonghui_audit_head_forward() RETURNS trigger AS $$ "
            "BEGIN IF NEW.seq < OLD.seq THEN RAISE EXCEPTION 'the audit chain head only moves "
            "forward'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
        )
        for table in ("audit_log", "audit_chain"):
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION gonghui_audit_guard()"
            )
        op.execute(
            "CREATE TRIGGER audit_chain_head_forward BEFORE UPDATE OR DELETE ON "
            "audit_chain_head FOR EACH ROW EXECUTE FUNCTION gonghui_audit_head_forward()"
        )
        return
    for table, covered in (("audit_log", _COVERED_ROW), ("audit_chain", _COVERED_LINK)):
        op.execute(
            f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} WHEN NOT {covered} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
        )
    op.execute(
        "CREATE TRIGGER audit_chain_head_forward BEFORE UPDATE ON audit_chain_head "
        "WHEN NEW.seq < OLD.seq "
        "BEGIN SELECT RAISE(ABORT, 'the audit chain head only moves forward'); END"
    )
    op.execute(
        "CREATE TRIGGER audit_chain_head_no_delete BEFORE DELETE ON audit_chain_head "
        "BEGIN SELECT RAISE(ABORT, 'the audit chain head stays'); END"
    )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for table in ("audit_log", "audit_chain"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute("DROP TRIGGER IF EXISTS audit_chain_head_forward ON audit_chain_head")
    else:
        for table in ("audit_log", "audit_chain"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
        op.execute("DROP TRIGGER IF EXISTS audit_chain_head_forward")
        op.execute("DROP TRIGGER IF EXISTS audit_chain_head_no_delete")
    allow_changes_to("audit_checkpoints")
    forbid_changes_to("audit_log")
    op.drop_table("audit_checkpoints")
    op.drop_table("audit_chain_head")
    op.drop_table("audit_chain")
