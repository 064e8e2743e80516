"""figure snapshots: dashboards' figures per scope, computed by a job

Revision ID: c4a7e91b2d60
Revises: d18f9c6194fb
Create Date: 2026-12-04 17:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import gonghui.core.db

revision: str = "c4a7e91b2d60"
down_revision: str | None = "d18f9c6194fb"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "figure_snapshots",
        sa.Column("board", sa.String(length=32), nullable=False),
        sa.Column("scope", sa.String(length=200), nullable=False),
        sa.Column("figures", sa.Text(), nullable=False),
        sa.Column("computed_at", gonghui.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revision", sa.String(length=32), nullable=False),
        sa.Column("stale", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("board", "scope", name=op.f("pk_figure_snapshots")),
    )


def downgrade() -> None:
    op.drop_table("figure_snapshots")
