"""SQLite under concurrent use: logins while a bank system polls its token, served by a real
uvicorn server on a file database. A busy database makes a request wait, never answer 500."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2
import pytest
import uvicorn
from sqlalchemy.orm import Session

from gonghui.core.auth import Role
from gonghui.core.db import make_engine
from gonghui.core.migrate import upgrade
from gonghui.core.pii import vault_for
from gonghui.core.settings import Environment, Settings
from gonghui.members import accounts
from gonghui.members.models import Bank
from gonghui.web.app import create_app
from tests.conftest import NOW
from tests.world import PASSWORD, SECURITY_SETUP, build_world

LOGINS = 50
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, str]]:
    settings = Settings(
        environment=Environment.TEST,
        database_url=f"sqlite:///{tmp_path / 'gonghui.db'}",
        storage_dir=tmp_path / "storage",
        login_max_failures=1000,
    )
    upgrade(settings)
    engine = make_engine(settings.database_url)
    with Session(engine) as session, session.begin():
        build_world(session, vault_for(settings), NOW)
        bank = session.get(Bank, 1)
        assert bank is not None
        token, _row = accounts.issue_api_token(session, bank, "poll", actor=SECURITY_SETUP, now=NOW)
    engine.dispose()
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", token
    server.should_exit = True
    thread.join(timeout=10)


def _log_in(url: str, username: str) -> int:
    with httpx2.Client(base_url=url, timeout=60) as client:
        page = client.get("/login")
        match = _CSRF.search(page.text)
        assert match, page.status_code
        response = client.post(
            "/login",
            data={"username": username, "password": PASSWORD, "csrf_token": match.group(1)},
        )
        return response.status_code


def _poll(url: str, token: str, stop: threading.Event, statuses: Counter[int]) -> None:
    with httpx2.Client(base_url=url, timeout=60) as client:
        while not stop.is_set():
            statuses[
                client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code
            ] += 1


def test_fifty_concurrent_logins_beside_a_polling_bank_token_never_answer_5xx(
    served: tuple[str, str],
) -> None:
    url, token = served
    polled: Counter[int] = Counter()
    stop = threading.Event()
    pollers = [threading.Thread(target=_poll, args=(url, token, stop, polled)) for _ in range(2)]
    for poller in pollers:
        poller.start()
    users = [Role.ADMIN.value, Role.FEDERATION_STAFF.value, Role.UNIT_OFFICER.value]
    try:
        with ThreadPoolExecutor(max_workers=LOGINS) as pool:
            logins = Counter(pool.map(lambda n: _log_in(url, users[n % len(users)]), range(LOGINS)))
    finally:
        stop.set()
        for poller in pollers:
            poller.join()
    assert logins == {303: LOGINS}, logins  # to /home
    assert polled, "the token was polled"
    assert set(polled) == {200}, polled
