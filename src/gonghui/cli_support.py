"""What every CLI sub-app shares: the operator actor, the consoles, settings and failing cleanly.

Kept apart from `gonghui.cli`, which registers the modules' sub-apps, so that a module's
`cli.py` can use these without importing the command that imports it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from sqlalchemy.orm import Session

from gonghui.core.auth import Actor, Role
from gonghui.core.db import engine_for, session_factory, transaction
from gonghui.core.errors import DomainError, ImportRejected
from gonghui.core.logging import configure_logging
from gonghui.core.settings import Settings

console = Console()
errors = Console(stderr=True)

# Whoever runs the CLI on the server acts as its operator, with an administrator's rights.
CLI_ACTOR = Actor(user_id=None, username="cli", role=Role.ADMIN, display_name="命令行")
# ...and, for the security administrator's part (administrators' accounts, second-factor
# resets), with theirs: whoever holds the server's shell can do both anyway; the split holds
# for accounts on the web.
CLI_SECURITY_ACTOR = Actor(
    user_id=None, username="cli", role=Role.SECURITY_ADMIN, display_name="命令行"
)


def fail(message: str, code: int = 1) -> NoReturn:
    errors.print(f"[red]错误：[/red]{message}")
    raise typer.Exit(code)


def load_settings() -> Settings:
    try:
        settings = Settings()
    except ValidationError as error:
        lines = [f"{'.'.join(map(str, e['loc'])) or '配置'}: {e['msg']}" for e in error.errors()]
        fail("配置不正确（GONGHUI_* 环境变量）：\n  " + "\n  ".join(lines), code=2)
    configure_logging(settings)
    return settings


@contextmanager
def unit_of_work() -> Iterator[tuple[Session, Settings]]:
    """One transaction for a command: committed when the block ends, rolled back on any error;
    a refused import lists its lines, and every domain error becomes a clean non-zero exit."""
    settings = load_settings()
    engine = engine_for(settings)
    try:
        with transaction(session_factory(engine)) as session:
            yield session, settings
    except ImportRejected as rejected:
        for line in rejected.errors:
            errors.print(f"  {line}")
        fail(rejected.message)
    except DomainError as error:
        fail(error.message)
    finally:
        engine.dispose()
