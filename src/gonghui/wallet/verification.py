"""Identity checks at the wallet's doors: face authentication through a verifier (an outside
service; the development one is a fake and production refuses it) and the 医保码 password,
hashed with argon2 and locked after repeated failures."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar

from sqlalchemy import and_, bindparam, case, update
from sqlalchemy.orm import Session

from gonghui.core.auth import MIN_PASSWORD_LENGTH, hash_password, verify_password
from gonghui.core.db import table_of
from gonghui.core.errors import DomainError, InvalidInput
from gonghui.core.settings import Environment, Settings
from gonghui.wallet.models import Wallet
from gonghui.wallet.rules import (
    PASSWORD_LOCK,
    PASSWORD_MAX_FAILURES,
    Refusal,
    Verification,
    WalletRefused,
    password_locked,
)

T = TypeVar("T")


class FaceVerifier(Protocol):
    """Compares a live face capture with the person's ID photo (the NHSA platform's service)."""

    name: str

    def matches(self, insured_id: int, sample: str) -> bool: ...


class FakeFaceVerifier:
    """For development, tests and demos only: it "recognises" exactly the sample `PASS`.
    Never a verifier for real people; `Settings` in production refuses it."""

    name = "fake"
    PASS = "fake-face-pass"  # noqa: S105 - a test sample, not a secret

    def __init__(self, settings: Settings) -> None:
        if settings.environment is Environment.PRODUCTION:
            msg = "the fake face verifier cannot be used in production"
            raise RuntimeError(msg)

    def matches(self, insured_id: int, sample: str) -> bool:  # noqa: ARG002 - a fake
        return sample == self.PASS


class UnavailableFaceVerifier:
    """Production until a real verifier is wired in: every face check is refused, clearly."""

    name = "unavailable"

    def matches(self, insured_id: int, sample: str) -> bool:  # noqa: ARG002 - refuses all
        raise DomainError("face_verifier_unavailable", "人脸核验服务暂未接入，请使用医保码密码验证")


def face_verifier_for(settings: Settings) -> FaceVerifier:
    if settings.environment is Environment.PRODUCTION:
        return UnavailableFaceVerifier()
    return FakeFaceVerifier(settings)


@dataclass(frozen=True)
class Proof:
    """What the person offered: a face sample, or the 医保码 password."""

    method: Verification
    secret: str


class PasswordRejected(WalletRefused):
    """A wrong 医保码 password; the entry point counts it after rolling the request back."""

    def __init__(self, wallet_id: int, tries_left: int) -> None:
        minutes = int(PASSWORD_LOCK.total_seconds() // 60)
        if tries_left > 0:
            words = (
                f"医保码密码错误，还可再试{tries_left}次"
                f"（连续输错{PASSWORD_MAX_FAILURES}次将锁定{minutes}分钟）"
            )
        else:
            words = f"医保码密码错误，已连续输错{PASSWORD_MAX_FAILURES}次，请{minutes}分钟后再试"
        super().__init__(Refusal.VERIFICATION_FAILED, words)
        self.wallet_id = wallet_id


def hash_wallet_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH and not (len(password) == 6 and password.isdigit()):  # noqa: PLR2004
        raise InvalidInput("weak_wallet_password", "医保码密码须为6位数字或至少8位字符")
    return hash_password(password)


@dataclass(frozen=True)
class Credentials:
    """A wallet's 医保码 password and its failure count, as a check needs them."""

    wallet_id: int
    password_hash: str
    password_failures: int
    last_password_failure: datetime | None


def check(
    wallet: Credentials, insured_id: int, proof: Proof, verifier: FaceVerifier, now: datetime
) -> None:
    if proof.method is Verification.FACE:
        if not verifier.matches(insured_id, proof.secret):
            raise WalletRefused(Refusal.VERIFICATION_FAILED, "人脸比对未通过")
        return
    if password_locked(wallet.password_failures, wallet.last_password_failure, now):
        raise WalletRefused(Refusal.VERIFICATION_LOCKED)
    if not verify_password(wallet.password_hash, proof.secret):
        # After a lock has run out the count starts again (see `count_failure`).
        before = wallet.password_failures if wallet.password_failures < PASSWORD_MAX_FAILURES else 0
        raise PasswordRejected(wallet.wallet_id, PASSWORD_MAX_FAILURES - before - 1)


_WALLETS = table_of(Wallet)
_PASSWORD_SUCCEEDED = (
    update(_WALLETS).where(_WALLETS.c.id == bindparam("wallet_id")).values(password_failures=0)
)


def password_succeeded(session: Session, wallet: Credentials) -> None:
    if wallet.password_failures:
        session.execute(_PASSWORD_SUCCEEDED, {"wallet_id": wallet.wallet_id})


def count_failure(session: Session, wallet_id: int, now: datetime) -> None:
    """One more consecutive failure; after the lock has run out, counting starts again."""
    session.execute(
        update(Wallet)
        .where(Wallet.id == wallet_id)
        .values(
            password_failures=case(
                (
                    and_(
                        Wallet.password_failures >= PASSWORD_MAX_FAILURES,
                        Wallet.last_password_failure <= now - PASSWORD_LOCK,
                    ),
                    1,
                ),
                else_=Wallet.password_failures + 1,
            ),
            last_password_failure=now,
        )
    )


def run_money_request(session: Session, operation: Callable[[], T], now: datetime) -> T:
    """For entry points (pages, API, CLI): run a money request in the request's transaction.
    A refusal is an answer: `ledger.once` has undone the request's work and recorded the
    refusal under its idempotency key, and this commits that record before the refusal goes
    on, with a wrong password counted, so that repeated guessing reaches the lock."""
    try:
        return operation()
    except WalletRefused as refused:
        if isinstance(refused, PasswordRejected):
            count_failure(session, refused.wallet_id, now)
        session.commit()
        raise
