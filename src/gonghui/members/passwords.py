"""Setting a password: the policy for the account's role, no reuse of the last few, the
history row, and when a privileged role's password has grown too old."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from gonghui.core.auth import (
    PASSWORD_HISTORY,
    PRIVILEGED_ROLES,
    STAFF_ROLES,
    Role,
    hash_password,
    password_problem,
    verify_password,
)
from gonghui.core.errors import InvalidInput
from gonghui.core.settings import Settings
from gonghui.members.models import PasswordHistory, User


def check_new_password(session: Session, user: User, password: str) -> None:
    """Refuse a password the role's policy or the account's history does not allow."""
    check_policy(user.role, password)
    recent = session.scalars(
        select(PasswordHistory.password_hash)
        .where(PasswordHistory.user_id == user.id)
        .order_by(PasswordHistory.id.desc())
        .limit(PASSWORD_HISTORY)
    )
    if any(verify_password(earlier, password) for earlier in recent):
        raise InvalidInput(
            "password_reused", f"新密码不能与最近{PASSWORD_HISTORY}次使用过的密码相同"
        )


def check_policy(role: Role, password: str) -> None:
    problem = password_problem(password, role)
    if problem is not None:
        raise InvalidInput("weak_password", problem)


def record_password(
    session: Session, user: User, password: str, *, initial: bool, at: datetime
) -> None:
    """Store a new password (already checked). An initial one, set by someone else for a staff
    account, must be changed by its holder before anything else. `at` is machine time."""
    user.password_hash = hash_password(password)
    user.password_changed_at = at
    user.must_change_password = initial and user.role in STAFF_ROLES
    session.flush()
    session.add(PasswordHistory(user_id=user.id, password_hash=user.password_hash, set_at=at))


def password_expired(user: User, settings: Settings, machine_now: datetime) -> bool:
    if settings.password_max_age_days == 0 or user.role not in PRIVILEGED_ROLES:
        return False
    changed = user.password_changed_at or user.created_at
    return machine_now - changed > timedelta(days=settings.password_max_age_days)
