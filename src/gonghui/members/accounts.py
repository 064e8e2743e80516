"""Users and their ways in: password login (throttled), member self-activation, bank API tokens."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import ColumnElement, delete, func, or_, select, update
from sqlalchemy.orm import Session

from gonghui.core import audit
from gonghui.core.auth import (
    ADMIN_ROLES,
    DUMMY_PASSWORD_HASH,
    Actor,
    Permission,
    Role,
    hash_api_token,
    hash_password,
    new_api_token,
    verify_password,
)
from gonghui.core.clock import BUSINESS_TZ, business_date, machine_now
from gonghui.core.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    NotFound,
    Throttled,
    Unauthenticated,
)
from gonghui.core.inputs import InputError, half_width, parse_id_number, parse_mobile
from gonghui.core.logging import get_logger
from gonghui.core.metrics import LOGINS
from gonghui.core.pii import IdentityVault
from gonghui.core.settings import Settings
from gonghui.members import passwords, service
from gonghui.members.models import (
    ActivationAttempt,
    ActivationCode,
    ApiToken,
    Bank,
    LoginAttempt,
    Member,
    Unit,
    User,
    WorkNotice,
)
from gonghui.members.rules import ActivationSubject, MembershipStatus

log = get_logger("gonghui.accounts")

# One client address may fail this many times more than a single account before it is held
# back too: it slows guessing across many usernames without locking out a shared office NAT.
_CLIENT_FAILURE_FACTOR = 4


def actor_for(user: User) -> Actor:
    return Actor(
        user_id=user.id,
        username=user.username,
        role=user.role,
        display_name=user.display_name,
        unit_id=user.unit_id,
        member_id=user.member_id,
        bank_id=user.bank_id,
    )


def authenticate(
    session: Session,
    username: str,
    password: str,
    client: str,
    *,
    settings: Settings,
    now: datetime,
) -> User:
    """Check a password login. Every attempt is recorded; repeated failures lock the door."""
    username = _login_name(username)
    window_start = now - timedelta(minutes=settings.login_lock_minutes)
    if _recent_failures(session, LoginAttempt.username == username, window_start) >= (
        settings.login_max_failures
    ) or _recent_failures(session, LoginAttempt.client == client, window_start) >= (
        settings.login_max_failures * _CLIENT_FAILURE_FACTOR
    ):
        log.warning("login.throttled", username=username, client=client)
        LOGINS.labels("throttled").inc()
        _audit_failure(session, username, None, client, "throttled", now)
        raise Throttled(
            "login_throttled", f"登录失败次数过多，请{settings.login_lock_minutes}分钟后再试"
        )
    user = session.scalars(select(User).where(User.username == username)).one_or_none()
    valid = verify_password(user.password_hash if user else DUMMY_PASSWORD_HASH, password)
    succeeded = bool(user and user.is_active and valid)
    session.add(
        LoginAttempt(username=username[:64], client=client[:64], at=now, succeeded=succeeded)
    )
    if not succeeded or user is None:
        log.info("login.failed", username=username, client=client)
        LOGINS.labels("failed").inc()
        _audit_failure(session, username, user, client, "wrong_password", now)
        raise Unauthenticated("用户名或密码错误")
    user.last_login_at = now
    log.info("login.succeeded", username=username, user_id=user.id, client=client)
    LOGINS.labels("succeeded").inc()
    return user


def _audit_failure(
    session: Session, username: str, user: User | None, client: str, reason: str, now: datetime
) -> None:
    # Whoever tried is not signed in: the row names the account they tried, if it exists.
    stranger = Actor(user_id=None, username=username[:64], role=None, display_name="未登录")
    audit.record(
        session,
        actor=stranger,
        at=now,
        action="auth.signin_failed",
        target_type="user",
        target_id=user.id if user else username[:64],
        after={"reason": reason, "client": client[:64]},
    )


def _recent_failures(session: Session, who: object, since: datetime) -> int:
    password = LoginAttempt.factor == "password"
    last_success = (
        select(func.max(LoginAttempt.at))
        .where(who, password, LoginAttempt.succeeded)  # type: ignore[arg-type]
        .scalar_subquery()
    )
    return (
        session.scalar(
            select(func.count()).where(
                who,  # type: ignore[arg-type]
                password,
                LoginAttempt.at >= since,
                ~LoginAttempt.succeeded,
                LoginAttempt.at > func.coalesce(last_success, since),
            )
        )
        or 0
    )


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: Role,
    display_name: str,
    unit: Unit | None = None,
    bank: Bank | None = None,
    member: Member | None = None,
    password_is_initial: bool = True,
    actor: Actor,
    now: datetime,
) -> User:
    """An account made by someone else. Its password is an initial one, which a staff holder
    must change at the first sign-in, unless `password_is_initial` is False (the person chose
    it, or it is the demo's published one). The system administrator opens accounts; only the
    security administrator opens one of the three administrators' (三权分立)."""
    actor.require(Permission.ROLES_MANAGE if role in ADMIN_ROLES else Permission.USERS_MANAGE)
    return _insert_user(
        session,
        username=username,
        password=password,
        role=role,
        display_name=display_name,
        unit=unit,
        bank=bank,
        member=member,
        initial=password_is_initial,
        actor=actor,
        now=now,
    )


# What a person types at the login; the column holds 64 characters.
_USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


def _login_name(text: str) -> str:
    """A username as typed, full-width letters and digits (a Chinese keyboard's full-width
    mode) read as ASCII."""
    return half_width(text).strip()


def _insert_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: Role,
    display_name: str,
    unit: Unit | None,
    bank: Bank | None,
    member: Member | None,
    initial: bool,
    actor: Actor,
    now: datetime,
) -> User:
    username = _login_name(username)
    if not _USERNAME.fullmatch(username):
        raise InvalidInput(
            "bad_username", "用户名应为1至64位字母、数字或 . _ @ -，以字母或数字开头"
        )
    passwords.check_policy(role, password)
    _check_scope(role, unit=unit, bank=bank, member=member)
    # Unique whatever its case: "Clerk" beside "clerk" is two people an audit trail cannot
    # tell apart.
    taken = select(User.id).where(func.lower(User.username) == username.lower())
    if session.scalars(taken).first() is not None:
        raise Conflict("username_taken", f"用户名“{username}”已被使用")
    user = User(
        username=username,
        display_name=display_name.strip() or username,
        role=role,
        unit_id=unit.id if unit else (member.unit_id if member else None),
        bank_id=bank.id if bank else None,
        member_id=member.id if member else None,
        created_at=now,
        last_login_at=None,
    )
    session.add(user)
    passwords.record_password(session, user, password, initial=initial, at=machine_now())
    audit.record(
        session,
        actor=actor,
        at=now,
        action="user.created",
        target_type="user",
        target_id=user.id,
        after={"username": username, "role": role.value},
    )
    return user


def _check_scope(
    role: Role, *, unit: Unit | None, bank: Bank | None, member: Member | None
) -> None:
    if role is Role.UNIT_OFFICER and unit is None:
        raise InvalidInput("unit_required", "单位工会干部账号必须指定所属单位")
    if role is Role.BANK_OPERATOR and bank is None:
        raise InvalidInput("bank_required", "银行操作员账号必须指定所属银行")
    if role is Role.MEMBER and member is None:
        raise InvalidInput("member_required", "会员账号必须关联会员名册中的会员")


def activate_member_account(
    session: Session,
    *,
    name: str,
    id_number: str,
    phone: str,
    code: str,
    password: str,
    vault: IdentityVault,
    door: ActivationDoor,
    now: datetime,
) -> User:
    """A member opens their own account: name, ID number and phone must match the roll, and
    the one-time code their unit's officer issued must be right.

    The refusal does not say which field failed, so the form cannot be used to probe the roll
    one field at a time; guesses are throttled per phone and per client address, and wrong
    codes against one member lock that member's activation (the officer is told). The phone
    number becomes the login name.
    """
    mismatch = ActivationRefused("姓名、身份证号、手机号或激活码不正确")
    check_activation_throttle(session, ActivationSubject.MEMBER, phone, door, now=now)
    member = None
    parsed_phone = ""
    try:
        parsed_id = parse_id_number(id_number, today=business_date(now))
        parsed_phone = parse_mobile(phone)
        member = session.scalars(
            select(Member).where(Member.id_hash == vault.search_hash(parsed_id.value))
        ).one_or_none()
    except InputError:
        pass
    matches = member is not None and member.name == name.strip() and member.phone == parsed_phone
    outcome = check_activation_code(
        session,
        ActivationSubject.MEMBER,
        member.id if member else None,
        code,
        identity_matches=matches,
        phone=phone,
        door=door,
        now=now,
    )
    if member is None or outcome is not CodeCheck.ACCEPTED:
        if member is not None and outcome is CodeCheck.NOW_LOCKED:
            _tell_officers_of_lock(session, member, now)
        log.info("account.activation_refused", outcome=outcome.value)
        raise mismatch
    if member.membership_status is not MembershipStatus.ACTIVE:
        raise InvalidInput("membership_inactive", "您的会籍不在正常状态，请联系所在单位工会")
    if session.scalars(select(User.id).where(User.member_id == member.id)).first() is not None:
        raise Conflict("already_activated", "该会员已开通账号，请直接登录")
    self_actor = Actor(
        user_id=None, username=parsed_phone, role=Role.MEMBER, display_name=member.name
    )
    return _insert_user(
        session,
        username=parsed_phone,
        password=password,
        role=Role.MEMBER,
        display_name=member.name,
        unit=None,
        bank=None,
        member=member,
        initial=False,
        actor=self_actor,
        now=now,
    )


def _tell_officers_of_lock(session: Session, member: Member, now: datetime) -> None:
    service.notify_staff(
        session,
        Role.UNIT_OFFICER,
        member.unit_id,
        title="会员账号开通已锁定",
        body=(
            f"会员{member.name}（{member.id_masked}）的账号开通因激活码多次输错已锁定。"
            "如确为本人办理，请核实身份后在会员页面重新发放激活码；如非本人，请提醒会员注意。"
        ),
        link=f"/members/{member.id}",
        now=now,
    )
    log.warning("account.activation_locked", member_id=member.id)


# --- One-time activation codes -------------------------------------------------------------

# No 0/O, 1/I: read aloud or copied from a screen, every character is unambiguous.
_CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
_CODE_LENGTH = 8  # 40 bits; with the per-person lock, far beyond guessing online


@dataclass(frozen=True)
class ActivationDoor:
    """What the entry point knows of an activation request: who is asking, and the limits."""

    client: str
    settings: Settings


class ActivationRefused(InvalidInput):
    """A wrong name, ID number, phone or code; counted against the phone and the client."""

    def __init__(self, message: str) -> None:
        super().__init__("activation_mismatch", message)


class ActivationLocked(DomainError):
    http_status = 423

    def __init__(self) -> None:
        super().__init__(
            "activation_locked",
            "激活码多次输入错误，开通已锁定。请联系发放激活码的经办人重新发放。",
        )


def refusal_is_counted(error: DomainError) -> bool:
    """True for the refusals whose attempt must be committed: they are what the throttles and
    the lock count. Any other refusal rolls the request back."""
    return isinstance(error, ActivationRefused | ActivationLocked) or (
        error.code == "activation_throttled"
    )


class CodeCheck(StrEnum):
    ACCEPTED = "accepted"
    REFUSED = "refused"
    NOW_LOCKED = "now_locked"


def new_activation_code() -> str:
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(_CODE_LENGTH))
    return f"{raw[:4]}-{raw[4:]}"


def _normal_code(text: str) -> str:
    return "".join(text.split()).replace("-", "").upper()


def issue_activation_code(
    session: Session,
    subject: ActivationSubject,
    subject_id: int,
    *,
    actor: Actor,
    settings: Settings,
    now: datetime,
) -> str:
    """A new one-time code for one person, replacing any earlier one and lifting a lock. The
    clear code is returned once (to be handed over or sent) and kept only as a hash."""
    clear = new_activation_code()
    row = session.scalars(
        select(ActivationCode).where(
            ActivationCode.subject == subject, ActivationCode.subject_id == subject_id
        )
    ).one_or_none()
    if row is None:
        row = ActivationCode(subject=subject, subject_id=subject_id)
        session.add(row)
    row.code_hash = hash_password(_normal_code(clear))
    row.issued_at = now
    row.expires_at = now + timedelta(hours=settings.activation_code_hours)
    row.issued_by = f"{actor.display_name}（{actor.username}）"[:100]
    row.failures = 0
    row.locked_at = None
    row.used_at = None
    session.flush()
    audit.record(
        session,
        actor=actor,
        at=now,
        action="activation_code.issued",
        target_type=subject.value,
        target_id=subject_id,
        after={"expires_at": row.expires_at.isoformat()},
    )
    return clear


def issue_member_activation_code(
    session: Session, member: Member, *, actor: Actor, settings: Settings, now: datetime
) -> str:
    """The unit officer (or staff) issues a member's code; `member` was loaded through the
    actor's scope."""
    actor.require(Permission.MEMBERS_MANAGE)
    if session.scalars(select(User.id).where(User.member_id == member.id)).first() is not None:
        raise Conflict("already_activated", "该会员已开通账号，无需激活码")
    if member.membership_status is not MembershipStatus.ACTIVE:
        raise InvalidInput("membership_inactive", "该会员会籍不在正常状态，不能开通账号")
    return issue_activation_code(
        session, ActivationSubject.MEMBER, member.id, actor=actor, settings=settings, now=now
    )


def activation_state(
    session: Session, subject: ActivationSubject, subject_id: int, now: datetime
) -> str | None:
    """How a person's code stands, in words for the issuing officer; None when none issued."""
    row = session.scalars(
        select(ActivationCode).where(
            ActivationCode.subject == subject, ActivationCode.subject_id == subject_id
        )
    ).one_or_none()
    if row is None:
        return None
    if row.used_at is not None:
        return "已使用"
    if row.locked_at is not None:
        return "因多次输错已锁定，需重新发放"
    if row.expires_at <= now:
        return "已过期，需重新发放"
    return f"有效，{row.expires_at.astimezone(BUSINESS_TZ):%Y-%m-%d %H:%M}前可用"


def check_activation_throttle(
    session: Session,
    subject: ActivationSubject,
    phone: str,
    door: ActivationDoor,
    *,
    now: datetime,
) -> None:
    """Too many failures lately for this phone (the person claimed) or from this client."""
    settings = door.settings
    since = now - timedelta(minutes=settings.login_lock_minutes)
    failures = select(func.count()).where(
        ActivationAttempt.subject == subject,
        ActivationAttempt.at >= since,
        ~ActivationAttempt.succeeded,
    )
    by_phone = session.scalar(failures.where(ActivationAttempt.phone == _phone_key(phone))) or 0
    by_client = session.scalar(failures.where(ActivationAttempt.client == door.client[:64])) or 0
    if by_phone >= settings.activation_max_failures or by_client >= (
        settings.activation_max_failures * _CLIENT_FAILURE_FACTOR
    ):
        log.warning("account.activation_throttled", client=door.client)
        raise Throttled(
            "activation_throttled",
            f"开通尝试次数过多，请{settings.login_lock_minutes}分钟后再试",
        )


def _phone_key(phone: str) -> str:
    # The number as the roll would hold it, so that writing it another way ("+86 138…")
    # does not count as another person.
    try:
        return parse_mobile(phone)
    except InputError:
        return "".join(phone.split())[:32]


def check_activation_code(
    session: Session,
    subject: ActivationSubject,
    subject_id: int | None,
    code: str,
    *,
    identity_matches: bool,
    phone: str,
    door: ActivationDoor,
    now: datetime,
) -> CodeCheck:
    """Check a code against the person the ID number named, recording the attempt. A wrong
    guess counts against that person whoever made it; enough of them lock the code."""
    row = None
    if subject_id is not None:
        row = session.scalars(
            select(ActivationCode)
            .where(ActivationCode.subject == subject, ActivationCode.subject_id == subject_id)
            .with_for_update()
        ).one_or_none()
    usable = row is not None and row.used_at is None and row.expires_at > now
    # Verify even when nothing can match, so the answer takes as long either way.
    right = verify_password(row.code_hash if row else DUMMY_PASSWORD_HASH, _normal_code(code))
    if row is not None and row.locked_at is not None:
        _record_attempt(session, subject, phone, door, now, succeeded=False)
        if identity_matches:
            raise ActivationLocked
        return CodeCheck.REFUSED
    accepted = identity_matches and usable and right
    _record_attempt(session, subject, phone, door, now, succeeded=accepted)
    if accepted and row is not None:
        row.used_at = now
        return CodeCheck.ACCEPTED
    if row is None or row.used_at is not None:
        return CodeCheck.REFUSED
    row.failures += 1
    if row.failures >= door.settings.activation_max_failures:
        row.locked_at = now
        return CodeCheck.NOW_LOCKED
    return CodeCheck.REFUSED


def _record_attempt(
    session: Session,
    subject: ActivationSubject,
    phone: str,
    door: ActivationDoor,
    now: datetime,
    *,
    succeeded: bool,
) -> None:
    session.add(
        ActivationAttempt(
            subject=subject,
            phone=_phone_key(phone),
            client=door.client[:64],
            at=now,
            succeeded=succeeded,
        )
    )


def issue_api_token(
    session: Session, bank: Bank, name: str, *, actor: Actor, now: datetime
) -> tuple[str, ApiToken]:
    """Create a bank's API token. The clear token is returned once and never stored."""
    actor.require(Permission.TOKENS_MANAGE)
    if not name.strip():
        raise InvalidInput("name_required", "请填写令牌用途")
    clear = new_api_token()
    token = ApiToken(
        name=name.strip()[:64],
        bank_id=bank.id,
        token_hash=hash_api_token(clear),
        hint=clear[:8] + "…",
        created_at=now,
        created_by=actor.user_id,
        revoked_at=None,
        last_used_at=None,
    )
    session.add(token)
    session.flush()
    audit.record(
        session,
        actor=actor,
        at=now,
        action="api_token.issued",
        target_type="api_token",
        target_id=token.id,
        after={"bank": bank.code, "name": token.name},
    )
    return clear, token


def revoke_api_token(session: Session, token_id: int, *, actor: Actor, now: datetime) -> None:
    actor.require(Permission.TOKENS_MANAGE)
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound("令牌")
    if token.revoked_at is None:
        token.revoked_at = now
        audit.record(
            session,
            actor=actor,
            at=now,
            action="api_token.revoked",
            target_type="api_token",
            target_id=token.id,
        )


# How stale a token's "last used" may get before a request records it again.
TOKEN_USE_RESOLUTION = timedelta(minutes=5)


def actor_for_token(session: Session, clear: str, *, now: datetime) -> tuple[Actor, bool]:
    """The bank system a token stands for, and whether its last use is stale enough to be
    recorded (by `record_token_use`, in a transaction of its own: this only reads)."""
    token = session.scalars(
        select(ApiToken).where(ApiToken.token_hash == hash_api_token(clear))
    ).one_or_none()
    if token is None or token.revoked_at is not None:
        raise Unauthenticated("API 令牌无效或已撤销")
    bank = session.get(Bank, token.bank_id)
    if bank is None or (bank.retired_on is not None and bank.retired_on <= business_date(now)):
        raise Unauthenticated("该银行已停止合作，API 令牌已失效")
    actor = Actor(
        user_id=None,
        username=f"token:{token.id}",
        role=Role.BANK_OPERATOR,
        display_name=f"{bank.name}接口（{token.name}）",
        bank_id=token.bank_id,
        token_id=token.id,
    )
    stale = token.last_used_at is None or token.last_used_at <= now - TOKEN_USE_RESOLUTION
    return actor, stale


def record_token_use(session: Session, actor: Actor, *, now: datetime) -> None:
    if actor.token_id is None:
        return
    session.execute(
        update(ApiToken)
        .where(
            ApiToken.id == actor.token_id,
            or_(
                ApiToken.last_used_at.is_(None),
                ApiToken.last_used_at <= now - TOKEN_USE_RESOLUTION,
            ),
        )
        .values(last_used_at=now)
    )


def member_has_account(session: Session, member_id: int) -> bool:
    return session.scalars(select(User.id).where(User.member_id == member_id)).first() is not None


def work_notices_for(session: Session, actor: Actor, limit: int = 10) -> list[WorkNotice]:
    """The notices for the actor's role (and unit, for a unit officer) and those for the actor
    alone, newest first."""
    if actor.role is None:
        return []
    mine: ColumnElement[bool] = WorkNotice.user_id.is_(None)
    if actor.user_id is not None:
        mine = or_(mine, WorkNotice.user_id == actor.user_id)
    statement = select(WorkNotice).where(WorkNotice.role == actor.role, mine)
    if actor.role is Role.UNIT_OFFICER:
        statement = statement.where(WorkNotice.unit_id == actor.unit_id)
    return list(session.scalars(statement.order_by(WorkNotice.id.desc()).limit(limit)))


def list_users(session: Session, actor: Actor) -> list[User]:
    if not actor.can(Permission.ROLES_MANAGE):
        actor.require(Permission.USERS_MANAGE)
    return list(session.scalars(select(User).order_by(User.id)))


# Roles of people rather than of staff: their accounts come from the roll or the insured
# registry and never change role.
_PERSONAL_ROLES = frozenset({Role.MEMBER, Role.INSURED})


def change_role(
    session: Session, user_id: int, new_role: Role, *, actor: Actor, now: datetime
) -> None:
    """The security administrator moves a staff account to another role. An administrator's
    account keeps its one duty (三权分立): a new duty is a new account. The account's sessions
    end, so the new rights apply from its next sign-in."""
    actor.require(Permission.ROLES_MANAGE)
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("用户")
    old = user.role
    if user.id == actor.user_id:
        raise InvalidInput("own_role", "不能更改自己的角色")
    if old in _PERSONAL_ROLES or new_role in _PERSONAL_ROLES:
        raise InvalidInput("personal_role", "会员和参保人账号由本人开通，其角色不能更改")
    if old in ADMIN_ROLES and new_role in ADMIN_ROLES and old is not new_role:
        raise InvalidInput("one_duty", "系统、安全、审计管理员不能互兼（三权分立），请另建账号")
    if old is new_role:
        return
    unit = session.get(Unit, user.unit_id) if user.unit_id is not None else None
    bank = session.get(Bank, user.bank_id) if user.bank_id is not None else None
    _check_scope(new_role, unit=unit, bank=bank, member=None)
    user.role = new_role
    user.session_version += 1
    audit.record(
        session,
        actor=actor,
        at=now,
        action="user.role_changed",
        target_type="user",
        target_id=user.id,
        before={"role": old.value},
        after={"role": new_role.value},
    )


def user_id_by_username(session: Session, username: str) -> int | None:
    return session.scalars(select(User.id).where(User.username == username.strip())).first()


def list_api_tokens(session: Session, actor: Actor) -> list[ApiToken]:
    actor.require(Permission.TOKENS_MANAGE)
    return list(session.scalars(select(ApiToken).order_by(ApiToken.id)))


def active_users_in_role(session: Session, role: Role) -> dict[int, str]:
    """Active accounts of one role as id → "姓名（用户名）", e.g. the managers staff may put in
    charge of a station; only names leave this module, never the account rows."""
    rows = session.execute(
        select(User.id, User.display_name, User.username)
        .where(User.role == role, User.is_active.is_(True))
        .order_by(User.display_name, User.username)
    )
    return {user_id: f"{name}（{username}）" for user_id, name, username in rows}


def purge_login_attempts(session: Session, before: datetime) -> int:
    """Forget login attempts older than `before` (kept until then for throttling and review)."""
    result = session.execute(delete(LoginAttempt).where(LoginAttempt.at < before))
    return int(result.rowcount)  # type: ignore[attr-defined]


def set_elder_mode(session: Session, actor: Actor, *, on: bool) -> None:
    """The person's own choice; it follows them to every device they log in from."""
    if actor.user_id is None:
        return
    user = session.get(User, actor.user_id)
    if user is not None:
        user.elder_mode = on
