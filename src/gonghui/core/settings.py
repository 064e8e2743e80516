"""One typed settings object, read from ``GONGHUI_*`` environment variables.

Bad values fail at start-up, not on the first request that needs them.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Used only outside production, where `Settings` refuses it (see `_production_is_strict`).
DEVELOPMENT_SECRET = "gonghui-development-secret-not-for-production-use"  # noqa: S105
MIN_SECRET_LENGTH = 32


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class CryptoScheme(StrEnum):
    """How ID numbers are kept at rest (see `gonghui.core.pii`)."""

    DEFAULT = "default"  # AES-256-GCM and HMAC-SHA256
    SM = "sm"  # SM4-GCM and HMAC-SM3 (GB/T 39786-2021 commercial cryptography)


class LogFormat(StrEnum):
    CONSOLE = "console"
    JSON = "json"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GONGHUI_", frozen=True, extra="forbid")

    environment: Environment = Environment.DEVELOPMENT
    database_url: str = "sqlite:///var/gonghui.db"
    storage_dir: Path = Path("var/storage")
    # Signs session cookies, CSRF tokens and QR tokens.
    secret_key: SecretStr = SecretStr(DEVELOPMENT_SECRET)
    # Keys the searchable hash and the encryption of ID numbers; kept apart from
    # `secret_key` so that rotating sessions never makes stored ID numbers unreadable.
    data_key: SecretStr = SecretStr(DEVELOPMENT_SECRET + "-data")
    # Change it only together with `gonghui pii rekey --to …`, which moves the stored rows.
    crypto: CryptoScheme = CryptoScheme.DEFAULT
    cookie_secure: bool = False
    session_max_age_seconds: int = Field(default=8 * 3600, gt=0)
    login_max_failures: int = Field(default=5, ge=1)
    login_lock_minutes: int = Field(default=15, ge=1)
    # A staff session that has done nothing for this long ends, besides the absolute lifetime.
    session_idle_minutes: int = Field(default=30, ge=1, le=24 * 60)
    # Two-factor sign-in (TOTP) for privileged roles: on in production unless set, off elsewhere.
    require_2fa: bool | None = None
    # The age (days) after which a privileged role's password must change (0: never).
    password_max_age_days: int = Field(default=90, ge=0, le=3650)
    # Account activation: guesses against one person before their activation locks (until a
    # new code is issued), and how long an issued one-time code stays good.
    activation_max_failures: int = Field(default=5, ge=1)
    activation_code_hours: int = Field(default=72, ge=1, le=24 * 30)
    # Addresses of reverse proxies whose X-Forwarded-For is believed (comma-separated IPs or
    # networks); empty: the peer address is the client, whatever the headers say.
    trusted_proxies: str = ""
    # Demos and checks may run "at any hour": the clock can be pinned or shifted.
    clock_fixed: datetime | None = None
    clock_offset_seconds: int = 0
    log_format: LogFormat = LogFormat.CONSOLE
    log_level: str = "INFO"
    # Lets a Prometheus scraper that is not on this machine read /metrics (empty: local only).
    metrics_token: SecretStr = SecretStr("")
    # Where several processes keep their figures for /metrics (empty: `metrics` beside the
    # storage directory).
    metrics_dir: Path | None = None
    # A worker that has not said it is alive for this long has died: its runs are queued again.
    worker_silence_seconds: int = Field(default=45, ge=3, le=3600)
    # 网络安全法 art. 21: network logs are kept no less than six months; only more is allowed.
    audit_keep_days: int = Field(default=180, ge=180, le=36500)
    # A balance or roll file larger than this is imported by the worker as a task (with a
    # progress page) rather than inside the upload's request; 0 sends every file to the worker.
    sync_import_max_bytes: int = Field(default=1024 * 1024, ge=0, le=1024 * 1024 * 1024)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite://", "postgresql://", "postgresql+psycopg://")):
            msg = "GONGHUI_DATABASE_URL must be a sqlite:// or postgresql:// URL"
            raise ValueError(msg)
        if value.startswith("postgresql://"):
            return "postgresql+psycopg://" + value.removeprefix("postgresql://")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        try:
            for part in value.split(","):
                if part.strip():
                    ip_network(part.strip(), strict=False)
        except ValueError:
            msg = "GONGHUI_TRUSTED_PROXIES must be comma-separated IP addresses or networks"
            raise ValueError(msg) from None
        return value

    @property
    def trusted_proxy_networks(self) -> list[IPv4Network | IPv6Network]:
        return [
            ip_network(part.strip(), strict=False)
            for part in self.trusted_proxies.split(",")
            if part.strip()
        ]

    @field_validator("clock_fixed")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            msg = "GONGHUI_CLOCK_FIXED needs a time zone, e.g. 2025-02-10T09:00:00+08:00"
            raise ValueError(msg)
        return value

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        if value.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            msg = "GONGHUI_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR"
            raise ValueError(msg)
        return value.upper()

    @model_validator(mode="after")
    def _production_is_strict(self) -> Self:
        if self.environment is not Environment.PRODUCTION:
            return self
        for name in ("secret_key", "data_key"):
            secret: SecretStr = getattr(self, name)
            value = secret.get_secret_value()
            if value.startswith(DEVELOPMENT_SECRET) or len(value) < MIN_SECRET_LENGTH:
                msg = (
                    f"GONGHUI_{name.upper()} must be set to {MIN_SECRET_LENGTH}+ random "
                    "characters in production"
                )
                raise ValueError(msg)
        if self.clock_fixed is not None or self.clock_offset_seconds:
            msg = "the clock cannot be fixed or shifted in production"
            raise ValueError(msg)
        if not self.cookie_secure:
            msg = "GONGHUI_COOKIE_SECURE must be true in production"
            raise ValueError(msg)
        return self

    @property
    def second_factor_required(self) -> bool:
        if self.require_2fa is not None:
            return self.require_2fa
        return self.environment is Environment.PRODUCTION

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
