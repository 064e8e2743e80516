"""partner banks: card prefixes and retirement; plan enrolment in spells with dates

Revision ID: 5c1e0d2a9f31
Revises: a733ab38e3e7
Create Date: 2026-12-04 14:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5c1e0d2a9f31"
down_revision: str | None = "a733ab38e3e7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("banks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("retired_on", sa.Date(), nullable=True))
    op.create_table(
        "bank_card_prefixes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("bank_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("prefix", sa.String(length=10), nullable=False),
        sa.ForeignKeyConstraint(
            ["bank_id"], ["banks.id"], name=op.f("fk_bank_card_prefixes_bank_id_banks")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_card_prefixes")),
        sa.UniqueConstraint("prefix", name=op.f("uq_bank_card_prefixes_prefix")),
    )
    with op.batch_alter_table("bank_card_prefixes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bank_card_prefixes_bank_id"), ["bank_id"], unique=False
        )
    # A unit may leave a plan and join again: one row per spell of membership.
    with op.batch_alter_table("insurance_plan_units", schema=None) as batch_op:
        batch_op.add_column(sa.Column("left_on", sa.Date(), nullable=True))
        batch_op.drop_constraint("uq_insurance_plan_units_plan_id_unit_id", type_="unique")
        batch_op.create_index(
            "ix_insurance_plan_units_plan_id_unit_id", ["plan_id", "unit_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("insurance_plan_units", schema=None) as batch_op:
        batch_op.drop_index("ix_insurance_plan_units_plan_id_unit_id")
        batch_op.create_unique_constraint(
            "uq_insurance_plan_units_plan_id_unit_id", ["plan_id", "unit_id"]
        )
        batch_op.drop_column("left_on")
    with op.batch_alter_table("bank_card_prefixes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bank_card_prefixes_bank_id"))
    op.drop_table("bank_card_prefixes")
    with op.batch_alter_table("banks", schema=None) as batch_op:
        batch_op.drop_column("retired_on")
