"""The server process killed and restarted while clients move money through the API on
PostgreSQL, retrying each request under its idempotency key until it is answered. Afterwards
the books balance and every acknowledged request was applied exactly once, and no other."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from gonghui.core.auth import hash_password
from gonghui.core.pii import IdentityVault
from gonghui.members.models import User
from gonghui.wallet import ledger
from gonghui.wallet.models import IdempotentRequest, Payment, Transfer
from gonghui.wallet.rules import TransferStatus
from tests.browser.conftest import _free_port
from tests.conftest import NOW
from tests.wallet.scenario import Ring, build_ring

pytestmark = pytest.mark.postgres_only
PEOPLE, STEPS, LOGIN_PASSWORD = 6, 12, "chaos-pass-1"
DEADLINE_SECONDS = 90


class Server:
    """`gonghui serve` in a process of its own, so that it can be killed for real."""

    def __init__(self, url: str, storage: Path) -> None:
        self.port = _free_port()
        self.env = {
            **os.environ,
            "GONGHUI_DATABASE_URL": url,
            "GONGHUI_ENVIRONMENT": "test",
            "GONGHUI_STORAGE_DIR": str(storage),
            "GONGHUI_CLOCK_FIXED": "2025-02-10T10:00:00+08:00",
            "GONGHUI_LOG_LEVEL": "WARNING",
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [sys.executable, "-m", "gonghui", "serve", "--port", str(self.port)]
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            command, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx2.get(f"http://127.0.0.1:{self.port}/health", timeout=1)
            except httpx2.HTTPError:
                time.sleep(0.1)
            else:
                return
        pytest.fail("gonghui serve did not start")

    def kill(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)


@pytest.fixture
def server(fresh_postgres: Engine, tmp_path: Path) -> Iterator[tuple[Server, Ring]]:
    with Session(fresh_postgres) as db, db.begin():
        ring = build_ring(db, IdentityVault("chaos"), NOW, PEOPLE, 1_000_000)
        db.execute(
            update(User)
            .where(User.username.like("ring%"))
            .values(password_hash=hash_password(LOGIN_PASSWORD))
        )
    url = fresh_postgres.url.render_as_string(hide_password=False)
    process = Server(url, tmp_path / "storage")
    process.start()
    yield process, ring
    process.kill()


def _client(base: str, username: str) -> tuple[httpx2.Client, str]:
    client = httpx2.Client(base_url=base, timeout=5)
    page = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    client.post(
        "/login",
        data={"username": username, "password": LOGIN_PASSWORD, "csrf_token": token.group(1)},
    )
    home = client.get("/home").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', home)
    assert csrf
    return client, csrf.group(1)


def _until_answered(
    send: object, deadline: float, away: list[int] | None = None
) -> httpx2.Response | None:
    """The same request, again and again, while the server is away (bounded); each attempt
    that found it away is counted in `away`."""
    while time.monotonic() < deadline:
        try:
            response: httpx2.Response = send()  # type: ignore[operator]
        except httpx2.HTTPError:
            if away is not None:
                away.append(1)
            time.sleep(0.2)
            continue
        if response.status_code < 500:
            return response
        time.sleep(0.2)
    return None


def test_killing_the_server_mid_run_loses_nothing_and_doubles_nothing(
    server: tuple[Server, Ring], fresh_postgres: Engine
) -> None:
    process, ring = server
    base = f"http://127.0.0.1:{process.port}"
    acknowledged: dict[str, set[int]] = {"submit": set(), "accept": set(), "pay": set()}
    lock, deadline = threading.Lock(), time.monotonic() + DEADLINE_SECONDS
    away: list[int] = []

    # Signed in before the chaos: session cookies are signed, so they outlive a restart.
    clients = [_client(base, f"ring{number}") for number in range(PEOPLE)]

    def run(number: int) -> None:
        rng = random.Random(number)  # noqa: S311 - a test's dice
        client, csrf = clients[number]
        for step in range(STEPS):
            kind, path, body = _request(rng, ring, number, client, deadline)
            headers = {"X-CSRF-Token": csrf, "Idempotency-Key": f"{number}-{step}"}
            answer = _until_answered(
                lambda p=path, b=body, h=headers: client.post(p, json=b, headers=h),
                deadline,
                away,
            )
            if answer is not None and answer.status_code == 200:
                key = "payment_id" if kind == "pay" else "transfer_id"
                with lock:
                    acknowledged[kind].add(answer.json()[key])
            time.sleep(rng.random() * 0.05)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(PEOPLE)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)
    process.kill()  # mid-run, with requests in flight
    time.sleep(0.5)
    process.start()
    for thread in threads:
        thread.join(timeout=DEADLINE_SECONDS + 10)
    assert away, "no money request met the killed server: the kill came too late to test"
    _check(fresh_postgres, acknowledged)


def _request(
    rng: random.Random, ring: Ring, number: int, client: httpx2.Client, deadline: float
) -> tuple[str, str, dict[str, object]]:
    roll = rng.random()
    if roll < 0.5:
        target = ring.insured_ids[rng.choice(ring.relatives[number])]
        amount = f"{rng.randint(1, 2000)}.{rng.randint(0, 99):02d}"
        body = {
            "recipient_id": target,
            "amount": amount,
            "method": "face",
            "secret": "fake-face-pass",
        }
        return "submit", "/api/v1/wallet/transfers", body
    if roll < 0.85:
        page = _until_answered(lambda: client.get("/wallet"), deadline)
        found = re.search(r'action="/wallet/transfers/(\d+)/accept"', page.text if page else "")
        if found:
            return "accept", f"/api/v1/wallet/transfers/{found.group(1)}/accept", {}
    body = {"amount": f"{rng.randint(1, 300)}", "purpose": "pharmacy", "payee": "药房"}
    return "pay", "/api/v1/wallet/payments", body


def _check(engine: Engine, acknowledged: dict[str, set[int]]) -> None:
    with Session(engine) as db:
        assert ledger.verify(db) == []
        transfer_ids = set(db.scalars(select(Transfer.id)))
        accepted = set(
            db.scalars(select(Transfer.id).where(Transfer.status == TransferStatus.ACCEPTED))
        )
        payments = set(db.scalars(select(Payment.id)))
        answers = list(db.scalars(select(IdempotentRequest.result)))
    # Every request was retried until answered, so what was applied was acknowledged: the sets
    # are equal, each transfer once (ids are unique rows), and no unacknowledged one exists.
    assert transfer_ids == acknowledged["submit"]
    assert accepted == acknowledged["accept"]
    assert payments == acknowledged["pay"]
    assert len(transfer_ids) > 0
    # Every claimed key holds its answer; those that applied are exactly the rows above (plus
    # the funding of each person's account before the run); the rest were refusals.
    assert None not in answers
    applied = [answer for answer in answers if ledger.REFUSED not in answer]
    assert len(applied) == PEOPLE + len(transfer_ids) + len(accepted) + len(payments)
