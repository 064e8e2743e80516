"""job tasks: one-off work started from a page or the API, with its progress

Revision ID: b7d4e2a91c05
Revises: 05118706d34d
Create Date: 2026-12-04 17:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import gonghui.core.db

revision: str = "b7d4e2a91c05"
down_revision: str | None = "05118706d34d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_INT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "job_tasks",
        sa.Column("id", BIG_INT, nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("started_by", sa.String(length=100), nullable=False),
        sa.Column("actor", sa.JSON(), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "queued",
                "running",
                "succeeded",
                "failed",
                name="taskstatus",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("attempt", BIG_INT, nullable=False),
        sa.Column("worker", sa.String(length=100), nullable=False),
        sa.Column("done", BIG_INT, nullable=False),
        sa.Column("total", BIG_INT, nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("result_url", sa.String(length=300), nullable=False),
        sa.Column("result_file", sa.String(length=300), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("created_at", gonghui.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", gonghui.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", gonghui.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_tasks")),
    )
    with op.batch_alter_table("job_tasks", schema=None) as batch_op:
        batch_op.create_index("ix_job_tasks_owner_id", ["owner", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("job_tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_job_tasks_owner_id")
    op.drop_table("job_tasks")
