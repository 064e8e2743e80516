"""Backup and restore of a demo federation, into a fresh database and storage, on SQLite and on
PostgreSQL: the ledger still balances, every table's rows and every stored file come back, and
last month's assessment re-run on the copy gives the same figure for every card."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from gonghui import backup
from gonghui.cli import app as cli_app
from gonghui.core.db import make_engine
from gonghui.core.migrate import upgrade
from gonghui.core.settings import Environment, Settings
from gonghui.demo import load_demo
from gonghui.insurance import assessment, service
from gonghui.insurance.models import AssessmentSnapshot
from gonghui.insurance.store import store_for
from gonghui.wallet import ledger
from tests.conftest import NOW, _postgres_database
from tests.world import SETUP

runner = CliRunner()


def _settings(url: str, storage: Path) -> Settings:
    return Settings(environment=Environment.TEST, database_url=url, storage_dir=storage)


def _pair(
    request: pytest.FixtureRequest, tmp_path: Path, *, demo: bool
) -> Iterator[tuple[Settings, Settings]]:
    if request.param == "sqlite":
        urls = [f"sqlite:///{tmp_path / 'live.db'}", f"sqlite:///{tmp_path / 'copy.db'}"]
        databases: list[Iterator[str]] = []
    else:
        databases = [_postgres_database(), _postgres_database()]
        urls = [next(database) for database in databases]
    live = _settings(urls[0], tmp_path / "live-storage")
    upgrade(live)
    if demo:
        engine = make_engine(live.database_url)
        with Session(engine) as session, session.begin():
            load_demo(session, live, now=NOW, members=300, units=20)
        engine.dispose()
    try:
        yield live, _settings(urls[1], tmp_path / "copy-storage")
    finally:
        for database in databases:
            database.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def pair(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Settings, Settings]]:
    """A demo federation, and an empty database and storage to restore it into."""
    yield from _pair(request, tmp_path, demo=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_pair(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[Settings, Settings]]:
    """A federation with nothing in it yet (but its tables), and somewhere to restore it."""
    yield from _pair(request, tmp_path, demo=False)


def _files(settings: Settings) -> dict[str, str]:
    return {
        name: backup.sha256_of(path) for name, path in backup.stored_files(settings.storage_dir)
    }


def _reassessed(settings: Settings) -> list[tuple[object, ...]]:
    engine = make_engine(settings.database_url)
    store = store_for(settings)
    with Session(engine) as session, session.begin():
        plan = service.plan_by_code(session)
        summary = assessment.assess(
            session, plan, date(2025, 1, 1), actor=SETUP, now=NOW, store=store
        )
        # Each run keeps its own results file, recorded in its snapshot.
        snapshot = session.get(AssessmentSnapshot, summary.snapshot)
        assert snapshot is not None
        results = store.absolute(snapshot.results_path)
    engine.dispose()
    with duckdb.connect() as connection:
        return connection.execute(
            f"SELECT card_no, average_fen, days, eligible, reasons FROM '{results}' ORDER BY 1"  # noqa: S608 - a path we wrote
        ).fetchall()


def test_a_backup_restored_into_a_fresh_database_is_the_same_federation(
    pair: tuple[Settings, Settings], tmp_path: Path
) -> None:
    live, copy = pair
    archive = tmp_path / "gonghui.tar.gz"
    made = backup.backup(live, archive, now=NOW, say=lambda _text: None)
    assert made.tables["wallet_entries"] > 0
    assert made.tables["insurance_coverages"] > 0

    restored = backup.restore(copy, archive, say=lambda _text: None)
    assert restored.tables == backup.row_counts(make_engine(copy.database_url))
    assert _files(copy) == _files(live)
    engine = make_engine(copy.database_url)
    with Session(engine) as session:
        assert ledger.verify(session) == []
    engine.dispose()
    assert _reassessed(copy) == _reassessed(live)


def test_restore_refuses_a_database_or_storage_that_is_not_empty(
    empty_pair: tuple[Settings, Settings], tmp_path: Path
) -> None:
    live, copy = empty_pair
    archive = tmp_path / "gonghui.tar.gz"
    backup.backup(live, archive, now=NOW, say=lambda _text: None)
    with pytest.raises(backup.BackupError, match="只能恢复到空的数据库和存储目录"):
        backup.restore(live, archive, say=lambda _text: None)
    copy.storage_dir.mkdir(parents=True)
    (copy.storage_dir / "left-over.txt").write_text("x")
    with pytest.raises(backup.BackupError, match=r"存储目录 .* 不是空的"):
        backup.restore(copy, archive, say=lambda _text: None)


def test_a_damaged_backup_is_refused_before_anything_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "broken.tar.gz"
    archive.write_bytes(b"not an archive")
    monkeypatch.setenv("GONGHUI_DATABASE_URL", f"sqlite:///{tmp_path / 'copy.db'}")
    monkeypatch.setenv("GONGHUI_STORAGE_DIR", str(tmp_path / "copy-storage"))
    result = runner.invoke(cli_app, ["restore", str(archive)])
    assert result.exit_code == 1
    assert "无法读取备份文件" in result.output
    assert not (tmp_path / "copy.db").exists()
