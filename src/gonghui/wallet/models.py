"""Tables of the wallet: regions, insured persons, wallets, relationships, transfers, and the
double-entry ledger (accounts, postings, entries) with its idempotency keys.

Postings, entries and every history table are append-only down to database triggers; an
account's `balance_fen` is a cache of its entries, kept for the guarded updates that refuse to
overdraw it, and `gonghui wallet verify-ledger` checks that it equals them.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from gonghui.core.db import Base, text_enum
from gonghui.wallet.rules import (
    AccountKind,
    Kinship,
    Purpose,
    RegionLevel,
    RelationshipStatus,
    Scheme,
    TransferStatus,
    Verification,
)


class Region(Base):
    """A pooling region (统筹区), keyed by its GB/T 2260 code. A change bumps `version` and
    appends a `RegionEvent`."""

    __tablename__ = "wallet_regions"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(6), unique=True)
    province_code: Mapped[str] = mapped_column(String(6), index=True)
    name: Mapped[str] = mapped_column(String(64))
    level: Mapped[RegionLevel] = mapped_column(text_enum(RegionLevel))
    wallet_opened_on: Mapped[date | None]
    version: Mapped[int]
    updated_at: Mapped[datetime]


class RegionEvent(Base):
    __tablename__ = "wallet_region_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("wallet_regions.id"), index=True)
    version: Mapped[int]
    wallet_opened_on: Mapped[date | None]
    at: Mapped[datetime]
    actor_label: Mapped[str] = mapped_column(String(100))


class Insured(Base):
    """An insured person (参保人), employee or resident scheme; a member of the roll where they
    are one (relatives often are not), and a login of their own once their wallet is open."""

    __tablename__ = "wallet_insured"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    # As for members (see gonghui.core.pii): keyed hash, ciphertext, mask; never in clear.
    id_hash: Mapped[str] = mapped_column(String(64), unique=True)
    id_cipher: Mapped[str] = mapped_column(String(128))
    id_masked: Mapped[str] = mapped_column(String(18))
    birth_date: Mapped[date]
    scheme: Mapped[Scheme] = mapped_column(text_enum(Scheme))
    region_id: Mapped[int] = mapped_column(ForeignKey("wallet_regions.id"), index=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"), unique=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), unique=True)
    ended_on: Mapped[date | None]
    created_at: Mapped[datetime]


class Wallet(Base):
    __tablename__ = "wallet_wallets"

    id: Mapped[int] = mapped_column(primary_key=True)
    insured_id: Mapped[int] = mapped_column(ForeignKey("wallet_insured.id"), unique=True)
    phone: Mapped[str] = mapped_column(String(11))
    usage_region_id: Mapped[int] = mapped_column(ForeignKey("wallet_regions.id"))
    # The 医保码 password, argon2-hashed; consecutive failures lock it for a while.
    password_hash: Mapped[str] = mapped_column(String(200))
    password_failures: Mapped[int]
    last_password_failure: Mapped[datetime | None]
    opened_at: Mapped[datetime]


class UsageChange(Base):
    """A change of usage location (使用地变更); appended, never changed."""

    __tablename__ = "wallet_usage_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    wallet_id: Mapped[int] = mapped_column(ForeignKey("wallet_wallets.id"), index=True)
    from_region_id: Mapped[int | None] = mapped_column(ForeignKey("wallet_regions.id"))
    to_region_id: Mapped[int] = mapped_column(ForeignKey("wallet_regions.id"))
    at: Mapped[datetime]
    actor_label: Mapped[str] = mapped_column(String(100))


class Relationship(Base):
    """A 共济关系 between an employee-insured giver and a close relative."""

    __tablename__ = "wallet_relationships"
    __table_args__ = (
        Index(
            "uq_wallet_relationships_live_pair",
            "giver_id",
            "recipient_id",
            unique=True,
            sqlite_where=text("status <> 'dissolved'"),
            postgresql_where=text("status <> 'dissolved'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    giver_id: Mapped[int] = mapped_column(ForeignKey("wallet_insured.id"), index=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("wallet_insured.id"), index=True)
    kinship: Mapped[Kinship] = mapped_column(text_enum(Kinship))
    status: Mapped[RelationshipStatus] = mapped_column(text_enum(RelationshipStatus))
    face_verified: Mapped[bool]
    declared_at: Mapped[datetime]
    confirmed_at: Mapped[datetime | None]
    dissolved_at: Mapped[datetime | None]
    dissolution_reason: Mapped[str | None] = mapped_column(String(200))


class RelationshipEvent(Base):
    __tablename__ = "wallet_relationship_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    relationship_id: Mapped[int] = mapped_column(ForeignKey("wallet_relationships.id"), index=True)
    from_status: Mapped[RelationshipStatus | None] = mapped_column(text_enum(RelationshipStatus))
    to_status: Mapped[RelationshipStatus] = mapped_column(text_enum(RelationshipStatus))
    at: Mapped[datetime]
    actor_label: Mapped[str] = mapped_column(String(100))
    note: Mapped[str] = mapped_column(String(200))


class Account(Base):
    """A ledger account. `key` names it ("personal:12", "quota:34:12", "funding");
    `balance_fen` caches the sum of its entries (None for the outside world's accounts, which
    keep no cache so that they never become a row every posting waits for)."""

    __tablename__ = "wallet_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[AccountKind] = mapped_column(text_enum(AccountKind))
    insured_id: Mapped[int | None] = mapped_column(ForeignKey("wallet_insured.id"), index=True)
    giver_id: Mapped[int | None] = mapped_column(ForeignKey("wallet_insured.id"))
    balance_fen: Mapped[int | None]
    created_at: Mapped[datetime]


class Posting(Base):
    """One movement of money: its entries sum to zero. Corrections are new postings."""

    __tablename__ = "wallet_postings"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    transfer_id: Mapped[int | None] = mapped_column(ForeignKey("wallet_transfers.id"), index=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor_label: Mapped[str] = mapped_column(String(100))
    memo: Mapped[str] = mapped_column(String(200))


class Entry(Base):
    __tablename__ = "wallet_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    posting_id: Mapped[int] = mapped_column(ForeignKey("wallet_postings.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("wallet_accounts.id"), index=True)
    amount_fen: Mapped[int]


class Transfer(Base):
    __tablename__ = "wallet_transfers"
    __table_args__ = (
        # The rule "no second transfer while one is unaccepted", held by the database too.
        Index(
            "uq_wallet_transfers_one_pending",
            "giver_id",
            unique=True,
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
        Index("ix_wallet_transfers_giver_day", "giver_id", "business_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    giver_id: Mapped[int] = mapped_column(ForeignKey("wallet_insured.id"))
    recipient_id: Mapped[int] = mapped_column(ForeignKey("wallet_insured.id"), index=True)
    relationship_id: Mapped[int] = mapped_column(ForeignKey("wallet_relationships.id"))
    amount_fen: Mapped[int]
    status: Mapped[TransferStatus] = mapped_column(text_enum(TransferStatus), index=True)
    verification: Mapped[Verification] = mapped_column(text_enum(Verification))
    submitted_at: Mapped[datetime]
    business_date: Mapped[date]
    release_at: Mapped[datetime] = mapped_column(index=True)
    decided_at: Mapped[datetime | None]


class TransferEvent(Base):
    __tablename__ = "wallet_transfer_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    transfer_id: Mapped[int] = mapped_column(ForeignKey("wallet_transfers.id"), index=True)
    from_status: Mapped[TransferStatus | None] = mapped_column(text_enum(TransferStatus))
    to_status: Mapped[TransferStatus] = mapped_column(text_enum(TransferStatus))
    at: Mapped[datetime]
    actor_label: Mapped[str] = mapped_column(String(100))


class Payment(Base):
    """The recipient pays a designated institution or a contribution from the wallet."""

    __tablename__ = "wallet_payments"

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("wallet_insured.id"), index=True)
    posting_id: Mapped[int] = mapped_column(ForeignKey("wallet_postings.id"))
    purpose: Mapped[Purpose] = mapped_column(text_enum(Purpose))
    payee: Mapped[str] = mapped_column(String(128))
    amount_fen: Mapped[int]
    at: Mapped[datetime]


class Spending(Base):
    """The part of a payment drawn on one giver's quota, with both regions as they were, for
    the monthly settlement between regions."""

    __tablename__ = "wallet_spendings"
    __table_args__ = (Index("ix_wallet_spendings_month", "month"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("wallet_payments.id"), index=True)
    giver_id: Mapped[int] = mapped_column(ForeignKey("wallet_insured.id"))
    spent_region_code: Mapped[str] = mapped_column(String(6))
    giver_region_code: Mapped[str] = mapped_column(String(6))
    amount_fen: Mapped[int]
    month: Mapped[date]


class IdempotentRequest(Base):
    """A request that moved money, under the client's idempotency key: a retry with the same
    body gets `result` back, a different body under the same key is refused."""

    __tablename__ = "wallet_requests"
    __table_args__ = (UniqueConstraint("scope", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(128))
    operation: Mapped[str] = mapped_column(String(32))
    request_hash: Mapped[str] = mapped_column(String(64))
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime]
