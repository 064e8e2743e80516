"""balance parts index, assessment snapshots

Revision ID: b7e3c9a1d5f2
Revises: c4a7e91b2d60
Create Date: 2026-12-04 17:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import gonghui.core.db

revision: str = "b7e3c9a1d5f2"
down_revision: str | None = "c4a7e91b2d60"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "insurance_balance_parts",
        sa.Column("id", _ID, nullable=False),
        sa.Column("bank_id", _ID, nullable=False),
        sa.Column("path", sa.String(length=300), nullable=False),
        sa.Column("first_date", sa.Date(), nullable=False),
        sa.Column("last_date", sa.Date(), nullable=False),
        sa.Column("rows", _ID, nullable=False),
        sa.Column("min_card_no", sa.String(length=32), nullable=False),
        sa.Column("max_card_no", sa.String(length=32), nullable=False),
        sa.Column("compacted", sa.Boolean(), nullable=False),
        sa.Column("created_at", gonghui.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("replaced_by_id", _ID, nullable=True),
        sa.Column("replaced_at", gonghui.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("purged_at", gonghui.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["bank_id"], ["banks.id"], name=op.f("fk_insurance_balance_parts_bank_id_banks")
        ),
        sa.ForeignKeyConstraint(
            ["replaced_by_id"],
            ["insurance_balance_parts.id"],
            name=op.f("fk_insurance_balance_parts_replaced_by_id_insurance_balance_parts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_insurance_balance_parts")),
        sa.UniqueConstraint("path", name=op.f("uq_insurance_balance_parts_path")),
    )
    with op.batch_alter_table("insurance_balance_parts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_insurance_balance_parts_bank_id"), ["bank_id"], unique=False
        )
        batch_op.create_index(
            "ix_insurance_balance_parts_live", ["replaced_by_id", "first_date"], unique=False
        )
    # Parts written before the index existed: their card range is unknown, so it is set to one
    # that holds every card number ('' sorts before, '~' after, any digits or letters).
    op.execute(
        "INSERT INTO insurance_balance_parts (bank_id, path, first_date, last_date, rows, "
        "min_card_no, max_card_no, compacted, created_at) "
        "SELECT bank_id, part_path, first_date, last_date, new_rows, '', '~', false, imported_at "
        "FROM insurance_balance_imports WHERE part_path IS NOT NULL ORDER BY id"
    )

    op.create_table(
        "insurance_assessment_snapshots",
        sa.Column("id", _ID, nullable=False),
        sa.Column("run_id", _ID, nullable=False),
        sa.Column("plan_version_id", _ID, nullable=False),
        sa.Column("engine_version", _ID, nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("inside_parts", sa.JSON(), nullable=False),
        sa.Column("before_parts", sa.JSON(), nullable=False),
        sa.Column("holdings_path", sa.String(length=300), nullable=False),
        sa.Column("results_path", sa.String(length=300), nullable=False),
        sa.Column("cards_assessed", _ID, nullable=False),
        sa.Column("eligible", _ID, nullable=False),
        sa.Column("taken_at", gonghui.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_version_id"],
            ["insurance_plan_versions.id"],
            name=op.f("fk_insurance_assessment_snapshots_plan_version_id_insurance_plan_versions"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["insurance_assessment_runs.id"],
            name=op.f("fk_insurance_assessment_snapshots_run_id_insurance_assessment_runs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_insurance_assessment_snapshots")),
    )
    with op.batch_alter_table("insurance_assessment_snapshots", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_insurance_assessment_snapshots_run_id"), ["run_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("insurance_assessment_snapshots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_insurance_assessment_snapshots_run_id"))
    op.drop_table("insurance_assessment_snapshots")
    with op.batch_alter_table("insurance_balance_parts", schema=None) as batch_op:
        batch_op.drop_index("ix_insurance_balance_parts_live")
        batch_op.drop_index(batch_op.f("ix_insurance_balance_parts_bank_id"))
    op.drop_table("insurance_balance_parts")
