"""two factor, password history, session idle time, one duty per administrator

Revision ID: d18f9c6194fb
Revises: b7d4e2a91c05
Create Date: 2026-12-04 17:26:16.983113
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import gonghui.core.db
from gonghui.core.append_only import allow_changes_to, forbid_changes_to

revision: str = "d18f9c6194fb"
down_revision: str | None = "b7d4e2a91c05"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out, not imported: a later role needs its own migration.
_ROLES = (
    "'member', 'unit_officer', 'federation_staff', 'bank_operator', 'insurer_adjuster', "
    "'station_manager', 'insurance_agency', 'insured', 'admin', 'security_admin', 'audit_admin'"
)
_ADMINS = "'admin', 'security_admin', 'audit_admin'"


def upgrade() -> None:
    op.create_table(
        "password_history",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("set_at", gonghui.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_password_history_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_history")),
    )
    with op.batch_alter_table("password_history", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_password_history_user_id"), ["user_id"], unique=False)

    op.create_table(
        "recovery_codes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("used_at", gonghui.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_recovery_codes_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_codes")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_recovery_codes_code_hash")),
    )
    with op.batch_alter_table("recovery_codes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_recovery_codes_user_id"), ["user_id"], unique=False)

    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("factor", sa.String(length=16), server_default="password", nullable=False)
        )
    with op.batch_alter_table("user_sessions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("last_seen_at", gonghui.core.db.UTCDateTime(timezone=True), nullable=True)
        )
    # Only nullable columns or ones with a default: SQLite adds those in place, where a rebuild
    # of `users` would trip over the tables that refer to it.
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "password_changed_at", gonghui.core.db.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch_op.add_column(
            sa.Column(
                "must_change_password", sa.Boolean(), server_default=sa.false(), nullable=False
            )
        )
        batch_op.add_column(sa.Column("totp_secret", sa.String(length=200), nullable=True))
        batch_op.add_column(
            sa.Column("totp_enabled_at", gonghui.core.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "totp_last_step",
                sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                nullable=True,
            )
        )
    # Existing passwords count from the account's creation, and are the first of its history.
    op.execute("UPDATE users SET password_changed_at = created_at")
    op.execute(
        "INSERT INTO password_history (user_id, password_hash, set_at) "
        "SELECT id, password_hash, created_at FROM users"
    )
    forbid_changes_to("password_history")
    _one_known_role_and_duty()


def _one_known_role_and_duty() -> None:
    """The role is one of the known ones, and an administrator's account never moves to
    another administrator's duty (三权分立): a new duty is a new account."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"ALTER TABLE users ADD CONSTRAINT ck_users_known_role CHECK (role IN ({_ROLES}))"
        )
        op.execute(
            "CREATE OR REPLACE FUNCTION gonghui_one_duty() RETURNS trigger AS $$ BEGIN "
            f"IF OLD.role IN ({_ADMINS}) AND NEW.role IN ({_ADMINS}) AND NEW.role <> OLD.role "
            "THEN RAISE EXCEPTION 'an administrator account keeps its one duty'; END IF; "
            "RETURN NEW; END $$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE TRIGGER users_one_duty BEFORE UPDATE OF role ON users "
            "FOR EACH ROW EXECUTE FUNCTION gonghui_one_duty()"
        )
        return
    # SQLite cannot add a CHECK to a table in place: triggers stand in for it.
    for event in ("INSERT", "UPDATE OF role"):
        name = "users_known_role_" + event.split()[0].lower()
        op.execute(
            f"CREATE TRIGGER {name} BEFORE {event} ON users WHEN NEW.role NOT IN ({_ROLES}) "
            "BEGIN SELECT RAISE(ABORT, 'unknown role'); END"
        )
    op.execute(
        "CREATE TRIGGER users_one_duty BEFORE UPDATE OF role ON users "
        f"WHEN OLD.role IN ({_ADMINS}) AND NEW.role IN ({_ADMINS}) AND NEW.role <> OLD.role "
        "BEGIN SELECT RAISE(ABORT, 'an administrator account keeps its one duty'); END"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS users_one_duty ON users")
        op.execute("DROP FUNCTION IF EXISTS gonghui_one_duty()")
        op.execute("ALTER TABLE users DROP CONSTRAINT IF EXISTS ck_users_known_role")
    else:
        for name in ("users_known_role_insert", "users_known_role_update", "users_one_duty"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    allow_changes_to("password_history")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("totp_last_step")
        batch_op.drop_column("totp_enabled_at")
        batch_op.drop_column("totp_secret")
        batch_op.drop_column("must_change_password")
        batch_op.drop_column("password_changed_at")
    with op.batch_alter_table("user_sessions", schema=None) as batch_op:
        batch_op.drop_column("last_seen_at")
    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.drop_column("factor")
    with op.batch_alter_table("recovery_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recovery_codes_user_id"))
    op.drop_table("recovery_codes")
    with op.batch_alter_table("password_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_password_history_user_id"))
    op.drop_table("password_history")
