"""The audit chain: every committed row linked to the one before, a break named, a purge that
keeps the young rows and the chain verifiable, and concurrent writers that never fork it."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Connection, Engine, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from gonghui.cli import app as cli_app
from gonghui.core import audit, audit_chain
from gonghui.core.audit import AuditEntry
from gonghui.core.audit_chain import AuditChainHead, AuditCheckpoint, AuditLink
from gonghui.core.db import make_engine
from gonghui.core.migrate import alembic_config
from tests.conftest import NOW
from tests.world import SETUP


def _write(session: Session, action: str, at: datetime = NOW, target_id: object = 1) -> None:
    audit.record(session, actor=SETUP, at=at, action=action, target_type="t", target_id=target_id)


def _ids(session: Session, action: str) -> list[int]:
    return list(
        session.scalars(select(AuditEntry.id).where(AuditEntry.action == action).order_by("id"))
    )


def _drop_guards(connection: Connection) -> None:
    """What someone with the database's owner rights could do; rolled back with the test."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("DROP TRIGGER audit_log_append_only ON audit_log"))
        connection.execute(text("DROP TRIGGER audit_chain_append_only ON audit_chain"))
        return
    for name in ("audit_log_no_update", "audit_log_no_delete", "audit_chain_no_delete"):
        connection.execute(text(f"DROP TRIGGER {name}"))


def test_committed_rows_are_linked_in_order_and_the_chain_verifies(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session:
        _write(session, "t.first")
        audit.append(session, actor=SETUP, at=NOW, action="t.second", target_type="t", target_id=2)
        session.commit()
        first, second = _ids(session, "t.first") + _ids(session, "t.second")
        links = {
            link.audit_id: link
            for link in session.scalars(
                select(AuditLink).where(AuditLink.audit_id.in_([first, second]))
            )
        }
        assert links[second].seq == links[first].seq + 1
        assert links[second].prev_hash == links[first].hash
        head = session.get(AuditChainHead, 1)
        assert head is not None
        assert (head.seq, head.hash) == (links[second].seq, links[second].hash)
        assert audit_chain.verify(session).ok


def test_a_rolled_back_savepoint_leaves_no_dangling_link(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        _write(session, "t.kept")
        nested = session.begin_nested()
        _write(session, "t.undone")
        nested.rollback()
        session.commit()
        assert _ids(session, "t.undone") == []
        assert audit_chain.verify(session).ok


def test_appended_rows_are_hashed_as_they_read_back(sessions: sessionmaker[Session]) -> None:
    # `append` hashes the values it wrote, without reading the row again: what the JSON
    # columns and the instant read back as must be what was hashed.
    beijing = timezone(timedelta(hours=8))
    with sessions() as session:
        audit.append(
            session,
            actor=SETUP,
            at=datetime(2025, 3, 1, 9, 30, 15, 123456, tzinfo=beijing),
            action="t.awkward",
            target_type="t",
            target_id=7,
            before={"names": ("林", "王"), "nested": {"b": [1, 2.5, None], "a": True}},
            after={1: "int key", "名": "非ASCII", "empty": {}},
        )
        session.commit()
        stored = session.execute(select(AuditEntry).where(AuditEntry.action == "t.awkward"))
        entry = stored.scalar_one()
        assert entry.after == {"1": "int key", "名": "非ASCII", "empty": {}}
        verdict = audit_chain.verify(session)
        assert verdict.ok, verdict.reason


def test_a_rolled_back_savepoint_drops_its_appended_rows_from_the_chain(
    sessions: sessionmaker[Session],
) -> None:
    def _append(session: Session, action: str) -> None:
        audit.append(session, actor=SETUP, at=NOW, action=action, target_type="t", target_id=1)

    with sessions() as session:
        _append(session, "t.kept")
        nested = session.begin_nested()
        _append(session, "t.undone")
        inner = session.begin_nested()
        _append(session, "t.undone_inner")
        inner.commit()
        nested.rollback()
        again = session.begin_nested()
        _append(session, "t.kept_after")
        again.commit()
        session.commit()
        assert _ids(session, "t.undone") + _ids(session, "t.undone_inner") == []
        kept = _ids(session, "t.kept") + _ids(session, "t.kept_after")
        linked = session.scalars(select(AuditLink.audit_id).where(AuditLink.audit_id.in_(kept)))
        assert sorted(linked) == kept
        verdict = audit_chain.verify(session)
        assert verdict.ok, verdict.reason


def test_an_edited_row_is_named_as_the_first_break(
    sessions: sessionmaker[Session], connection: Connection
) -> None:
    with sessions() as session:
        for n in range(3):
            _write(session, f"t.row{n}")
        session.commit()
        middle = _ids(session, "t.row1")[0]
        _drop_guards(connection)
        session.execute(
            text("UPDATE audit_log SET target_id = 'forged' WHERE id = :id"), {"id": middle}
        )
        verdict = audit_chain.verify(session)
    assert (verdict.ok, verdict.broken_at) == (False, middle)
    assert "改动" in verdict.reason


def test_a_deleted_row_and_its_link_break_the_chain_at_the_next_row(
    sessions: sessionmaker[Session], connection: Connection
) -> None:
    with sessions() as session:
        for n in range(3):
            _write(session, f"t.row{n}")
        session.commit()
        middle, last = _ids(session, "t.row1")[0], _ids(session, "t.row2")[0]
        _drop_guards(connection)
        session.execute(text("DELETE FROM audit_chain WHERE audit_id = :id"), {"id": middle})
        session.execute(text("DELETE FROM audit_log WHERE id = :id"), {"id": middle})
        verdict = audit_chain.verify(session)
    assert (verdict.ok, verdict.broken_at) == (False, last)


def test_a_row_slipped_in_beside_the_chain_is_named(
    sessions: sessionmaker[Session], db: Session
) -> None:
    with sessions() as session:
        _write(session, "t.chained")
        session.commit()
    db.execute(
        text(
            "INSERT INTO audit_log (at, actor_label, action, target_type, target_id) "
            "VALUES (:at, 'x', 't.forged', 't', '1')"
        ),
        {"at": NOW.strftime("%Y-%m-%d %H:%M:%S.%f")},
    )
    verdict = audit_chain.verify(db)
    assert (verdict.ok, verdict.broken_at) == (False, _ids(db, "t.forged")[0])


def test_the_purge_keeps_180_days_and_stops_at_the_first_younger_row(
    sessions: sessionmaker[Session],
) -> None:
    now = NOW + timedelta(days=400)
    with sessions() as session:
        old = now - timedelta(days=181)
        _write(session, "t.old1", at=old)
        _write(session, "t.old2", at=old)
        session.commit()
        _write(session, "t.young", at=now - timedelta(days=179))
        session.commit()
        _write(session, "t.old_but_later", at=old)  # written late with an early time
        session.commit()
        with pytest.raises(audit_chain.RetentionTooShortError):
            audit_chain.purge(session, now=now, keep_days=179, actor_label="t")
        anchor = audit_chain.purge(session, now=now, keep_days=180, actor_label="t")
        session.commit()
        assert anchor is not None
        assert _ids(session, "t.old1") == _ids(session, "t.old2") == []
        assert len(_ids(session, "t.young")) == len(_ids(session, "t.old_but_later")) == 1
        verdict = audit_chain.verify(session)
        assert verdict.ok, verdict.reason
        # Nothing more is due: the younger row still shields the one after it.
        assert audit_chain.purge(session, now=now, keep_days=180, actor_label="t") is None


def test_rows_no_checkpoint_covers_still_cannot_be_deleted(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session:
        _write(session, "t.young", at=NOW)
        session.commit()
        with pytest.raises(DBAPIError, match="append-only"):
            session.execute(text("DELETE FROM audit_chain"))


def test_a_purge_is_refused_when_the_chain_is_broken(
    sessions: sessionmaker[Session], connection: Connection
) -> None:
    with sessions() as session:
        _write(session, "t.old", at=NOW - timedelta(days=400))
        session.commit()
        _drop_guards(connection)
        session.execute(text("UPDATE audit_log SET action = 'x' WHERE action = 't.old'"))
        later = NOW + timedelta(days=400)  # the whole chain so far is past its keep
        with pytest.raises(audit_chain.ChainBrokenError):
            audit_chain.purge(session, now=later, keep_days=180, actor_label="t")
        assert session.scalar(select(func.count()).select_from(AuditCheckpoint)) == 0


def _hammer(engine: Engine, writers: int, rows_each: int) -> list[BaseException]:
    failures: list[BaseException] = []
    start = threading.Barrier(writers)

    def writer(n: int) -> None:
        try:
            start.wait()
            for i in range(rows_each):
                with Session(engine) as session, session.begin():
                    _write(session, "t.concurrent", target_id=f"{n}-{i}")
                    _write(session, "t.concurrent", target_id=f"{n}-{i}b")
                # A transaction of one row (the wallet's money moves), written by `append`.
                with Session(engine) as session, session.begin():
                    audit.append(
                        session, actor=SETUP, at=NOW, action="t.concurrent", target_type="t",
                        target_id=f"{n}-{i}c",
                    )  # fmt: skip
        except BaseException as error:  # noqa: BLE001 - reported by the test
            failures.append(error)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return failures


def _assert_one_unforked_chain(engine: Engine, expected: int) -> None:
    with Session(engine) as session:
        assert len(_ids(session, "t.concurrent")) == expected
        verdict = audit_chain.verify(session)
        assert verdict.ok, verdict.reason
        assert verdict.checked == expected


def test_concurrent_writers_on_postgresql_never_fork_the_chain(fresh_postgres: Engine) -> None:
    assert _hammer(fresh_postgres, writers=8, rows_each=10) == []
    _assert_one_unforked_chain(fresh_postgres, 8 * 10 * 3)


def test_concurrent_writers_on_sqlite_never_fork_the_chain(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'chain.db'}"
    engine = make_engine(url)
    with engine.begin() as connection:
        command.upgrade(alembic_config(url, connection), "heads")
    assert _hammer(engine, writers=6, rows_each=10) == []
    _assert_one_unforked_chain(engine, 6 * 10 * 3)
    engine.dispose()


OLD = datetime(2025, 1, 1, tzinfo=UTC)


def _migrate_with_rows_already_there(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as connection:
        command.upgrade(alembic_config(url, connection), "b7c41e2d9a05")
        for n in range(3):
            connection.execute(
                text(
                    "INSERT INTO audit_log (at, actor_label, action, target_type, target_id, "
                    "after) VALUES (:at, 'old', 't.before_chain', 't', :n, :after)"
                ),
                {
                    "at": datetime(2025, 1, 1, tzinfo=UTC),
                    "n": str(n),
                    "after": '{"b": 1, "a": "名"}',
                },
            )
    with engine.begin() as connection:
        command.upgrade(alembic_config(url, connection), "heads")
    with Session(engine) as session, session.begin():
        _write(session, "t.after_chain")
    with Session(engine) as session:
        verdict = audit_chain.verify(session)
        assert verdict.ok, verdict.reason
        assert verdict.checked == 4
    engine.dispose()


def test_the_migration_chains_the_rows_already_there_on_sqlite(tmp_path: Path) -> None:
    _migrate_with_rows_already_there(f"sqlite:///{tmp_path / 'old.db'}")


def test_the_migration_chains_the_rows_already_there_on_postgresql(
    postgres_database: str,
) -> None:
    _migrate_with_rows_already_there(postgres_database)


def test_audit_verify_exits_non_zero_naming_the_first_broken_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("GONGHUI_DATABASE_URL", url)
    engine = make_engine(url)
    with engine.begin() as connection:
        command.upgrade(alembic_config(url, connection), "heads")
    with Session(engine) as session, session.begin():
        for n in range(3):
            _write(session, f"t.row{n}")
    runner = CliRunner()
    good = runner.invoke(cli_app, ["audit", "verify"])
    assert good.exit_code == 0, good.output
    assert "已校验 3 条" in good.output
    with engine.begin() as connection:
        connection.execute(text("DROP TRIGGER audit_log_no_update"))
        connection.execute(text("UPDATE audit_log SET action = 'x' WHERE action = 't.row1'"))
    broken = runner.invoke(cli_app, ["audit", "verify"])
    assert broken.exit_code == 1
    assert "审计记录 #2" in broken.output
    engine.dispose()


def test_a_transaction_of_many_rows_links_them_all_in_order(
    sessions: sessionmaker[Session],
) -> None:
    # A small transaction's rows are linked by one statement on PostgreSQL and a batch's in
    # Python: both make the chain `verify` walks.
    with sessions() as session:
        before = audit_chain.verify(session).checked
        sizes = (1, 3, audit_chain.SERVER_LINKS_AT_MOST + 1)
        for rows in sizes:
            for n in range(rows):
                audit.append(
                    session, actor=SETUP, at=NOW, action="t.many", target_type="t", target_id=n
                )
            _write(session, "t.many")
            session.commit()
        verdict = audit_chain.verify(session)
        assert verdict.ok, verdict.reason
        assert verdict.checked == before + sum(rows + 1 for rows in sizes)
