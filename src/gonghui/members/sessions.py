"""Signed-in browsers, kept on the server. The cookie carries a random id and nothing else
that matters; the table keeps its SHA-256, so a stolen database opens no session, and ending a
row (logout, a password change, an administrator) ends that browser for good."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gonghui.core import audit
from gonghui.core.auth import STAFF_ROLES, Actor, Permission, verify_password
from gonghui.core.errors import InvalidInput, NotFound
from gonghui.core.logging import get_logger
from gonghui.core.settings import Settings
from gonghui.members import passwords, second_factor
from gonghui.members.models import User, UserSession

log = get_logger("gonghui.sessions")


class EndReason:
    LOGOUT = "logout"
    BY_USER = "ended_by_user"
    PASSWORD_CHANGED = "password_changed"  # noqa: S105 - a reason, not a secret
    BY_ADMIN = "ended_by_admin"


# How stale a session's "last seen" may get before a request records it again: the idle
# timeout is counted in minutes, and a write on every request would serialise them on SQLite.
SEEN_RESOLUTION = timedelta(minutes=1)


class Gate(StrEnum):
    """What a signed-in user must do before anything else."""

    CHANGE_PASSWORD = "change_password"  # noqa: S105 - a step, not a secret
    PASSWORD_EXPIRED = "password_expired"  # noqa: S105
    ENROL_SECOND_FACTOR = "enrol_second_factor"


def gate_for(user: User, settings: Settings, machine_now: datetime) -> Gate | None:
    if user.must_change_password:
        return Gate.CHANGE_PASSWORD
    if passwords.password_expired(user, settings, machine_now):
        return Gate.PASSWORD_EXPIRED
    if second_factor.required_for(user, settings) and not second_factor.is_enrolled(user):
        return Gate.ENROL_SECOND_FACTOR
    return None


def _as_actor(user: User) -> Actor:
    return Actor(
        user_id=user.id, username=user.username, role=user.role, display_name=user.display_name
    )


def session_hash(clear: str) -> str:
    # 256 random bits: a plain SHA-256 makes the stored value useless to a database reader.
    return hashlib.sha256(clear.encode()).hexdigest()


def start_session(
    session: Session,
    user: User,
    *,
    client: str,
    user_agent: str,
    lifetime: timedelta,
    now: datetime,
    second_factor_used: str | None = None,
) -> str:
    """A new session for a user who just proved who they are; the clear id goes in the cookie.
    The sign-in is audited with how the user proved it and from where."""
    clear = secrets.token_urlsafe(32)
    session.add(
        UserSession(
            user_id=user.id,
            token_hash=session_hash(clear),
            created_at=now,
            expires_at=now + lifetime,
            client=client[:64],
            user_agent=user_agent[:200],
            ended_at=None,
            ended_reason=None,
            last_seen_at=now,
        )
    )
    audit.record(
        session,
        actor=_as_actor(user),
        at=now,
        action="auth.signed_in",
        target_type="user",
        target_id=user.id,
        after={"client": client[:64], "second_factor": second_factor_used},
    )
    return clear


def user_for_session(
    session: Session, clear: str, version: int, now: datetime, *, idle: timedelta
) -> tuple[User, bool] | None:
    """The user of a live session, and whether its "last seen" is stale enough to record
    (`touch`); None once it has ended, expired or (for staff) sat idle too long, or the user
    was deactivated (their `session_version` moved on)."""
    row = session.scalars(
        select(UserSession).where(
            UserSession.token_hash == session_hash(clear),
            UserSession.ended_at.is_(None),
            UserSession.expires_at > now,
        )
    ).one_or_none()
    if row is None:
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.is_active or user.session_version != version:
        return None
    seen = row.last_seen_at or row.created_at
    if user.role in STAFF_ROLES and seen <= now - idle:
        return None
    return user, seen <= now - SEEN_RESOLUTION


def touch(session: Session, clear: str, now: datetime) -> None:
    session.execute(
        update(UserSession)
        .where(UserSession.token_hash == session_hash(clear), UserSession.ended_at.is_(None))
        .values(last_seen_at=now)
    )


def end_session(session: Session, clear: str, reason: str, now: datetime) -> None:
    row = session.scalars(
        select(UserSession).where(
            UserSession.token_hash == session_hash(clear), UserSession.ended_at.is_(None)
        )
    ).one_or_none()
    if row is None:
        return
    row.ended_at, row.ended_reason = now, reason
    user = session.get(User, row.user_id)
    if user is not None and reason == EndReason.LOGOUT:
        audit.record(
            session,
            actor=_as_actor(user),
            at=now,
            action="auth.signed_out",
            target_type="user",
            target_id=user.id,
        )


def _end_all(
    session: Session, user_id: int, reason: str, now: datetime, keep: str | None = None
) -> int:
    statement = update(UserSession).where(
        UserSession.user_id == user_id, UserSession.ended_at.is_(None)
    )
    if keep is not None:
        statement = statement.where(UserSession.token_hash != session_hash(keep))
    ended = session.execute(
        statement.values(ended_at=now, ended_reason=reason),
        execution_options={"preserve_rowcount": True},
    )
    return int(ended.rowcount)  # type: ignore[attr-defined]


def live_sessions(session: Session, actor: Actor, now: datetime) -> list[UserSession]:
    """The actor's own open sessions, newest first."""
    if actor.user_id is None:
        return []
    return list(
        session.scalars(
            select(UserSession)
            .where(
                UserSession.user_id == actor.user_id,
                UserSession.ended_at.is_(None),
                UserSession.expires_at > now,
            )
            .order_by(UserSession.id.desc())
        )
    )


def end_own_session(session: Session, actor: Actor, session_id: int, now: datetime) -> None:
    row = session.get(UserSession, session_id)
    if row is None or row.user_id != actor.user_id or row.ended_at is not None:
        raise NotFound("会话")
    row.ended_at, row.ended_reason = now, EndReason.BY_USER


def end_other_sessions(session: Session, actor: Actor, current: str, now: datetime) -> int:
    if actor.user_id is None:
        return 0
    return _end_all(session, actor.user_id, EndReason.BY_USER, now, keep=current)


def end_sessions_of(session: Session, user_id: int, *, actor: Actor, now: datetime) -> int:
    """An administrator signs a user out everywhere (a lost phone, a departure)."""
    actor.require(Permission.USERS_MANAGE)
    if session.get(User, user_id) is None:
        raise NotFound("用户")
    ended = _end_all(session, user_id, EndReason.BY_ADMIN, now)
    audit.record(
        session,
        actor=actor,
        at=now,
        action="user.sessions_ended",
        target_type="user",
        target_id=user_id,
        after={"sessions": ended},
    )
    log.info("sessions.ended_by_admin", user_id=user_id, sessions=ended)
    return ended


def change_password(
    session: Session, current: str, new: str, *, actor: Actor, keep: str, now: datetime
) -> int:
    """A user changes their own password; every other session of theirs ends with it. `now`
    is machine time (the password's age is counted in it)."""
    user = session.get(User, actor.user_id) if actor.user_id is not None else None
    if user is None:
        raise NotFound("用户")
    if not verify_password(user.password_hash, current):
        raise InvalidInput("wrong_password", "当前密码不正确")
    if new == current:
        raise InvalidInput("same_password", "新密码不能与当前密码相同")
    passwords.check_new_password(session, user, new)
    passwords.record_password(session, user, new, initial=False, at=now)
    ended = _end_all(session, user.id, EndReason.PASSWORD_CHANGED, now, keep=keep)
    audit.record(
        session,
        actor=actor,
        at=now,
        action="user.password_changed",
        target_type="user",
        target_id=user.id,
        after={"other_sessions_ended": ended},
    )
    return ended
