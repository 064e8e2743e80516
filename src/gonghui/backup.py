"""Backup and restore: the database and the storage directory in one archive, with a manifest of
SHA-256 checksums and row counts, restored only into an empty database and storage.

The database is copied first (SQLite's online backup API, or `pg_dump` in its custom format),
then the files. Files are written before the transaction that lists them commits and are never
changed in place, so every file the copied database names is in the archive.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection, Engine, func, inspect, make_url, select

from gonghui.core.db import engine_for, make_engine
from gonghui.core.settings import Settings
from gonghui.schema import metadata

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_FILE = "database.sqlite3"
PG_DUMP_FILE = "database.pgdump"
# Working files, not data: DuckDB's spill, staging CSVs, half-written parts, and the job queue
# (queued jobs are not restored: the worker's start-up run does what is due).
_SKIPPED_PREFIXES = ("duckdb-spill/", "stage-", "jobs.db")
_SKIPPED_SUFFIXES = (".tmp",)
Progress = Callable[[str], None]


class BackupError(Exception):
    """Said to the operator in Chinese; nothing has been changed."""


@dataclass(frozen=True)
class Manifest:
    created_at: str
    database: str
    revisions: list[str]
    tables: dict[str, int]
    files: dict[str, str]

    def to_json(self) -> bytes:
        body = {"format": FORMAT, **self.__dict__}
        return json.dumps(body, ensure_ascii=False, indent=1, sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        body = json.loads(raw)
        if body.pop("format", None) != FORMAT:
            raise BackupError("备份文件格式不是本版本能读取的格式")
        return cls(**body)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def row_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return _counted(connection)


def _counted(connection: Connection) -> dict[str, int]:
    present = set(inspect(connection).get_table_names())
    return {
        table.name: int(connection.scalar(select(func.count()).select_from(table)) or 0)
        for table in metadata.sorted_tables
        if table.name in present
    }


def _revisions(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return []
        rows = connection.exec_driver_sql("SELECT version_num FROM alembic_version")
        return sorted(str(row[0]) for row in rows)


def _libpq_url(settings: Settings) -> str:
    url = make_url(settings.database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def _sqlite_path(settings: Settings) -> Path:
    return Path(settings.database_url.removeprefix("sqlite:///"))


def stored_files(root: Path) -> Iterator[tuple[str, Path]]:
    if not root.exists():
        return
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if path.is_file() and not (
            relative.startswith(_SKIPPED_PREFIXES) or relative.endswith(_SKIPPED_SUFFIXES)
        ):
            yield relative, path


def backup(settings: Settings, target: Path, *, now: datetime, say: Progress = print) -> Manifest:
    engine = engine_for(settings)
    try:
        with tempfile.TemporaryDirectory(prefix="gonghui-backup-") as work:
            dump = Path(work) / (SQLITE_FILE if settings.is_sqlite else PG_DUMP_FILE)
            say("正在复制数据库…")
            if settings.is_sqlite:
                _copy_sqlite(_sqlite_path(settings), dump)
                copied = make_engine(f"sqlite:///{dump}")
                try:
                    tables = row_counts(copied)
                finally:
                    copied.dispose()
            else:
                tables = _pg_dump(settings, engine, dump)
            files = {f"storage/{name}": path for name, path in stored_files(settings.storage_dir)}
            say(f"正在复制存储目录（{len(files)} 个文件）…")
            manifest = Manifest(
                created_at=now.isoformat(),
                database="sqlite" if settings.is_sqlite else "postgresql",
                revisions=_revisions(engine),
                tables=tables,
                files={dump.name: sha256_of(dump)}
                | {name: sha256_of(path) for name, path in files.items()},
            )
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(target.name + ".partial")
            with tarfile.open(partial, "w:gz") as archive:
                raw = manifest.to_json()
                info = tarfile.TarInfo(MANIFEST)
                info.size = len(raw)
                archive.addfile(info, io.BytesIO(raw))
                archive.add(dump, arcname=dump.name)
                for name, path in files.items():
                    archive.add(path, arcname=name)
            partial.replace(target)
    finally:
        engine.dispose()
    return manifest


def _copy_sqlite(source: Path, target: Path) -> None:
    """SQLite's online backup: a consistent copy while the platform keeps running."""
    live, copy = sqlite3.connect(source), sqlite3.connect(target)
    try:
        live.backup(copy)
    finally:
        copy.close()
        live.close()


def _pg_dump(settings: Settings, engine: Engine, dump: Path) -> dict[str, int]:
    """pg_dump reads the snapshot of a transaction held open here, in which the rows are
    counted: the manifest's counts are exactly the dump's."""
    with engine.connect() as connection:
        connection.exec_driver_sql("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        snapshot = connection.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
        tables = _counted(connection)
        _pg("pg_dump", "--format=custom", "--no-owner", "--exclude-table=huey_*",
            f"--snapshot={snapshot}", f"--file={dump}", _libpq_url(settings))  # fmt: skip
        connection.exec_driver_sql("COMMIT")
    return tables


def _pg(*command: str) -> None:
    try:
        subprocess.run(command, check=True, capture_output=True, text=True)  # noqa: S603
    except FileNotFoundError:
        raise BackupError(
            f"找不到 {command[0]}：请安装 PostgreSQL 客户端（postgresql-client）"
        ) from None
    except subprocess.CalledProcessError as error:
        raise BackupError(f"{command[0]} 失败：{error.stderr.strip()[-500:]}") from None


def restore(settings: Settings, source: Path, *, say: Progress = print) -> Manifest:
    """Restore into an empty database and an empty storage directory, refusing otherwise."""
    if not source.is_file():
        raise BackupError(f"备份文件 {source} 不存在")
    _require_empty(settings)
    with tempfile.TemporaryDirectory(prefix="gonghui-restore-") as work:
        unpacked = Path(work)
        say("正在读取并校验备份…")
        manifest = _unpack(source, unpacked)
        say("正在恢复数据库…")
        if settings.is_sqlite:
            target = _sqlite_path(settings)
            target.parent.mkdir(parents=True, exist_ok=True)
            _copy_sqlite(unpacked / SQLITE_FILE, target)
        else:
            _pg("pg_restore", "--no-owner", "--exit-on-error", f"--dbname={_libpq_url(settings)}",
                str(unpacked / PG_DUMP_FILE))  # fmt: skip
        say("正在恢复存储目录…")
        stored = unpacked / "storage"
        settings.storage_dir.mkdir(parents=True, exist_ok=True)
        if stored.exists():
            shutil.copytree(stored, settings.storage_dir, dirs_exist_ok=True)
    engine = engine_for(settings)
    try:
        counted = row_counts(engine)
    finally:
        engine.dispose()
    if counted != manifest.tables:
        differ = sorted(
            name for name in manifest.tables if counted.get(name) != manifest.tables[name]
        )
        raise BackupError(f"恢复后的行数与备份清单不符：{'、'.join(differ)}")
    return manifest


def _require_empty(settings: Settings) -> None:
    if any(settings.storage_dir.iterdir() if settings.storage_dir.exists() else ()):
        raise BackupError(
            f"存储目录 {settings.storage_dir} 不是空的：只能恢复到空的数据库和存储目录"
        )
    if settings.is_sqlite:
        path = _sqlite_path(settings)
        if path.exists() and path.stat().st_size > 0:
            raise BackupError(f"数据库文件 {path} 已存在：只能恢复到空的数据库和存储目录")
        return
    engine = engine_for(settings)
    try:
        with engine.connect() as connection:
            tables = inspect(connection).get_table_names()
    finally:
        engine.dispose()
    if tables:
        raise BackupError("数据库不是空的（已有数据表）：只能恢复到空的数据库和存储目录")


def _unpack(source: Path, into: Path) -> Manifest:
    try:
        with tarfile.open(source, "r:gz") as archive:
            raw = archive.extractfile(MANIFEST)
            if raw is None:
                raise BackupError("备份文件缺少清单")
            manifest = Manifest.from_json(raw.read())
            names = set(archive.getnames()) - {MANIFEST}
            if names != set(manifest.files):
                raise BackupError("备份文件的内容与清单不符")
            archive.extractall(into, filter="data")
    except (tarfile.TarError, OSError, ValueError) as error:
        raise BackupError(f"无法读取备份文件：{error}") from None
    broken = [name for name, digest in manifest.files.items() if sha256_of(into / name) != digest]
    if broken:
        raise BackupError(f"备份文件已损坏（校验和不符）：{'、'.join(broken[:5])}")
    return manifest
