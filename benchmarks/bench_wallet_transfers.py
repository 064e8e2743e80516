"""Wallet transfers on PostgreSQL: submit + accept per second through the service layer with 8
concurrent clients, against two pgbench runs on the same server in the same run:

1. pgbench's built-in `tpcb-like` script (3 updates, 1 read, 1 insert per transaction), scale 8
   (one branch per client): issue 5's reference, target at least 0.5x.
2. The SQL-only ceiling: a custom pgbench script (`PAIR_SCRIPT`) that replays the statements a
   submit + accept pair sends, with no Python in between, on a copy of the wallet schema built by
   the migrations and seeded with funded wallets, 8 clients, prepared statements (psycopg
   prepares a statement from its fifth use on, so the service runs prepared too). Before it runs,
   one pair goes through the service with its statements captured, and the script must replay
   the same statements in the same order, or the benchmark stops: the ceiling cannot drift from
   the code.

One "pair" is two transactions: submit (rules, locks, hold posting, audit, idempotency key)
and accept (transfer row lock, status guard, accept posting, idempotency key). Face
verification through the fake verifier, so that argon2 (the 医保码 password, ~50 ms of CPU by
design) does not stand in for the ledger.

On PostgreSQL a submit is two statements (the sender's credentials, then one call of
`wallet_submit_transfer`) and an accept one (`wallet_accept_transfer`): the functions the
migrations create do what the service's own path does in a dozen statements each, and link the
audit row onto the chain by a deferred trigger as the commit happens (`wallet.one_call`). Before
them a pair was 25 statements and reached 0.15-0.29x its ceiling: not for the server's work but
for the client's, some 0.1-0.2 ms of Python (SQLAlchemy and psycopg) per statement on the same
two cores. The last lines printed say what any client of this pair can reach: the client CPU of
the cheapest statement (a prepared guarded UPDATE) through psycopg alone and through a
SQLAlchemy session, times the pair's statements, against the ceiling's CPU per pair (the cores
over its pairs/s). Figures and their dates are in the README.

GONGHUI_BENCH_POSTGRES_URL (default: GONGHUI_TEST_POSTGRES_URL or the local server) names the
server; GONGHUI_BENCH_SECONDS the length of each run (default 15).
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    MetaData,
    Table,
    bindparam,
    create_engine,
    event,
    insert,
    make_url,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session
from tests.wallet.scenario import FACE, Ring, build_ring, verifier

from gonghui.core.db import make_engine
from gonghui.core.migrate import upgrade
from gonghui.core.pii import IdentityVault
from gonghui.core.settings import Settings
from gonghui.wallet import ledger, transfers
from gonghui.wallet.models import Insured

URL = os.environ.get(
    "GONGHUI_BENCH_POSTGRES_URL",
    os.environ.get("GONGHUI_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"),
)
CLIENTS = 8
SECONDS = float(os.environ.get("GONGHUI_BENCH_SECONDS", "15"))
START = datetime(2025, 2, 10, 2, 0, tzinfo=UTC)  # 10:00 Beijing
AMOUNT_FEN = 100


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


@contextmanager
def _wallet_database(prefix: str) -> Iterator[tuple[str, Engine, Ring]]:
    """A database of its own, built by the migrations, with 2 people per client: client n gives
    from person 2n to person 2n+1, so no two clients share a wallet (as pgbench's clients mostly
    do not share a branch)."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    url = _database(name)
    try:
        upgrade(Settings(database_url=url))
        engine = make_engine(url)
        with Session(engine) as db, db.begin():
            ring = build_ring(db, IdentityVault("bench"), START, 2 * CLIENTS, 10_000_000)
        yield url, engine, ring
        engine.dispose()
    finally:
        _database(name, drop=True)


def _pair(engine: Engine, ring: Ring, number: int, day: int, face: Any) -> None:
    """One submit + accept by client `number`, each pair one day later (3 a day is the limit)."""
    now = START + timedelta(days=day)
    with Session(engine) as db, db.begin():
        sent = transfers.submit_transfer(
            db, actor=ring.actors[2 * number], recipient_id=ring.insured_ids[2 * number + 1],
            amount_fen=AMOUNT_FEN, proof=FACE, verifier=face, idempotency_key=f"s{day}",
            now=now,
        )  # fmt: skip
    with Session(engine) as db, db.begin():
        transfers.accept_transfer(
            db, int(sent["transfer_id"]), actor=ring.actors[2 * number + 1],
            idempotency_key=f"a{day}", now=now,
        )  # fmt: skip


# ---- the service layer ------------------------------------------------------------------------


def _client(
    url: str, ring: Ring, number: int, start: float, stop: float
) -> tuple[list[float], float]:
    """One client in a process of its own (as pgbench's -j gives each client its thread), so
    that eight clients are not eight threads queueing for one interpreter lock. Returns the
    latencies and the process's CPU seconds over its pairs."""
    engine = make_engine(url)
    face = verifier()
    latencies, day = [], 0
    while time.monotonic() < start:
        time.sleep(0.001)
    cpu = time.process_time()
    while time.monotonic() < stop:
        began = time.monotonic()
        _pair(engine, ring, number, day, face)
        if time.monotonic() <= stop:
            latencies.append(time.monotonic() - began)
        day += 1
    cpu = (time.process_time() - cpu) / max(day, 1) * len(latencies)
    engine.dispose()
    return latencies, cpu


def wallet_run() -> tuple[float, list[float], float]:
    """Pairs per second, their latencies, and the clients' CPU seconds per pair."""
    with _wallet_database("gonghui_bench") as (url, engine, ring):
        start = time.monotonic() + 3  # every process started and connected
        with ProcessPoolExecutor(CLIENTS) as pool:
            runs = [
                pool.submit(_client, url, ring, n, start, start + SECONDS) for n in range(CLIENTS)
            ]
            done = [run.result() for run in runs]
        latencies = [x for run_latencies, _ in done for x in run_latencies]
        cpu = sum(run_cpu for _, run_cpu in done)
        with Session(engine) as db:
            problems = ledger.verify(db)
        if problems:
            raise SystemExit(f"ledger check failed: {problems[:5]}")
    return len(latencies) / SECONDS, latencies, cpu / max(len(latencies), 1)


# ---- pgbench ----------------------------------------------------------------------------------


def _pgbench(*arguments: str) -> str:
    pgbench = shutil.which("pgbench")
    if pgbench is None:
        raise SystemExit("pgbench not found: apt-get install postgresql-client (Debian)")
    parts = make_url(URL)
    connection = [
        "-h",
        parts.host or "127.0.0.1",
        "-p",
        str(parts.port or 5432),
        "-U",
        parts.username or "postgres",
    ]
    command = [pgbench, *connection, *arguments]
    done = subprocess.run(command, check=False, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"pgbench failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return done.stdout


def _throughput(output: str) -> tuple[float, str]:
    tps = float(re.search(r"tps = ([\d.]+)", output).group(1))  # type: ignore[union-attr]
    latency = re.search(r"latency average = ([\d.]+ ms)", output)
    return tps, latency.group(1) if latency else "?"


def _clients() -> list[str]:
    return ["-c", str(CLIENTS), "-j", str(CLIENTS), "-T", str(int(SECONDS))]


def pgbench_run() -> tuple[float, str]:
    """pgbench's own tpcb-like, as issue 5 names it (default, simple query protocol)."""
    name = f"gonghui_pgbench_{uuid.uuid4().hex[:8]}"
    _database(name)
    try:
        _pgbench("-i", "-q", "-s", str(CLIENTS), name)
        output = _pgbench("-b", "tpcb-like", *_clients(), name)
    finally:
        _database(name, drop=True)
    return _throughput(output)


# ---- the pair's SQL, replayed by pgbench ------------------------------------------------------

# What one submit + accept pair sends (see `_statements`), in pgbench's dialect: `:name` are
# variables (set per client below, from the seeded ids), `\gset` keeps a returned row for the
# next statements, and `\startpipeline` sends together what psycopg's executemany sends together.
# The values are the bench's own: 100 fen, face verification, a new day for every pair.
PAIR_SCRIPT = r"""
\set day random(1, 1000000)
\set at 1739152800 + 86400 * :day
\set release_at :at + 72000
\set key random(1, 1000000000000)
\set amount 100
BEGIN;
SELECT wallet_insured.id, wallet_insured.region_id, wallet_insured.ended_on,
  wallet_wallets.id AS wallet_id, wallet_wallets.password_hash,
  wallet_wallets.password_failures, wallet_wallets.last_password_failure,
  EXISTS (SELECT recipient.id FROM wallet_insured AS recipient
    WHERE recipient.id = :recipient) AS recipient_found
FROM wallet_insured LEFT OUTER JOIN wallet_wallets ON wallet_wallets.insured_id = wallet_insured.id
WHERE wallet_insured.user_id = :giver_user OR wallet_insured.member_id = NULL;
SELECT * FROM wallet_submit_transfer('user:' || :giver_user, 's' || :key,
  '1f8e654d457bb1556a0694c1badf85c54bd237e5d1539ff65cd042086f75a18a', :giver, :recipient,
  :giver_region, :amount, 'face', to_timestamp(:at), date '2025-02-10' + :day::integer,
  to_timestamp(:release_at), 3, 'ring0', NULL, :giver_user, NULL, 'ring0(参保人0)',
  '{"amount_fen":100,"recipient_id":2}') \gset
COMMIT;
BEGIN;
SELECT * FROM wallet_accept_transfer('user:' || :recipient_user, 'a' || :key,
  '249f9bdf8e1069611ae970cf26c36e53f2b2a0bc12a4c15a3d6ce517629463dc', :new_transfer,
  :recipient_user, NULL, to_timestamp(:at), 'ring1', :recipient_user, NULL,
  'ring1(参保人1)');
COMMIT;
"""


def _shape(statement: str) -> str:
    """What a statement does to which table ("UPDATE wallet_accounts"), to compare the script
    with what the service sends without comparing parameter spellings."""
    verb = statement.split(maxsplit=1)[0].rstrip(";").upper()
    if verb in {"BEGIN", "COMMIT", "SAVEPOINT", "RELEASE"}:
        return verb
    table = re.search(r"\b(?:FROM|INTO|UPDATE)\s+(\w+)", statement, re.IGNORECASE)
    return f"{verb} {table.group(1) if table else '?'}"


def _script_shapes(script: str) -> list[str]:
    shapes, current = [], []
    for line in script.splitlines():
        if line.startswith("\\") or not line.strip():
            continue
        current.append(line)
        if line.rstrip().endswith(";") or "\\gset" in line:
            shapes.append(_shape(" ".join(current)))
            current = []
    return shapes


def _statements(
    engine: Engine, ring: Ring, number: int, day: int, face: Any
) -> tuple[list[str], int]:
    """The statements one pair sends through the service, BEGIN and COMMIT included, one per
    parameter set of an executemany; and the round trips the statements other than BEGIN and
    COMMIT took (an executemany is one: psycopg pipelines it). The pool's pre-ping goes round
    these events, uncounted."""
    sent: list[str] = []
    round_trips = 0

    def on_execute(*args: Any) -> None:
        nonlocal round_trips
        statement, parameters, executemany = args[2], args[3], args[5]
        sent.extend([_shape(statement)] * (len(parameters) if executemany else 1))
        round_trips += 1

    def on_begin(_connection: Any) -> None:
        sent.append("BEGIN")

    def on_commit(_connection: Any) -> None:
        sent.append("COMMIT")

    listeners = [
        ("before_cursor_execute", on_execute),
        ("begin", on_begin),
        ("commit", on_commit),
    ]
    for name, listener in listeners:
        event.listen(engine, name, listener)
    try:
        _pair(engine, ring, number, day, face)
    finally:
        for name, listener in listeners:
            event.remove(engine, name, listener)
    return sent, round_trips


def _per_client(ids: list[int], what: str) -> str:
    """A pgbench expression for each client's id of one kind, from the seeded ids (a script can
    compute with :client_id but not look anything up without a statement of its own)."""
    first, step = ids[0], ids[1] - ids[0]
    if ids != [first + step * number for number in range(len(ids))]:
        raise SystemExit(f"seeded {what} ids are not evenly spaced: {ids}")
    return f"{first} + {step} * :client_id"


def _variables(engine: Engine, ring: Ring) -> str:
    givers = ring.insured_ids[0::2]
    recipients = ring.insured_ids[1::2]
    with Session(engine) as db:
        region = {
            row.id: row.region_id for row in db.execute(select(Insured.id, Insured.region_id))
        }
    ids = {
        "giver_region": [region[giver] for giver in givers],
        "giver": givers,
        "recipient": recipients,
        "giver_user": [actor.user_id or 0 for actor in ring.actors[0::2]],
        "recipient_user": [actor.user_id or 0 for actor in ring.actors[1::2]],
    }
    return "\n".join(f"\\set {name} {_per_client(values, name)}" for name, values in ids.items())


def ceiling_run() -> tuple[float, str, list[str], int]:
    """The pair's statements replayed by pgbench on a copy of the wallet schema with funded
    wallets: the database's own ceiling for this design. Returns pairs/s, pgbench's average
    latency, and the statements of one pair as the service sent them, with its round trips."""
    with _wallet_database("gonghui_ceiling") as (url, engine, ring):
        face = verifier()
        # A first pair per client through the service opens its accounts (held, quota); the
        # second pair of the first client is what every later pair sends.
        for number in range(CLIENTS):
            _pair(engine, ring, number, 0, face)
        sent, round_trips = _statements(engine, ring, 0, 1, face)
        replayed = _script_shapes(PAIR_SCRIPT)
        if replayed != sent:
            raise SystemExit(
                "PAIR_SCRIPT no longer replays what a pair sends; update it.\n"
                f"  sent:     {sent}\n  replayed: {replayed}"
            )
        with tempfile.TemporaryDirectory() as folder:
            script = Path(folder) / "wallet_pair.sql"
            script.write_text(_variables(engine, ring) + PAIR_SCRIPT, encoding="utf-8")
            database = make_url(url).database or ""
            output = _pgbench("-n", "-M", "prepared", "-f", str(script), *_clients(), database)
        with Session(engine) as db:
            problems = ledger.verify(db)
            accepted = db.scalar(
                text("SELECT count(*) FROM wallet_transfers WHERE status = 'accepted'")
            )
        if problems:
            raise SystemExit(f"the replay broke the ledger: {problems[:5]}")
    # Every replayed pair moved its money (an UPDATE that matches no row is no error to pgbench).
    replayed_pairs = int(re.search(r"actually processed: (\d+)", output).group(1))  # type: ignore[union-attr]
    if accepted != replayed_pairs + CLIENTS + 1:
        raise SystemExit(f"{replayed_pairs} pairs replayed, {accepted} transfers accepted")
    tps, latency = _throughput(output)
    return tps, latency, sent, round_trips


# ---- what one statement costs the client ------------------------------------------------------

FLOOR_RUNS = 5000


def statement_floor() -> tuple[float, float]:
    """Client CPU seconds per statement for the cheapest statement a pair sends, a guarded
    balance UPDATE with RETURNING on a prepared statement, run 5,000 times in one transaction:
    through psycopg alone, and through the cheapest SQLAlchemy path (a statement built once,
    executed in an ORM session, as the service runs it). Whatever the pair's rules cost comes on
    top, so statements x the SQLAlchemy figure is what a pair costs its client at the least."""
    name = f"gonghui_floor_{uuid.uuid4().hex[:8]}"
    url = _database(name)
    try:
        table = Table(
            "probe", MetaData(), Column("id", BigInteger, primary_key=True),
            Column("balance", BigInteger),
        )  # fmt: skip
        engine = make_engine(url)
        table.create(engine)
        with engine.begin() as connection:
            connection.execute(insert(table), [{"id": n, "balance": 10**9} for n in range(10)])
        guarded = (
            update(table)
            .where(table.c.id == bindparam("n"), table.c.balance + bindparam("a") >= 0)
            .values(balance=table.c.balance + bindparam("a"))
            .returning(table.c.balance)
        )
        with Session(engine) as db, db.begin():
            cpu = time.process_time()
            for run in range(FLOOR_RUNS):
                db.execute(guarded, {"n": run % 10, "a": 1}).scalar_one()
            through_sqlalchemy = (time.process_time() - cpu) / FLOOR_RUNS
        engine.dispose()
        compiled = guarded.compile(dialect=postgresql.dialect())  # %(n)s, %(a)s, %(param_1)s
        raw, fixed = compiled.string, compiled.params
        driver = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(driver, prepare_threshold=0) as connection:
            cursor = connection.cursor()
            cpu = time.process_time()
            for run in range(FLOOR_RUNS):
                cursor.execute(raw, {**fixed, "n": run % 10, "a": 1})
                cursor.fetchone()
            through_psycopg = (time.process_time() - cpu) / FLOOR_RUNS
    finally:
        _database(name, drop=True)
    return through_psycopg, through_sqlalchemy


def main() -> None:
    reference, pg_latency = pgbench_run()
    ceiling, ceiling_latency, sent, round_trips = ceiling_run()
    pairs, latencies, cpu = wallet_run()
    psycopg_cost, sqlalchemy_cost = statement_floor()
    cut = statistics.quantiles(latencies, n=100)
    run = f"{CLIENTS} clients, {SECONDS:.0f} s"
    statements = [shape for shape in sent if shape not in {"BEGIN", "COMMIT"}]
    print(f"pgbench tpcb-like, {run}: {reference:,.0f} tps (average latency {pg_latency})")
    print(
        f"SQL-only ceiling, pgbench replaying a pair (2 transactions: {len(statements)} "
        f"statements in {round_trips} round trips, and BEGIN and COMMIT), {run}: "
        f"{ceiling:,.0f} pairs/s (average latency {ceiling_latency})"
    )
    print(f"  ratio: {ceiling / reference:.2f}x tpcb-like")
    print(f"wallet submit+accept, {run}: {pairs:,.0f} pairs/s ({2 * pairs:,.0f} transactions/s)")
    print(f"  latency per pair: p50 {cut[49] * 1000:.1f} ms, p99 {cut[98] * 1000:.1f} ms")
    print(f"  client CPU per pair (Python: SQLAlchemy, psycopg, the service): {cpu * 1000:.1f} ms")
    print(
        f"  ratio: {pairs / reference:.2f}x tpcb-like (target ≥ 0.5x), "
        f"{pairs / ceiling:.2f}x the SQL-only ceiling"
    )
    # Both runs have the same cores: the ceiling's CPU per pair (server and pgbench) is what
    # the cores give divided by its pairs/s, and a client adds its own on top.
    cores = os.cpu_count() or 1
    ceiling_cpu = cores / ceiling
    at_least = len(statements) * sqlalchemy_cost
    print(
        f"client CPU per statement, a prepared guarded UPDATE ({FLOOR_RUNS:,} in one "
        f"transaction): psycopg alone {psycopg_cost * 1e6:.0f} us, through a SQLAlchemy "
        f"session {sqlalchemy_cost * 1e6:.0f} us ({sqlalchemy_cost / psycopg_cost:.1f}x)"
    )
    print(
        f"  a pair's {len(statements)} statements through SQLAlchemy: at least "
        f"{at_least * 1000:.1f} ms of client CPU before any rule, against the ceiling's "
        f"{ceiling_cpu * 1000:.1f} ms of CPU a pair on {cores} cores: the most such a client "
        f"can reach here is about {ceiling_cpu / (ceiling_cpu + at_least):.2f}x the ceiling "
        f"({ceiling_cpu / (ceiling_cpu + len(statements) * psycopg_cost):.2f}x through "
        f"psycopg alone)"
    )


if __name__ == "__main__":
    main()
