"""Alembic, driven from code: the CLI, `make run` and the tests all upgrade the same way."""

from __future__ import annotations

from importlib.resources import files

from alembic import command
from alembic.config import Config
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


def upgrade(settings: Settings) -> None:
    engine = engine_for(settings)
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(settings.database_url, connection), "heads")
    finally:
        engine.dispose()
