"""Alembic, driven from code: the CLI, `make run` and the tests all upgrade the same way."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from gonghui.core.db import engine_for
from gonghui.core.settings import Settings


def alembic_config(database_url: str, connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(files("gonghui") / "migrations"))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@dataclass(frozen=True)
class UpgradeOutcome:
    before: tuple[str, ...]
    after: tuple[str, ...]

    @property
    def message(self) -> str:
        after = "、".join(self.after)
        if not self.before:
            return f"已创建数据库（版本 {after}）"
        if self.before == self.after:
            return f"数据库已是最新版本（{after}），无需升级"
        return f"数据库已从版本 {'、'.join(self.before)} 升级到 {after}"


def _revisions(connection: Connection) -> tuple[str, ...]:
    return tuple(sorted(MigrationContext.configure(connection).get_current_heads()))


def upgrade(settings: Settings) -> UpgradeOutcome:
    """Bring the database to the newest revision and say what was done."""
    engine = engine_for(settings)
    try:
        with engine.begin() as connection:
            before = _revisions(connection)
            command.upgrade(alembic_config(settings.database_url, connection), "heads")
            after = _revisions(connection)
    finally:
        engine.dispose()
    return UpgradeOutcome(before, after)


def head_revisions() -> tuple[str, ...]:
    """The newest revisions this code knows: what `db upgrade` would bring a database to."""
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return tuple(sorted(script.get_heads()))


def current_revisions(connection: Connection) -> tuple[str, ...]:
    return _revisions(connection)
