"""Tables of the spine. Other modules reach them through `members.queries` and
`members.service`, never directly."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gonghui.core.auth import Role
from gonghui.core.db import Base, text_enum
from gonghui.core.inputs import Sex
from gonghui.members.rules import (
    ActivationSubject,
    ApplicationStatus,
    CardStatus,
    EmploymentStatus,
    MembershipStatus,
    PostType,
)


class Bank(Base):
    """A partner bank that issues union member service cards. A retired bank is kept: its
    cards, files and assessments keep their history; it takes no new cards and its API tokens
    stop."""

    __tablename__ = "banks"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    retired_on: Mapped[date | None]


class BankCardPrefix(Base):
    """A card number prefix (BIN, 发卡行识别码) a partner bank issues union cards under."""

    __tablename__ = "bank_card_prefixes"

    id: Mapped[int] = mapped_column(primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id"), index=True)
    prefix: Mapped[str] = mapped_column(String(10), unique=True)


class Unit(Base):
    """A 基层工会 with its employer (用人单位), keyed by the employer's credit code."""

    __tablename__ = "units"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), index=True)
    credit_code: Mapped[str] = mapped_column(String(18), unique=True)
    industry: Mapped[str] = mapped_column(String(64))
    district: Mapped[str] = mapped_column(String(64), index=True)
    parent_union: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime]


class Member(Base):
    __tablename__ = "members"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    # See gonghui.core.pii: searchable HMAC, AES-GCM ciphertext, stored mask.
    id_hash: Mapped[str] = mapped_column(String(64), unique=True)
    id_cipher: Mapped[str] = mapped_column(String(128))
    id_masked: Mapped[str] = mapped_column(String(18))
    birth_date: Mapped[date]
    sex: Mapped[Sex] = mapped_column(text_enum(Sex))
    phone: Mapped[str] = mapped_column(String(11), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    post_type: Mapped[PostType] = mapped_column(text_enum(PostType))
    employment_status: Mapped[EmploymentStatus] = mapped_column(text_enum(EmploymentStatus))
    membership_status: Mapped[MembershipStatus] = mapped_column(text_enum(MembershipStatus))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    unit: Mapped[Unit] = relationship(lazy="raise")


class MembershipChange(Base):
    """History of a member's membership status; appended, never changed."""

    __tablename__ = "membership_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    from_status: Mapped[MembershipStatus | None] = mapped_column(text_enum(MembershipStatus))
    to_status: Mapped[MembershipStatus] = mapped_column(text_enum(MembershipStatus))
    reason: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime]
    actor_label: Mapped[str] = mapped_column(String(100))


class Card(Base):
    """A 工会会员优惠服务卡: a bank debit card tied to one member."""

    __tablename__ = "cards"

    id: Mapped[int] = mapped_column(primary_key=True)
    card_no: Mapped[str] = mapped_column(String(32), unique=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    opened_on: Mapped[date]
    closed_on: Mapped[date | None]
    status: Mapped[CardStatus] = mapped_column(text_enum(CardStatus))

    bank: Mapped[Bank] = relationship(lazy="raise")
    member: Mapped[Member] = relationship(lazy="raise")


# One role per account, from the known list: an account cannot hold two administrators'
# duties (三权分立) even when written to by hand in SQL.
_ROLE_VALUES = ", ".join(f"'{role.value}'" for role in Role)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(f"role IN ({_ROLE_VALUES})", name="known_role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    display_name: Mapped[str] = mapped_column(String(64))
    role: Mapped[Role] = mapped_column(text_enum(Role))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"), unique=True)
    bank_id: Mapped[int | None] = mapped_column(ForeignKey("banks.id"))
    is_active: Mapped[bool] = mapped_column(default=True)
    # Bumped on password change or deactivation: every older session cookie stops working.
    session_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime]
    last_login_at: Mapped[datetime | None]
    # 长辈模式 (适老化): larger text and buttons, a simpler home, the hotline; the user's choice.
    elder_mode: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Machine time of the last password set; a privileged role's password expires from it.
    # Always set (the migration filled it from `created_at`); nullable only because SQLite adds
    # a column to a table others refer to in place only when it may be null.
    password_changed_at: Mapped[datetime | None]
    # Set by someone else (an administrator, the command line): changed before anything else.
    must_change_password: Mapped[bool] = mapped_column(default=False, server_default=false())
    # TOTP (RFC 6238): the secret encrypted with the data key; pending until the first code is
    # confirmed; the time step of the last accepted code, so no code works twice.
    totp_secret: Mapped[str | None] = mapped_column(String(200))
    totp_enabled_at: Mapped[datetime | None]
    totp_last_step: Mapped[int | None]


class PasswordHistory(Base):
    """Every password an account has had (argon2 hashes), so that none of the last few comes
    back. Appended, never changed."""

    __tablename__ = "password_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    set_at: Mapped[datetime]


class RecoveryCode(Base):
    """A one-time code that stands in for the authenticator once (a lost phone). 80 random
    bits, so a plain SHA-256 keeps it useless to a database reader."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    used_at: Mapped[datetime | None]


class ApiToken(Base):
    """A bank system's API token; only its SHA-256 is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hint: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]

    bank: Mapped[Bank] = relationship(lazy="raise")


class LoginAttempt(Base):
    """Every login attempt, kept for throttling and for the security review."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_username_at", "username", "at"),
        Index("ix_login_attempts_client_at", "client", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    client: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]
    succeeded: Mapped[bool]
    # "password" or "totp" (the second step): each has its own throttle, so a right password
    # does not wipe the count of wrong codes.
    factor: Mapped[str] = mapped_column(String(16), default="password", server_default="password")


class Notification(Base):
    """A message to a member, shown in the app when they next look."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    at: Mapped[datetime]
    title: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(String(1000))
    link: Mapped[str | None] = mapped_column(String(200))
    read_at: Mapped[datetime | None]


class ActivationCode(Base):
    """The one-time code that opens one person's account, kept as an argon2 hash; issuing a
    new one replaces it and lifts a lock. The failures count guesses against this person."""

    __tablename__ = "activation_codes"
    __table_args__ = (UniqueConstraint("subject", "subject_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[ActivationSubject] = mapped_column(text_enum(ActivationSubject))
    subject_id: Mapped[int]
    code_hash: Mapped[str] = mapped_column(String(200))
    issued_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    issued_by: Mapped[str] = mapped_column(String(100))
    failures: Mapped[int] = mapped_column(default=0)
    locked_at: Mapped[datetime | None]
    used_at: Mapped[datetime | None]


class ActivationAttempt(Base):
    """Every activation attempt, for the throttles per claimed phone and per client address."""

    __tablename__ = "activation_attempts"
    __table_args__ = (
        Index("ix_activation_attempts_phone_at", "phone", "at"),
        Index("ix_activation_attempts_client_at", "client", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[ActivationSubject] = mapped_column(text_enum(ActivationSubject))
    phone: Mapped[str] = mapped_column(String(32))
    client: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]
    succeeded: Mapped[bool]


class WorkNotice(Base):
    """A message to the staff of one role (and unit, for unit officers), shown on their home
    page: e.g. that a member's activation was locked after repeated failures. With a user, it is
    for that one account only (e.g. a position's manager reminded of its card deadline)."""

    __tablename__ = "work_notices"
    __table_args__ = (Index("ix_work_notices_role_unit_id", "role", "unit_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    role: Mapped[Role] = mapped_column(text_enum(Role))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    at: Mapped[datetime]
    title: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(String(1000))
    link: Mapped[str | None] = mapped_column(String(200))


class UserSession(Base):
    """A signed-in browser. The cookie carries only a random id; the table keeps its SHA-256,
    so that logging out, a password change or an administrator ends the session for good."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    client: Mapped[str] = mapped_column(String(64))
    user_agent: Mapped[str] = mapped_column(String(200))
    ended_at: Mapped[datetime | None]
    ended_reason: Mapped[str | None] = mapped_column(String(32))
    # Machine time of the last request, recorded at most once a minute: the idle timeout.
    last_seen_at: Mapped[datetime | None]


class MemberApplication(Base):
    """网上入会: a worker not on the roll asks to join through their employer's union. The
    unit officer approves it (the member is created and their activation code issued) or
    returns it with a reason. The ID number is kept as the roll keeps it (hash, cipher, mask)."""

    __tablename__ = "member_applications"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    id_hash: Mapped[str] = mapped_column(String(64), index=True)
    id_cipher: Mapped[str] = mapped_column(String(128))
    id_masked: Mapped[str] = mapped_column(String(18))
    phone: Mapped[str] = mapped_column(String(11))
    post_type: Mapped[PostType] = mapped_column(text_enum(PostType))
    status: Mapped[ApplicationStatus] = mapped_column(text_enum(ApplicationStatus), index=True)
    submitted_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(String(200))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
