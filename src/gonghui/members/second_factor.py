"""Two-factor sign-in with a time-based one-time password (TOTP, RFC 6238): enrolment with a
QR code any authenticator app reads, the second step of a login, ten one-time recovery codes,
and a reset by the security administrator.

Times here are the machine's (`core.clock.machine_now`): the phone's authenticator counts real
time, whatever a demo's business clock says.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
import segno
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from gonghui.core import audit
from gonghui.core.auth import PRIVILEGED_ROLES, Actor, Permission
from gonghui.core.errors import Conflict, InvalidInput, NotFound, Throttled
from gonghui.core.logging import get_logger
from gonghui.core.pii import IdentityVault
from gonghui.core.settings import Settings
from gonghui.members.models import LoginAttempt, RecoveryCode, User, UserSession

log = get_logger("gonghui.second_factor")

ISSUER = "职工服务平台"
STEP_SECONDS = 30  # RFC 6238 section 5.2's recommended time step
DIGITS = 6
# One step either side: a phone clock a little off, or a code typed as it rolled over.
_DRIFT_STEPS = 1
RECOVERY_CODES = 10
# No 0/O, 1/I; 16 characters of 32 are 80 bits, so a SHA-256 of one cannot be searched back.
_RECOVERY_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
_RECOVERY_LENGTH = 16
FACTOR = "totp"


def required_for(user: User, settings: Settings) -> bool:
    """Whether this account must have a second factor before it may do anything."""
    return settings.second_factor_required and user.role in PRIVILEGED_ROLES


def is_enrolled(user: User) -> bool:
    return user.totp_enabled_at is not None


@dataclass(frozen=True)
class Enrolment:
    """A pending enrolment as the page shows it: the secret in groups of four (for typing
    into an app by hand), the otpauth:// address and the same address as a QR code (SVG)."""

    secret: str
    uri: str
    qr_svg: str

    @property
    def secret_grouped(self) -> str:
        return " ".join(self.secret[i : i + 4] for i in range(0, len(self.secret), 4))


def _user_of(session: Session, actor: Actor) -> User:
    user = session.get(User, actor.user_id) if actor.user_id is not None else None
    if user is None:
        raise NotFound("用户")
    return user


def start_enrolment(session: Session, *, actor: Actor, vault: IdentityVault, at: datetime) -> None:
    """Give the actor's account a new, not yet confirmed secret (kept encrypted)."""
    user = _user_of(session, actor)
    if is_enrolled(user):
        raise Conflict("already_enrolled", "两步验证已启用；如需更换手机，请联系安全管理员重置")
    user.totp_secret = vault.encrypt(pyotp.random_base32())
    # The secret is not in the row: whoever reads the log must not be able to sign in as them.
    audit.record(
        session,
        actor=actor,
        at=at,
        action="auth.2fa_enrolment_started",
        target_type="user",
        target_id=user.id,
    )


def pending_enrolment(session: Session, actor: Actor, *, vault: IdentityVault) -> Enrolment | None:
    user = _user_of(session, actor)
    if is_enrolled(user) or user.totp_secret is None:
        return None
    secret = vault.decrypt(user.totp_secret)
    uri = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=user.username, issuer_name=ISSUER
    )
    svg = segno.make(uri, error="m").svg_inline(scale=4, light="#fff", svgclass="qr")
    return Enrolment(secret=secret, uri=uri, qr_svg=svg)


def confirm_enrolment(
    session: Session, code: str, *, actor: Actor, vault: IdentityVault, at: datetime
) -> list[str]:
    """The first right code switches two-factor sign-in on. Returns the recovery codes, in
    clear this once; only their hashes are kept."""
    user = _user_of(session, actor)
    if is_enrolled(user) or user.totp_secret is None:
        raise InvalidInput("no_enrolment", "请先点击“开始设置”获取二维码")
    step = _matching_step(vault.decrypt(user.totp_secret), code, at)
    if step is None:
        raise InvalidInput("wrong_code", "验证码不正确，请核对手机上的时间后输入当前显示的6位数字")
    user.totp_enabled_at = at
    user.totp_last_step = step
    codes = _new_recovery_codes(session, user)
    audit.record(
        session,
        actor=actor,
        at=at,
        action="auth.2fa_enabled",
        target_type="user",
        target_id=user.id,
    )
    log.info("second_factor.enabled", user_id=user.id)
    return codes


def _new_recovery_codes(session: Session, user: User) -> list[str]:
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_LENGTH))
        codes.append("-".join(raw[i : i + 4] for i in range(0, _RECOVERY_LENGTH, 4)))
        session.add(RecoveryCode(user_id=user.id, code_hash=_code_hash(raw), used_at=None))
    return codes


def _code_hash(normal: str) -> str:
    return hashlib.sha256(normal.encode()).hexdigest()


def _normal(code: str) -> str:
    return "".join(code.split()).replace("-", "").upper()


def _matching_step(secret: str, code: str, at: datetime) -> int | None:
    """The time step whose code this is (within the drift allowed), or None."""
    code = "".join(code.split())
    if len(code) != DIGITS or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    now_step = int(at.timestamp()) // STEP_SECONDS
    for step in range(now_step - _DRIFT_STEPS, now_step + _DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def recovery_codes_left(session: Session, user_id: int) -> int:
    return (
        session.scalar(
            select(func.count()).where(
                RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None)
            )
        )
        or 0
    )


def verify_second_step(
    session: Session,
    user: User,
    code: str,
    *,
    client: str,
    vault: IdentityVault,
    settings: Settings,
    at: datetime,
) -> str:
    """The second step of a login: a current authenticator code, or one unused recovery code.
    Returns which it was. A code accepted once is refused afterwards (RFC 6238 section 5.2),
    and wrong codes are throttled per account like wrong passwords."""
    _check_throttle(session, user, settings, at)
    actor = Actor(
        user_id=user.id, username=user.username, role=user.role, display_name=user.display_name
    )
    if user.totp_secret is None or not is_enrolled(user):
        raise InvalidInput("not_enrolled", "该账号未启用两步验证")
    step = _matching_step(vault.decrypt(user.totp_secret), code, at)
    used = "totp"
    if step is not None and user.totp_last_step is not None and step <= user.totp_last_step:
        _refuse(session, user, client, at, actor, "replayed")
        raise InvalidInput("code_replayed", "该验证码已使用过，请等待手机上出现下一个验证码")
    if step is not None:
        user.totp_last_step = step
    elif (row := _unused_recovery_code(session, user, code)) is not None:
        row.used_at = at
        used = "recovery_code"
    else:
        _refuse(session, user, client, at, actor, "wrong_code")
        raise InvalidInput("wrong_code", "验证码不正确")
    session.add(
        LoginAttempt(
            username=user.username, client=client[:64], at=at, succeeded=True, factor=FACTOR
        )
    )
    if used == "recovery_code":
        left = recovery_codes_left(session, user.id) - 1
        audit.record(
            session,
            actor=actor,
            at=at,
            action="auth.2fa_recovery_code_used",
            target_type="user",
            target_id=user.id,
            after={"left": left},
        )
    return used


def _unused_recovery_code(session: Session, user: User, code: str) -> RecoveryCode | None:
    return session.scalars(
        select(RecoveryCode).where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == _code_hash(_normal(code)),
            RecoveryCode.used_at.is_(None),
        )
    ).one_or_none()


def _refuse(
    session: Session, user: User, client: str, at: datetime, actor: Actor, reason: str
) -> None:
    session.add(
        LoginAttempt(
            username=user.username, client=client[:64], at=at, succeeded=False, factor=FACTOR
        )
    )
    audit.record(
        session,
        actor=actor,
        at=at,
        action="auth.2fa_failed",
        target_type="user",
        target_id=user.id,
        after={"reason": reason, "client": client[:64]},
    )
    log.info("second_factor.refused", user_id=user.id, reason=reason)


def _check_throttle(session: Session, user: User, settings: Settings, at: datetime) -> None:
    since = at - timedelta(minutes=settings.login_lock_minutes)
    mine = (LoginAttempt.username == user.username, LoginAttempt.factor == FACTOR)
    last_success = (
        select(func.max(LoginAttempt.at)).where(*mine, LoginAttempt.succeeded).scalar_subquery()
    )
    failures = session.scalar(
        select(func.count()).where(
            *mine,
            ~LoginAttempt.succeeded,
            LoginAttempt.at >= since,
            LoginAttempt.at > func.coalesce(last_success, since),
        )
    )
    if (failures or 0) >= settings.login_max_failures:
        log.warning("second_factor.throttled", user_id=user.id)
        raise Throttled(
            "second_factor_throttled",
            f"验证码错误次数过多，请{settings.login_lock_minutes}分钟后再试",
        )


def reset(session: Session, user_id: int, *, actor: Actor, at: datetime) -> None:
    """The security administrator switches an account's second factor off (a lost phone):
    the secret and recovery codes go, every session of the account ends, and where two-factor
    sign-in is required its holder enrols again at the next login."""
    actor.require(Permission.SECURITY_MANAGE)
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("用户")
    if user.id == actor.user_id:
        raise InvalidInput("own_reset", "不能重置自己的两步验证，请由另一名安全管理员办理")
    was_enrolled = is_enrolled(user)
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    user.session_version += 1
    session.execute(
        update(UserSession)
        .where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
        .values(ended_at=at, ended_reason="2fa_reset")
    )
    audit.record(
        session,
        actor=actor,
        at=at,
        action="auth.2fa_reset",
        target_type="user",
        target_id=user.id,
        before={"enrolled": was_enrolled},
    )
    log.info("second_factor.reset", user_id=user.id)
