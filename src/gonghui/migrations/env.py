from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, engine_from_config, pool

from gonghui.core.settings import Settings
from gonghui.schema import metadata

config = context.config


def _ours(_object: object, name: str | None, kind: str, reflected: bool, _other: object) -> bool:
    """The queue's tables (huey's PostgreSQL storage creates and owns `huey_*`) are not ours."""
    return not (kind == "table" and reflected and (name or "").startswith("huey_"))


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        include_object=_ours,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        user_module_prefix="gonghui.core.db.",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    if not config.get_main_option("sqlalchemy.url"):
        # The `alembic` command line: the same database the platform is configured for.
        config.set_main_option("sqlalchemy.url", Settings().database_url.replace("%", "%%"))
    engine = engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with engine.connect() as fresh:
        _run(fresh)


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
