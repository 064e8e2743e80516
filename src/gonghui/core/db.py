"""Database plumbing: the declarative base, column types, engines and sessions.

Everything the modules need from the database goes through SQLAlchemy; where PostgreSQL and
SQLite differ, the difference lives here.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    ColumnElement,
    Connection,
    DateTime,
    Dialect,
    Engine,
    Enum,
    Integer,
    MetaData,
    Table,
    create_engine,
    event,
    literal,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.sql.elements import ClauseElement
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator

from gonghui.core.settings import Settings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC instant on every backend; SQLite would otherwise hand back naive values."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, _dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            msg = "naive datetime: store aware instants only"
            raise ValueError(msg)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, _dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def text_enum(enum_class: type[StrEnum]) -> Enum:
    """A StrEnum stored as its text value (never as a native database enum)."""
    return Enum(
        enum_class,
        native_enum=False,
        create_constraint=False,
        length=32,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


# 64-bit integers everywhere (ids, fen); on SQLite the same type is spelt INTEGER, the only
# one it auto-increments as a primary key.
BIG_INT = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime, int: BIG_INT}


# A connection (or session) given this execution option only reads: its transaction starts
# with a plain (deferred) BEGIN. Everything else starts with BEGIN IMMEDIATE on SQLite.
READS_ONLY = "gonghui_reads_only"
SQLITE_BUSY_TIMEOUT_MS = 30_000


# Seconds a pooled PostgreSQL connection is used before it is replaced (see `make_engine`):
# below the idle timeouts of the usual firewalls and load balancers (AWS's NLB: 350 s).
POOL_RECYCLE_S = 300


def make_engine(url: str, *, echo: bool = False) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            echo=echo,
            connect_args={
                "check_same_thread": False,
                "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
            },
        )
        _configure_sqlite(engine)
        return engine
    # No pre-ping: it is one more round trip (`SELECT 1`) before every transaction, where a
    # wallet transfer takes about twenty in all. A connection dropped while idle in the pool
    # (a firewall's or the server's idle timeout) is avoided by replacing connections older
    # than `POOL_RECYCLE_S` at checkout instead. A server restart or fail-over is noticed by
    # the first statement that meets a dead connection: SQLAlchemy then invalidates the whole
    # pool, so that one transaction per process fails (an error page, a job step retried; a
    # money request is answered once however often its idempotency key is retried) and every
    # later one connects afresh.
    return create_engine(url, echo=echo, pool_size=10, max_overflow=10, pool_recycle=POOL_RECYCLE_S)


def _configure_sqlite(engine: Engine) -> None:
    # pysqlite opens transactions lazily on its own; let SQLAlchemy emit BEGIN so that
    # SAVEPOINTs and rolled-back test transactions behave as on PostgreSQL (SQLAlchemy's
    # documented pysqlite recipe).
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # A deferred transaction that reads and then writes must upgrade its lock, and SQLite
        # refuses the upgrade at once ("database is locked", no busy wait) whenever another
        # connection wrote since the read. Taking the write lock at BEGIN instead makes a
        # writer queue behind the others under the busy timeout. Readers keep the plain BEGIN:
        # in WAL mode they never wait for a writer.
        if connection.get_execution_options().get(READS_ONLY):
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def engine_for(settings: Settings) -> Engine:
    if settings.is_sqlite:
        _ensure_sqlite_directory(settings.database_url)
    return make_engine(settings.database_url)


def _ensure_sqlite_directory(url: str) -> None:
    path = url.removeprefix("sqlite:///")
    if path and path != ":memory:" and not url.startswith("sqlite:///:memory:"):
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work for a CLI command or job step: commit on success, roll back on error."""
    with factory() as session, session.begin():
        yield session


def insert_if_absent(
    session: Session, model: type[Base], values: dict[str, Any], keys: list[str]
) -> bool:
    """INSERT … ON CONFLICT DO NOTHING on the given unique keys, on either backend: the way to
    create a row that concurrent transactions may all be trying to create. True when this
    call inserted it."""
    dialect = session.get_bind().dialect.name
    insert_for = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = insert_for(model).values(**values).on_conflict_do_nothing(index_elements=keys)
    inserted = session.execute(statement, execution_options={"preserve_rowcount": True})
    return bool(inserted.rowcount)  # type: ignore[attr-defined]


def copy_rows(
    session: Session,
    table: str,
    columns: list[str],
    rows: list[tuple[Any, ...]],
    *,
    same: Mapping[str, Any] | None = None,
) -> None:
    """Append many rows at the driver's full speed: COPY on PostgreSQL, a prepared executemany
    on SQLite. For batch jobs writing hundreds of thousands of rows; values are plain Python
    (int, str, date, aware datetime), written as the ORM would store them. `same` holds the
    columns whose value is one for every row (a run, its time), given once: on SQLite they go
    into the statement, and rows of plain numbers and text reach the driver untouched."""
    if not rows:
        return
    fixed = dict(same or {})
    connection = session.connection()
    names = ", ".join([*columns, *fixed])
    if connection.dialect.name == "postgresql":
        tail = tuple(fixed.values())
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row((*row, *tail))
        return
    values = ", ".join(["?"] * len(columns) + [_sqlite_literal(value) for value in fixed.values()])
    if any(isinstance(value, date) for value in rows[0]):  # a datetime is a date too
        rows = [tuple(_sqlite_value(value) for value in row) for row in rows]
    connection.exec_driver_sql(
        f"INSERT INTO {table} ({names}) VALUES ({values})",  # noqa: S608 - names are ours
        rows,
    )


def _sqlite_literal(value: Any) -> str:
    stored = _sqlite_value(value)
    if stored is None:
        return "NULL"
    if isinstance(stored, bool | int):
        return str(int(stored))
    if isinstance(stored, str):
        return "'" + stored.replace("'", "''") + "'"
    raise TypeError(f"not a value copy_rows writes: {value!r}")


def write_csv(session: Session, statement: ClauseElement, path: Path) -> None:
    """A query's rows as a CSV file without a header, at the driver's full speed: COPY TO on
    PostgreSQL, the bare cursor on SQLite. For batch jobs handing millions of rows to DuckDB:
    SQLAlchemy's own rows cost three times the query. Values come out as the database holds
    them: select text (`cast(..., String)`) where the ORM would convert."""
    connection = session.connection()
    sql = str(statement.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True}))
    raw = connection.connection.driver_connection
    if connection.dialect.name == "postgresql":
        with (
            path.open("wb") as out,
            raw.cursor().copy(f"COPY ({sql}) TO STDOUT (FORMAT csv, ENCODING 'UTF8')") as copy,  # type: ignore[union-attr]
        ):
            for data in copy:
                out.write(data)
        return
    cursor = raw.cursor()  # type: ignore[union-attr]
    cursor.execute(sql)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        while rows := cursor.fetchmany(50_000):
            writer.writerows(rows)


def _sqlite_value(value: Any) -> Any:
    # The storage forms SQLAlchemy's SQLite types use, so the ORM reads these rows back.
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    return value


def table_of(model: type[Base]) -> Table:
    """The Core table behind a model. A hot path (the wallet's money moves) runs Core statements
    built once at import: SQLAlchemy then skips building the expression, its cache key
    and the ORM's unit of work on every call, which cost more than the database's own work.
    Core statements leave alone any object the session has loaded (an ORM UPDATE would have
    refreshed it): read rows afresh after such a statement changed them."""
    return model.metadata.tables[model.__tablename__]


class json_object(FunctionElement[Any]):  # noqa: N801 - spelt as the SQL function it renders
    """A JSON object built in SQL from (key, value) pairs, for set-based INSERT … SELECT of a
    JSON column: `json_build_object` on PostgreSQL, `json_object` on SQLite (same arguments:
    key, value, key, value …)."""

    type = JSON()
    inherit_cache = True
    name = "json_object"

    def __init__(self, *pairs: tuple[str, ColumnElement[Any]]) -> None:
        super().__init__(*[part for key, value in pairs for part in (literal(key), value)])


@compiles(json_object, "postgresql")
def _json_object_postgresql(element: json_object, compiler: Any, **kw: Any) -> str:
    return f"json_build_object({compiler.process(element.clauses, **kw)})"


@compiles(json_object, "sqlite")
def _json_object_sqlite(element: json_object, compiler: Any, **kw: Any) -> str:
    return f"json_object({compiler.process(element.clauses, **kw)})"
