"""Test harness: a real database built by the migrations, one rolled-back transaction per test.

Every test that uses the database runs on SQLite and, when GONGHUI_TEST_POSTGRES_URL is set, on
PostgreSQL too. With GONGHUI_TEST_STRICT=1 a missing PostgreSQL is a failure, not a skip.
"""

from __future__ import annotations

import os
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, create_engine, make_url, text
from sqlalchemy.orm import Session, sessionmaker

from gonghui.core.clock import FixedClock
from gonghui.core.db import make_engine
from gonghui.core.migrate import alembic_config
from gonghui.core.pii import IdentityVault, vault_for
from gonghui.core.settings import Environment, Settings
from gonghui.core.storage import ContentStore
from gonghui.insurance.store import BalanceStore
from gonghui.web.app import create_app
from tests import audit_guard
from tests.world import World, build_world

STRICT = os.environ.get("GONGHUI_TEST_STRICT") == "1"
POSTGRES_URL = os.environ.get("GONGHUI_TEST_POSTGRES_URL", "")
# The seed article's date, 09:00 in Beijing.
NOW = datetime(2025, 2, 10, 1, 0, tzinfo=UTC)
# Every test checks that the use cases it runs audit what they change (`tests/audit_guard.py`).
audit_guard.watch_columns()


NOT_AVAILABLE = " is not available"


def missing(what: str) -> None:
    message = f"{what}{NOT_AVAILABLE}"
    if STRICT:
        pytest.fail(f"{message} (GONGHUI_TEST_STRICT=1)")
    pytest.skip(message)


def not_run_for_missing(reports: Iterable[pytest.TestReport]) -> list[str]:
    """One line per missing PostgreSQL or Chromium: how many tests it kept from running."""
    reasons: Counter[str] = Counter()
    for report in reports:
        if isinstance(report.longrepr, tuple) and report.longrepr[2].endswith(NOT_AVAILABLE):
            reasons[report.longrepr[2].removeprefix("Skipped: ")] += 1
    return [
        f"{count} test{'s' if count > 1 else ''} NOT RUN: {reason}"
        for reason, count in sorted(reasons.items())
    ]


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> Iterator[None]:
    # A developer's default run has no PostgreSQL and perhaps no Chromium: a few "s" in the
    # progress dots are easy to miss, and CI (GONGHUI_TEST_STRICT=1) runs them all. Said
    # last (after the outermost wrapper's `yield`), below pytest's own list of skips.
    yield
    lines = not_run_for_missing(terminalreporter.stats.get("skipped", []))
    for line in lines:
        terminalreporter.write_sep("!", line, red=True, bold=True)
    if lines:
        terminalreporter.write_line(
            "These tests did not run here; CI runs them (GONGHUI_TEST_STRICT=1 makes a missing "
            "one a failure).",
            red=True,
            bold=True,
        )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    # From the fixtures on: what they set up through the services is checked too.
    audit_guard.start()
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Fails a test in which a use case changed a person's data without an audit row
    (`tests/audit_guard.py`). Checked before teardown rolls the test's transaction back."""
    result = yield
    unaudited = audit_guard.stop()
    if unaudited:
        pytest.fail("use cases that change data must audit it:\n" + "\n".join(unaudited))
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Iterator[None]:
    audit_guard.stop()
    return (yield)


def _postgres_database() -> Iterator[str]:
    if not POSTGRES_URL:
        missing("PostgreSQL (set GONGHUI_TEST_POSTGRES_URL)")
    url = make_url(POSTGRES_URL).set(drivername="postgresql+psycopg")
    name = f"gonghui_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:  # noqa: BLE001 - any failure to reach the server means "missing"
        admin.dispose()
        missing(f"PostgreSQL at {POSTGRES_URL} ({error.__class__.__name__})")
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'gonghui.db'}"
        return
    yield from _postgres_database()


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        environment=Environment.TEST,
        database_url=database_url,
        storage_dir=tmp_path_factory.mktemp("storage"),
    )


@pytest.fixture(scope="session")
def vault(settings: Settings) -> IdentityVault:
    return vault_for(settings)


@pytest.fixture(scope="session")
def engine(settings: Settings, vault: IdentityVault) -> Iterator[Engine]:
    engine = make_engine(settings.database_url)
    with engine.begin() as connection:
        command.upgrade(alembic_config(settings.database_url, connection), "heads")
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def world(engine: Engine, vault: IdentityVault) -> World:
    """The shared cast, committed once per backend: two banks, two units, members, one user
    per role. Tests add to it inside their own rolled-back transaction."""
    with Session(engine) as session, session.begin():
        return build_world(session, vault, NOW)


@pytest.fixture
def connection(engine: Engine, world: World) -> Iterator[Connection]:
    connection = engine.connect()
    transaction = connection.begin()
    if connection.dialect.name == "postgresql":
        # This transaction never commits: the audit links a commit makes by a deferred trigger
        # (`audit_chain.AuditLinkDue`) are made as each statement ends instead.
        connection.exec_driver_sql("SET CONSTRAINTS audit_links_due_at_commit IMMEDIATE")
    yield connection
    transaction.rollback()
    connection.close()


@pytest.fixture
def sessions(connection: Connection) -> sessionmaker[Session]:
    # Each session works in a SAVEPOINT of the test's transaction, so `commit()` in the code
    # under test is real, and the rollback at the end still undoes everything.
    return sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )


@pytest.fixture
def db(sessions: sessionmaker[Session]) -> Iterator[Session]:
    with sessions() as session:
        yield session


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def store(tmp_path: Path) -> BalanceStore:
    """Balance files of this test only (the database rolls back; so must the files)."""
    return BalanceStore(tmp_path / "storage")


@pytest.fixture
def documents(tmp_path: Path) -> ContentStore:
    return ContentStore(tmp_path / "storage")


@pytest.fixture
def app(
    settings: Settings,
    engine: Engine,
    sessions: sessionmaker[Session],
    clock: FixedClock,
    store: BalanceStore,
    documents: ContentStore,
) -> FastAPI:
    return app_on(settings, engine, sessions, clock, store, documents)


def app_on(
    settings: Settings,
    engine: Engine,
    sessions: sessionmaker[Session],
    clock: FixedClock,
    store: BalanceStore,
    documents: ContentStore,
) -> FastAPI:
    """The app on the test's database, clock and stores (for a test that needs other settings
    or module constants than the shared `app`)."""
    app = create_app(settings, engine=engine, clock=clock)
    app.state.session_factory = sessions
    app.state.balance_store = store
    app.state.documents = documents
    return app


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


@pytest.fixture
def fresh_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """An empty PostgreSQL database of the test's own, migrated, for work that must commit for
    real across concurrent connections (dropped afterwards)."""
    databases = _postgres_database()
    url = next(databases)
    engine = make_engine(url)
    with engine.begin() as connection:
        command.upgrade(alembic_config(url, connection), "heads")
    try:
        yield engine
    finally:
        engine.dispose()
        databases.close()


@pytest.fixture
def postgres_database() -> Iterator[str]:
    """An empty PostgreSQL database of the test's own, not migrated (dropped afterwards)."""
    yield from _postgres_database()
