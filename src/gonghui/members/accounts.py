"""Users and their ways in: password login (throttled), member self-activation, bank API tokens."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from gonghui.core import audit
from gonghui.core.auth import (
    DUMMY_PASSWORD_HASH,
    MIN_PASSWORD_LENGTH,
    Actor,
    Permission,
    Role,
    hash_api_token,
    hash_password,
    new_api_token,
    verify_password,
)
from gonghui.core.clock import business_date
from gonghui.core.errors import Conflict, InvalidInput, NotFound, Throttled, Unauthenticated
from gonghui.core.inputs import parse_id_number, parse_mobile
from gonghui.core.logging import get_logger
from gonghui.core.pii import IdentityVault
from gonghui.core.settings import Settings
from gonghui.members.models import ApiToken, Bank, LoginAttempt, Member, Unit, User
from gonghui.members.rules import InvalidValue, MembershipStatus

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
    username = username.strip()
    window_start = now - timedelta(minutes=settings.login_lock_minutes)
    if _recent_failures(session, LoginAttempt.username == username, window_start) >= (
        settings.login_max_failures
    ) or _recent_failures(session, LoginAttempt.client == client, window_start) >= (
        settings.login_max_failures * _CLIENT_FAILURE_FACTOR
    ):
        log.warning("login.throttled", username=username, client=client)
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
        raise Unauthenticated("用户名或密码错误")
    user.last_login_at = now
    log.info("login.succeeded", username=username, user_id=user.id)
    return user


def _recent_failures(session: Session, who: object, since: datetime) -> int:
    last_success = (
        select(func.max(LoginAttempt.at)).where(who, LoginAttempt.succeeded).scalar_subquery()  # type: ignore[arg-type]
    )
    return (
        session.scalar(
            select(func.count()).where(
                who,  # type: ignore[arg-type]
                LoginAttempt.at >= since,
                ~LoginAttempt.succeeded,
                LoginAttempt.at > func.coalesce(last_success, since),
            )
        )
        or 0
    )


def user_for_session(session: Session, user_id: int, version: int) -> User | None:
    user = session.get(User, user_id)
    if user is None or not user.is_active or user.session_version != version:
        return None
    return user


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
    actor: Actor,
    now: datetime,
) -> User:
    actor.require(Permission.USERS_MANAGE)
    return _insert_user(
        session,
        username=username,
        password=password,
        role=role,
        display_name=display_name,
        unit=unit,
        bank=bank,
        member=member,
        actor=actor,
        now=now,
    )


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
    actor: Actor,
    now: datetime,
) -> User:
    username = username.strip()
    if not username or len(username) > 64:  # noqa: PLR2004 - column width
        raise InvalidInput("bad_username", "用户名不能为空，且不超过64个字符")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput("weak_password", f"密码至少{MIN_PASSWORD_LENGTH}位")
    _check_scope(role, unit=unit, bank=bank, member=member)
    if session.scalars(select(User.id).where(User.username == username)).first() is not None:
        raise Conflict("username_taken", f"用户名“{username}”已被使用")
    user = User(
        username=username,
        password_hash=hash_password(password),
        display_name=display_name.strip() or username,
        role=role,
        unit_id=unit.id if unit else (member.unit_id if member else None),
        bank_id=bank.id if bank else None,
        member_id=member.id if member else None,
        created_at=now,
        last_login_at=None,
    )
    session.add(user)
    session.flush()
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
    password: str,
    vault: IdentityVault,
    now: datetime,
) -> User:
    """A member opens their own account: name, ID number and phone must match the roll.

    The refusal does not say which of the three failed, so the form cannot be used to probe
    the roll one field at a time. The phone number becomes the login name.
    """
    mismatch = InvalidInput("activation_mismatch", "姓名、身份证号或手机号与会员名册不一致")
    try:
        parsed_id = parse_id_number(id_number, today=business_date(now))
        parsed_phone = parse_mobile(phone)
    except InvalidValue:
        raise mismatch from None
    member = session.scalars(
        select(Member).where(Member.id_hash == vault.search_hash(parsed_id.value))
    ).one_or_none()
    if member is None or member.name != name.strip() or member.phone != parsed_phone:
        log.info("account.activation_refused", phone=parsed_phone)
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
        actor=self_actor,
        now=now,
    )


def issue_api_token(
    session: Session, bank: Bank, name: str, *, actor: Actor, now: datetime
) -> tuple[str, ApiToken]:
    """Create a bank's API token. The clear token is returned once and never stored."""
    actor.require(Permission.USERS_MANAGE)
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
    actor.require(Permission.USERS_MANAGE)
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


def actor_for_token(session: Session, clear: str, *, now: datetime) -> Actor:
    token = session.scalars(
        select(ApiToken).where(ApiToken.token_hash == hash_api_token(clear))
    ).one_or_none()
    if token is None or token.revoked_at is not None:
        raise Unauthenticated("API 令牌无效或已撤销")
    bank = session.get(Bank, token.bank_id)
    if bank is None or (bank.retired_on is not None and bank.retired_on <= business_date(now)):
        raise Unauthenticated("该银行已停止合作，API 令牌已失效")
    token.last_used_at = now
    return Actor(
        user_id=None,
        username=f"token:{token.id}",
        role=Role.BANK_OPERATOR,
        display_name=f"{bank.name}接口（{token.name}）",
        bank_id=token.bank_id,
        token_id=token.id,
    )


def list_users(session: Session, actor: Actor) -> list[User]:
    actor.require(Permission.USERS_MANAGE)
    return list(session.scalars(select(User).order_by(User.id)))


def list_api_tokens(session: Session, actor: Actor) -> list[ApiToken]:
    actor.require(Permission.USERS_MANAGE)
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
