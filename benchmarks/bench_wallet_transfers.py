"""Wallet transfers on PostgreSQL: submit + accept per second through the service layer with 8
concurrent clients, against pgbench's built-in `tpcb-like` script (3 updates, 1 read, 1 insert
per transaction) on the same server in the same run, scale 8 (one branch per client).

One "pair" is two transactions: submit (rules, locks, hold posting, audit, idempotency key)
and accept (transfer row lock, status guard, accept posting, idempotency key). Face
verification through the fake verifier, so that argon2 (the 医保码 password, ~50 ms of CPU by
design) does not stand in for the ledger. Issue 5's target: at least 0.5x pgbench.

GONGHUI_BENCH_POSTGRES_URL (default: GONGHUI_TEST_POSTGRES_URL or the local server) names the
server; GONGHUI_BENCH_SECONDS the length of each run (default 15).
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine, make_url, text
from sqlalchemy.orm import Session
from tests.wallet.scenario import FACE, Ring, build_ring, verifier

from gonghui.core.db import make_engine
from gonghui.core.migrate import upgrade
from gonghui.core.pii import IdentityVault
from gonghui.core.settings import Settings
from gonghui.wallet import ledger, transfers

URL = os.environ.get(
    "GONGHUI_BENCH_POSTGRES_URL",
    os.environ.get("GONGHUI_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"),
)
CLIENTS = 8
SECONDS = float(os.environ.get("GONGHUI_BENCH_SECONDS", "15"))
START = datetime(2025, 2, 10, 2, 0, tzinfo=UTC)  # 10:00 Beijing


def _database(name: str, *, drop: bool = False) -> str:
    admin = create_engine(
        make_url(URL).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if not drop:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(URL).set(database=name).render_as_string(hide_password=False)


def _client(url: str, ring: Ring, number: int, start: float, stop: float) -> list[float]:
    """One client in a process of its own (as pgbench's -j gives each client its thread), so
    that eight clients are not eight threads queueing for one interpreter lock.

    Client n gives from person 2n to person 2n+1: no two clients share a wallet, as pgbench's
    clients mostly do not share a branch; each pair one day later (3 a day is the limit)."""
    engine = make_engine(url)
    giver, recipient = ring.actors[2 * number], ring.actors[2 * number + 1]
    face = verifier()
    latencies, day = [], 0
    while time.monotonic() < start:
        time.sleep(0.001)
    while time.monotonic() < stop:
        now = START + timedelta(days=day)
        began = time.monotonic()
        with Session(engine) as db, db.begin():
            sent = transfers.submit_transfer(
                db, giver, recipient_id=ring.insured_ids[2 * number + 1], amount_fen=100,
                proof=FACE, verifier=face, idempotency_key=f"s{day}", now=now,
            )  # fmt: skip
        with Session(engine) as db, db.begin():
            transfers.accept_transfer(
                db, recipient, int(sent["transfer_id"]), idempotency_key=f"a{day}", now=now
            )
        if time.monotonic() <= stop:
            latencies.append(time.monotonic() - began)
        day += 1
    engine.dispose()
    return latencies


def wallet_run() -> tuple[float, list[float]]:
    name = f"gonghui_bench_{uuid.uuid4().hex[:8]}"
    url = _database(name)
    try:
        upgrade(Settings(database_url=url))
        engine = make_engine(url)
        with Session(engine) as db, db.begin():
            ring = build_ring(db, IdentityVault("bench"), START, 2 * CLIENTS, 10_000_000)
        start = time.monotonic() + 3  # every process started and connected
        with ProcessPoolExecutor(CLIENTS) as pool:
            runs = [
                pool.submit(_client, url, ring, n, start, start + SECONDS) for n in range(CLIENTS)
            ]
            latencies = [x for run in runs for x in run.result()]
        with Session(engine) as db:
            problems = ledger.verify(db)
        if problems:
            raise SystemExit(f"ledger check failed: {problems[:5]}")
        engine.dispose()
    finally:
        _database(name, drop=True)
    return len(latencies) / SECONDS, latencies


def pgbench_run() -> tuple[float, str]:
    pgbench = shutil.which("pgbench")
    if pgbench is None:
        raise SystemExit("pgbench not found: apt-get install postgresql-client (Debian)")
    name = f"gonghui_pgbench_{uuid.uuid4().hex[:8]}"
    _database(name)
    parts = make_url(URL)
    connection = [
        "-h",
        parts.host or "127.0.0.1",
        "-p",
        str(parts.port or 5432),
        "-U",
        parts.username or "postgres",
    ]
    try:
        initialise = [pgbench, *connection, "-i", "-q", "-s", str(CLIENTS), name]
        subprocess.run(initialise, check=True, capture_output=True)
        clients = ["-c", str(CLIENTS), "-j", str(CLIENTS), "-T", str(int(SECONDS))]
        run = [pgbench, *connection, "-b", "tpcb-like", *clients, name]
        done = subprocess.run(run, check=True, capture_output=True, text=True)
    finally:
        _database(name, drop=True)
    tps = float(re.search(r"tps = ([\d.]+)", done.stdout).group(1))  # type: ignore[union-attr]
    latency = re.search(r"latency average = ([\d.]+ ms)", done.stdout)
    return tps, latency.group(1) if latency else "?"


def main() -> None:
    reference, pg_latency = pgbench_run()
    pairs, latencies = wallet_run()
    cut = statistics.quantiles(latencies, n=100)
    run = f"{CLIENTS} clients, {SECONDS:.0f} s"
    print(f"pgbench tpcb-like, {run}: {reference:,.0f} tps (average latency {pg_latency})")
    print(f"wallet submit+accept, {run}: {pairs:,.0f} pairs/s ({2 * pairs:,.0f} transactions/s)")
    print(f"  latency per pair: p50 {cut[49] * 1000:.1f} ms, p99 {cut[98] * 1000:.1f} ms")
    print(f"  ratio: {pairs / reference:.2f}x pgbench (pairs/s ÷ tps; target ≥ 0.5x)")


if __name__ == "__main__":
    main()
