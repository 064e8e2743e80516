"""Schemathesis drives the JSON API from its own OpenAPI schema, in process, as five personas.

Every answer must be documented: no 5xx, every status code in the schema, every body matching
its model. State-changing operations run against a small demo federation of the persona's own
(a copy of one built once per module), so one persona's writes never shape another's run.

It runs on SQLite; `GONGHUI_TEST_FUZZ_POSTGRES=1` (with `GONGHUI_TEST_POSTGRES_URL`) runs it on
PostgreSQL as well, each persona's copy a database made from the original as a template.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import positive_data_acceptance
from sqlalchemy import create_engine, make_url, select, text
from sqlalchemy.orm import Session

from gonghui.core.db import make_engine
from gonghui.core.migrate import upgrade
from gonghui.core.settings import Environment, Settings
from gonghui.demo import load_demo
from gonghui.members import accounts
from gonghui.members.demo import DEMO_PASSWORD
from gonghui.members.models import Bank
from gonghui.web.app import create_app
from tests.conftest import NOW, POSTGRES_URL, _postgres_database
from tests.world import SECURITY_SETUP

SERVER_NOW = datetime(2025, 3, 5, 2, 0, tzinfo=UTC)
SCHEMA_PATH = "/api/v1/openapi.json"
# Generated examples per operation, persona and mode (besides the coverage phase's boundary
# cases): 52 operations x 5 personas take about three minutes of one core.
MAX_EXAMPLES = 8
PERSONAS = ("anonymous", "member", "staff", "bank", "agency")
BACKENDS = ("sqlite", "postgresql") if os.environ.get("GONGHUI_TEST_FUZZ_POSTGRES") else ("sqlite",)
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass(frozen=True)
class Demo:
    database_url: str
    storage: Path
    bank_token: str


def _settings(database_url: str, storage: Path) -> Settings:
    return Settings(
        environment=Environment.TEST,
        database_url=database_url,
        storage_dir=storage,
        clock_fixed=SERVER_NOW,
    )


@pytest.fixture(scope="module", params=BACKENDS)
def demo(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Demo]:
    """The original: a small demo federation and a token for its first bank."""
    folder = tmp_path_factory.mktemp("fuzz-demo")
    databases = _postgres_database() if request.param == "postgresql" else None
    url = next(databases) if databases else f"sqlite:///{folder / 'gonghui.db'}"
    settings = _settings(url, folder / "storage")
    upgrade(settings)
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        load_demo(session, settings, now=NOW, members=40, units=3)
        bank = session.scalars(select(Bank).where(Bank.code == "YTB")).one()
        token, _ = accounts.issue_api_token(
            session, bank, "模糊测试", actor=SECURITY_SETUP, now=NOW
        )
    engine.dispose()
    yield Demo(url, folder / "storage", token)
    if databases:
        databases.close()


def _copy_of(demo: Demo, folder: Path) -> Iterator[str]:
    """A copy of the original's database, for one persona (dropped afterwards)."""
    shutil.copytree(demo.storage, folder / "storage")
    if demo.database_url.startswith("sqlite"):
        shutil.copyfile(demo.database_url.removeprefix("sqlite:///"), folder / "gonghui.db")
        yield f"sqlite:///{folder / 'gonghui.db'}"
        return
    original = make_url(demo.database_url)
    name = f"gonghui_fuzz_{uuid.uuid4().hex[:10]}"
    admin = create_engine(make_url(POSTGRES_URL).set(drivername="postgresql+psycopg"))
    admin = admin.execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{original.database}"'))
    try:
        yield original.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.engine.dispose()


@dataclass(frozen=True)
class Persona:
    name: str
    client: requests.Session


def _sign_in(client: requests.Session, username: str) -> None:
    token = _CSRF.search(client.get("/login").text)
    assert token, "no CSRF token on /login"
    answer = client.post(
        "/login",
        data={"username": username, "password": DEMO_PASSWORD, "csrf_token": token.group(1)},
        allow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    # The session's CSRF token, which the API wants in a header on every change.
    token = _CSRF.search(client.get("/home").text)
    assert token, "no CSRF token on /home"
    client.headers["X-CSRF-Token"] = token.group(1)


@pytest.fixture(scope="module", params=PERSONAS)
def persona(
    request: pytest.FixtureRequest, demo: Demo, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Persona]:
    folder = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    for url in _copy_of(demo, folder):
        app = create_app(_settings(url, folder / "storage"))
        with asgi.get_client(app) as client:
            if request.param == "bank":
                client.headers["Authorization"] = f"Bearer {demo.bank_token}"
            elif request.param != "anonymous":
                _sign_in(client, request.param)
            yield Persona(request.param, client)
        app.state.engine.dispose()


def _schema_app() -> FastAPI:
    # The schema is the code's, the same for every persona and database: read once, at
    # collection, from an app that never opens its database.
    return create_app(Settings(environment=Environment.TEST, database_url="sqlite:///:memory:"))


schema = schemathesis.openapi.from_asgi(SCHEMA_PATH, _schema_app())


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_answers_as_its_schema_says(case: schemathesis.Case, persona: Persona) -> None:
    # The session is an in-process ASGI client of the persona's own app. Every check runs but
    # one: a request the schema allows may still be refused by a business rule (a transfer to
    # a stranger, a reason left empty), and the schema documents that refusal as a 4xx.
    case.call_and_validate(session=persona.client, excluded_checks=[positive_data_acceptance])
