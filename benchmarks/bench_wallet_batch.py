"""The wallet's batch jobs on a large ledger (PostgreSQL): `verify-ledger`, the monthly
settlement and the 06:00 `release-due`, each against a bare SQL reference over the same tables
measured in the same run.

The data is built with set-based SQL (generate_series), not through the service: G givers,
each with one recipient, one relationship, one funding posting and one pending transfer due
for release (G = the pending count); the rest of the entries are accepted transfers, each a
hold, an accept and a payment from the quota (six entries, a payment and a spending row in the
settlement month), spread over the seeded pooling regions. Every cached balance matches its
entries, so `verify-ledger` must find nothing (checked).

References: `verify-ledger` against one bare `GROUP BY account_id` over the entries (a floor:
the check needs at least that scan); the settlement against the bare `GROUP BY` over the
month's spending rows; `release-due` against one bare `UPDATE … WHERE status = 'pending'` of
the same transfers (rolled back), a floor that moves no money.

GONGHUI_BENCH_WALLET_ENTRIES (default 10,000,000) sizes the ledger, GONGHUI_BENCH_WALLET_PENDING
(default 100,000) the pending transfers; GONGHUI_BENCH_POSTGRES_URL names the server.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.orm import Session

from gonghui.cli_support import CLI_ACTOR
from gonghui.core.db import make_engine
from gonghui.core.migrate import upgrade
from gonghui.core.settings import Settings
from gonghui.wallet import ledger, queries, transfers

URL = os.environ.get(
    "GONGHUI_BENCH_POSTGRES_URL",
    os.environ.get("GONGHUI_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"),
)
ENTRIES = int(os.environ.get("GONGHUI_BENCH_WALLET_ENTRIES", "10000000"))
PENDING = int(os.environ.get("GONGHUI_BENCH_WALLET_PENDING", "100000"))
TARGET_SECONDS = 60
MONTH = date(2026, 1, 1)
SUBMITTED = datetime(2026, 1, 15, 2, 0, tzinfo=UTC)  # 10:00 Beijing
RELEASE_AT = datetime(2026, 1, 15, 22, 0, tzinfo=UTC)  # 06:00 Beijing the next day
NOW = datetime(2026, 1, 16, 0, 0, tzinfo=UTC)


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


# Ids: givers 1..G, recipients G+1..2G; accounts: personal g = g, held g = G+g, quota (g's
# recipient) = 2G+g, funding 3G+1, payees 3G+2. Transfers: pending 1..G (transfer g from giver g);
# accepted G+1..G+A (giver 1 + (t mod G)). Postings: fund g = g; hold of pending g = G+g; then
# for accepted t (k = t-G, 1..A): hold 2G+3k-2, accept 2G+3k-1, pay 2G+3k.
_BUILD = [
    """INSERT INTO wallet_insured (id, name, id_hash, id_cipher, id_masked, birth_date, scheme,
        region_id, ended_on, created_at)
       SELECT i, 'p' || i, md5(i::text), 'x', '1101**********' || lpad((i % 10000)::text, 4, '0'),
        DATE '1970-01-01', CASE WHEN i <= :g THEN 'employee' ELSE 'resident' END,
        (SELECT array_agg(id ORDER BY id) FROM wallet_regions)
          [1 + i % (SELECT count(*) FROM wallet_regions)], NULL, :at
       FROM generate_series(1, 2 * :g) AS i""",
    """INSERT INTO wallet_relationships (id, giver_id, recipient_id, kinship, status,
        face_verified, declared_at, confirmed_at)
       SELECT g, g, :g + g, 'parent', 'active', true, :at, :at FROM generate_series(1, :g) g""",
    """INSERT INTO wallet_accounts (id, key, kind, insured_id, giver_id, balance_fen, created_at)
       SELECT g, 'personal:' || g, 'personal', g, NULL::bigint,
              :fund - :amount * (1 + :per + CASE WHEN g <= :extra THEN 1 ELSE 0 END), :at
       FROM generate_series(1, :g) g
       UNION ALL SELECT :g + g, 'held:' || g, 'held', g, NULL, :amount, :at
       FROM generate_series(1, :g) g
       UNION ALL SELECT 2 * :g + g, 'quota:' || (:g + g) || ':' || g, 'quota', :g + g, g, 0, :at
       FROM generate_series(1, :g) g
       UNION ALL SELECT 3 * :g + 1, 'funding', 'funding', NULL, NULL, NULL::bigint, :at
       UNION ALL SELECT 3 * :g + 2, 'payees', 'payees', NULL, NULL, NULL, :at""",
    """INSERT INTO wallet_transfers (id, giver_id, recipient_id, relationship_id, amount_fen,
        status, verification, submitted_at, business_date, release_at, decided_at)
       SELECT t, g, :g + g, g, :amount, CASE WHEN t <= :g THEN 'pending' ELSE 'accepted' END,
        'face', :at, DATE '2026-01-15', :release_at, CASE WHEN t <= :g THEN NULL ELSE :at END
       FROM generate_series(1, :g + :accepted) t, LATERAL (SELECT 1 + (t - 1) % :g AS g) giver""",
    """INSERT INTO wallet_postings (id, kind, transfer_id, at, actor_label, memo)
       SELECT g, 'fund', NULL, :at, 'bench', '' FROM generate_series(1, :g) g
       UNION ALL SELECT :g + g, 'hold', g, :at, 'bench', '' FROM generate_series(1, :g) g
       UNION ALL SELECT 2 * :g + 3 * k - 3 + s,
        (ARRAY['hold', 'accept', 'pay'])[s], CASE WHEN s < 3 THEN :g + k END, :at, 'bench', ''
       FROM generate_series(1, :accepted) k, generate_series(1, 3) s""",
    # Entries: (posting, from account, to account) per posting, two legs each.
    """INSERT INTO wallet_entries (posting_id, account_id, amount_fen)
       SELECT p, a, x FROM (
         SELECT g AS p, 3 * :g + 1 AS d, g AS c, :fund AS x0 FROM generate_series(1, :g) g
         UNION ALL SELECT :g + g, g, :g + g, :amount FROM generate_series(1, :g) g
         UNION ALL SELECT 2 * :g + 3 * k - 3 + s,
           CASE s WHEN 1 THEN g WHEN 2 THEN :g + g ELSE 2 * :g + g END,
           CASE s WHEN 1 THEN :g + g WHEN 2 THEN 2 * :g + g ELSE 3 * :g + 2 END, :amount
         FROM generate_series(1, :accepted) k, generate_series(1, 3) s,
              LATERAL (SELECT 1 + (:g + k - 1) % :g AS g) giver
       ) legs, LATERAL (VALUES (legs.d, -legs.x0), (legs.c, legs.x0)) leg(a, x)""",
    """INSERT INTO wallet_payments (id, recipient_id, posting_id, purpose, payee, amount_fen, at)
       SELECT k, :g + g, 2 * :g + 3 * k, 'hospital', 'bench', :amount, :at
       FROM generate_series(1, :accepted) k, LATERAL (SELECT 1 + (:g + k - 1) % :g AS g) giver""",
    """INSERT INTO wallet_spendings (payment_id, giver_id, spent_region_code, giver_region_code,
        amount_fen, month)
       SELECT k, g, rr.code, gr.code, :amount, :month
       FROM generate_series(1, :accepted) k, LATERAL (SELECT 1 + (:g + k - 1) % :g AS g) giver
       JOIN wallet_insured gi ON gi.id = g JOIN wallet_regions gr ON gr.id = gi.region_id
       JOIN wallet_insured ri ON ri.id = :g + g JOIN wallet_regions rr ON rr.id = ri.region_id""",
]
_SEQUENCES = [
    "wallet_insured",
    "wallet_relationships",
    "wallet_accounts",
    "wallet_transfers",
    "wallet_postings",
    "wallet_payments",
]


def build(engine: Engine, entries: int, pending: int) -> dict[str, int]:
    """The ledger, about `entries` entries with `pending` due transfers."""
    givers = pending
    accepted = max(0, (entries - 4 * givers) // 6)
    parameters: dict[str, Any] = {
        "g": givers,
        "accepted": accepted,
        "per": accepted // givers,
        "extra": accepted % givers,
        "amount": 100,
        "fund": 100 * (accepted // givers + 3),
        "at": SUBMITTED,
        "release_at": RELEASE_AT,
        "month": MONTH,
    }
    with engine.begin() as connection:
        for statement in _BUILD:
            connection.execute(text(statement), parameters)
        for table in _SEQUENCES:
            connection.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
            )
    with engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
        count = connection.scalar(text("SELECT count(*) FROM wallet_entries"))
    return {"entries": int(count or 0), "accepted": accepted, "pending": givers}


def _timed(work: Callable[[], Any]) -> tuple[float, Any]:
    began = time.perf_counter()
    result = work()
    return time.perf_counter() - began, result


def _report(name: str, seconds: float, reference: float, what: str) -> None:
    verdict = "met" if seconds < TARGET_SECONDS else "MISSED"
    print(
        f"{name}: {seconds:.2f} s (target < {TARGET_SECONDS} s: {verdict}); {what} "
        f"{reference:.2f} s; ratio {seconds / reference:.1f}x"
    )


def main() -> None:
    name = f"gonghui_bench_batch_{uuid.uuid4().hex[:8]}"
    url = _database(name)
    try:
        upgrade(Settings(database_url=url))
        engine = make_engine(url)
        seconds, sizes = _timed(lambda: build(engine, ENTRIES, PENDING))
        print(
            f"built {sizes['entries']:,} entries ({sizes['accepted']:,} accepted transfers, "
            f"{sizes['pending']:,} pending) with SQL in {seconds:.1f} s"
        )
        _measure(engine)
        engine.dispose()
    finally:
        _database(name, drop=True)


def _measure(engine: Engine) -> None:
    with engine.connect() as connection:
        floor, _ = _timed(
            lambda: connection.execute(
                text("SELECT account_id, sum(amount_fen) FROM wallet_entries GROUP BY account_id")
            ).all()
        )
    with Session(engine) as db:
        seconds, problems = _timed(lambda: ledger.verify(db))
    if problems:
        raise SystemExit(f"ledger check failed: {problems[:5]}")
    _report("verify-ledger", seconds, floor, "bare GROUP BY over the entries")

    with engine.connect() as connection:
        floor, _ = _timed(
            lambda: connection.execute(
                text(
                    "SELECT spent_region_code, giver_region_code, sum(amount_fen) "
                    "FROM wallet_spendings WHERE month = :month "
                    "GROUP BY spent_region_code, giver_region_code"
                ),
                {"month": MONTH},
            ).all()
        )
    with Session(engine) as db:
        seconds, (pairs, _) = _timed(lambda: queries.settlement(db, CLI_ACTOR, MONTH))
    _report("monthly settlement", seconds, floor, "bare GROUP BY over the month's spendings")
    if not pairs:
        raise SystemExit("the settlement found no inter-region spending")

    with engine.connect() as connection, connection.begin() as transaction:
        floor, _ = _timed(
            lambda: connection.execute(
                text(
                    "UPDATE wallet_transfers SET status = 'expired', decided_at = :now "
                    "WHERE status = 'pending' AND release_at <= :now"
                ),
                {"now": NOW},
            )
        )
        transaction.rollback()

    def release() -> int:
        with Session(engine) as db, db.begin():
            return transfers.release_due(db, NOW, actor=CLI_ACTOR)

    seconds, released = _timed(release)
    _report(f"release-due ({released:,})", seconds, floor, "bare UPDATE of the same transfers")
    with Session(engine) as db:
        problems = ledger.verify(db)
    if problems:
        raise SystemExit(f"ledger check after release failed: {problems[:5]}")


if __name__ == "__main__":
    main()
