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
import threading
import time
import uuid
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


def _client(
    engine: object, ring: Ring, number: int, deadline: float, latencies: list[float]
) -> None:
    # Client n gives from person 2n to person 2n+1: no two clients share a wallet, as pgbench's
    # clients mostly do not share a branch; each pair one day later (3 a day is the limit).
    giver, recipient = ring.actors[2 * number], ring.actors[2 * number + 1]
    day = 0
    while time.perf_counter() < deadline:
        now = START + timedelta(days=day)
        began = time.perf_counter()
        with Session(engine) as db, db.begin():  # type: ignore[arg-type]
            sent = transfers.submit_transfer(
                db, giver, recipient_id=ring.insured_ids[2 * number + 1], amount_fen=100,
                proof=FACE, verifier=verifier(), idempotency_key=f"s{day}", now=now,
            )  # fmt: skip
        with Session(engine) as db, db.begin():  # type: ignore[arg-type]
            transfers.accept_transfer(
                db, recipient, int(sent["transfer_id"]), idempotency_key=f"a{day}", now=now
            )
        latencies.append(time.perf_counter() - began)
        day += 1


def wallet_run() -> tuple[float, list[float]]:
    name = f"gonghui_bench_{uuid.uuid4().hex[:8]}"
    url = _database(name)
    try:
        upgrade(Settings(database_url=url))
        engine = make_engine(url)
        with Session(engine) as db, db.begin():
            ring = build_ring(db, IdentityVault("bench"), START, 2 * CLIENTS, 10_000_000)
        per_client: list[list[float]] = [[] for _ in range(CLIENTS)]
        deadline = time.perf_counter() + SECONDS
        threads = [
            threading.Thread(target=_client, args=(engine, ring, n, deadline, per_client[n]))
            for n in range(CLIENTS)
        ]
        began = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - began
        with Session(engine) as db:
            problems = ledger.verify(db)
        if problems:
            raise SystemExit(f"ledger check failed: {problems[:5]}")
        engine.dispose()
    finally:
        _database(name, drop=True)
    latencies = [x for client in per_client for x in client]
    return len(latencies) / elapsed, latencies


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
