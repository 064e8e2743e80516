"""Every state change writes its audit row: checked on every test the suite runs.

Each change the code makes is charged to the use case that made it: the outermost frame of
`gonghui` code on the call stack that is not an edge (pages, API, CLI, the app shell), i.e. the
service function an edge or a test called. The ORM's changes are charged when the code makes
them (a row added to the session, a column set on a loaded row) and count once a flush writes
them; Core and raw INSERT, UPDATE and DELETE statements when they are sent. What a savepoint or
transaction rolled back (a refusal) never happened. After each test's body (its fixtures
included), every call that changed a person's data without an `audit_log` row of its own, or
that changed it with its `actor` taken positionally, fails the test, named with the tables and
columns it wrote. So a new service that forgets its audit row fails the first test that runs
it, whichever that is, and the coverage floor sees that every module's services run. What a
test writes itself to set its scene is charged to nobody.
"""

from __future__ import annotations

import re
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import CodeType, FrameType
from typing import Any

from sqlalchemy import Engine, event, inspect
from sqlalchemy.orm import Session

import gonghui
import gonghui.schema
from gonghui.core.audit import AuditEntry
from gonghui.core.db import Base

SOURCE = str(Path(gonghui.__file__).parent) + "/"

# Edges: they call use cases and own the transaction; what they write is charged to the use
# case below them. A write made by edge code itself is charged to the innermost edge frame.
_EDGE = re.compile(r"^(web/|edge/|cli\.py$|asgi\.py$|[a-z_]+/(web[a-z_]*|api[a-z_]*|cli)\.py$)")

# What is not a person's state change, each with why: a table, or one column of it.
NOT_STATE_CHANGES = {
    # The audit log and its hash chain are the record itself (the chain is linked at commit).
    "audit_log",
    "audit_chain",
    "audit_chain_head",
    "audit_checkpoints",
    # Sign-in bookkeeping: a session's last use, the time of the last sign-in (the sign-in's
    # row, `auth.signed_in`, is written when its session starts), the last second-factor step
    # accepted (so that no code is accepted twice), throttle counts of failed sign-ins,
    # activation guesses and wrong wallet passwords. Signing in and out, ending sessions and
    # failed sign-ins have audit rows of their own.
    "user_sessions",
    "users.last_login_at",
    "users.totp_last_step",
    "api_tokens.last_used_at",
    "login_attempts",
    "activation_attempts",
    "activation_codes.failures",
    "activation_codes.locked_at",
    "wallet_wallets.password_failures",
    "wallet_wallets.last_password_failure",
    # The idempotency record of a money request (its key and the answer it got, a refusal
    # included), so that a retry hears the same answer; the money it moved has its own row.
    "wallet_requests",
    # Messages to members and staff, queued texts, and the deadlines job's record of which
    # card notices it sent: news of a change recorded elsewhere. Whether a member has read a
    # message is not a change to their data either.
    "notifications",
    "work_notices",
    "outbox_messages",
    "station_card_notices",
    # The machine's work: scheduled job runs, their pauses, workers and queued tasks.
    "job_runs",
    "job_pauses",
    "job_workers",
    "job_tasks",
    # A display preference that follows the person to each device (长辈模式): how pages look.
    "users.elder_mode",
    # Snapshots of figures computed from data already audited (dashboards), and the balance
    # store's housekeeping: a daily part marked purged once the compacted month replaces it.
    "figure_snapshots",
    "insurance_balance_parts.purged_at",
}
# New rows that are no change anyone made to a person's data. Only their INSERT is exempt: what
# later changes them is audited.
NEW_ROWS_NOT_STATE_CHANGES = {
    # A member's claims counter for a plan year, created at zero as the row a decision locks
    # (two adjusters deciding at once queue on it); the decision that moves it is audited.
    "insurance_claim_accumulators",
    # What anonymous visitors leave at a position through its QR code (a visit, its rating,
    # feedback, a complaint): there is no actor to name, and each row is itself the append-only
    # record of who (a masked phone) and when. A complaint's call-back and closing are audited.
    "station_visits",
    "station_ratings",
    "station_feedback",
    "station_complaints",
}

_DML = re.compile(
    r'^\s*(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)"?',
    re.IGNORECASE,
)


@dataclass
class Call:
    code: CodeType
    frame: FrameType

    def where(self) -> str:
        return f"{self.module()}:{self.code.co_firstlineno} {self.code.co_qualname}"

    def module(self) -> str:
        return "gonghui/" + self.code.co_filename.removeprefix(SOURCE)

    def takes_actor_positionally(self) -> bool:
        return "actor" in self.code.co_varnames[: self.code.co_argcount]


@dataclass
class Recorder:
    calls: dict[int, Call] = field(default_factory=dict)
    # Every change charged so far, in order, per thread (concurrency tests run several, each
    # on its own connection): (call, table or table.column).
    logs: dict[int, list[tuple[Call, str]]] = field(default_factory=dict)
    # Per connection, where each open transaction or savepoint began in `log`.
    marks: dict[int, list[int]] = field(default_factory=dict)
    # Per session, what it was told (rows added, columns set) and has not yet flushed: logged
    # when the flush writes it, so that it lands inside the savepoint it was written in.
    unflushed: dict[int, list[tuple[Call, str]]] = field(default_factory=dict)
    active: bool = False

    def charge(self, table: str, *, in_flush: bool = False) -> None:
        call = self._call(in_flush=in_flush)
        if call is not None:
            self.log().append((call, table))

    def told(self, session: object, table: str) -> None:
        call = self._call(in_flush=False)
        if call is not None:
            self.unflushed.setdefault(id(session), []).append((call, table))

    def flushed(self, session: object) -> None:
        self.log().extend(self.unflushed.pop(id(session), []))

    def forget(self, session: object) -> None:
        self.unflushed.pop(id(session), None)

    def log(self) -> list[tuple[Call, str]]:
        """This thread's: a connection is used by one thread at a time."""
        return self.logs.setdefault(threading.get_ident(), [])

    def clear(self) -> None:
        self.calls.clear()
        self.logs.clear()
        self.marks.clear()
        self.unflushed.clear()

    def _call(self, *, in_flush: bool) -> Call | None:
        frame = _use_case_frame(sys._getframe(2), in_flush=in_flush)
        if frame is None:
            return None
        call = self.calls.get(id(frame))
        if call is None:
            call = self.calls[id(frame)] = Call(frame.f_code, frame)
        return call

    def begin(self, connection: object) -> None:
        self.marks.setdefault(id(connection), []).append(len(self.log()))

    def end(self, connection: object, *, undone: bool) -> None:
        marks = self.marks.get(id(connection))
        if not marks:
            return
        mark = marks.pop()
        if undone:
            # What a rolled-back savepoint or transaction did never happened.
            del self.log()[mark:]

    def problems(self) -> list[str]:
        """Each call that changed a person's data without an audit row, or that takes its
        `actor` positionally (a use case takes it keyword-only: CONVENTIONS.md)."""
        # What the sessions hold unflushed is written when their entry point commits.
        log = [charged for logged in self.logs.values() for charged in logged]
        log += [told for waiting in self.unflushed.values() for told in waiting]
        audited = {id(call) for call, table in log if table == AUDIT_TABLE}
        changed: dict[int, tuple[Call, set[str]]] = {}
        for call, table in log:
            if _not_a_state_change(table):
                continue
            changed.setdefault(id(call), (call, set()))[1].add(table)
        unaudited = {
            f"{call.where()} wrote {', '.join(sorted(tables))} without an audit row"
            for key, (call, tables) in changed.items()
            if key not in audited
        }
        positional = {
            f"{call.where()} changes data but takes `actor` positionally, not keyword-only"
            for call, _tables in changed.values()
            if call.takes_actor_positionally()
        }
        return sorted(unaudited | positional)


def _not_a_state_change(table: str) -> bool:
    return (
        table in NOT_STATE_CHANGES
        or table.partition(".")[0] in NOT_STATE_CHANGES
        or table in NEW_ROWS_NOT_STATE_CHANGES
    )


def _use_case_frame(frame: FrameType | None, *, in_flush: bool) -> FrameType | None:
    outer_service: FrameType | None = None
    inner_edge: FrameType | None = None
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename.startswith(SOURCE):
            if filename.startswith(_MIGRATIONS):
                return None
            if _EDGE.match(filename.removeprefix(SOURCE)):
                inner_edge = inner_edge or frame
            else:
                outer_service = frame
        elif not in_flush and filename.endswith(_FLUSHING):
            return None
        frame = frame.f_back
    return outer_service or inner_edge


RECORDER = Recorder()
# Schema migrations change tables, not anyone's data.
_MIGRATIONS = SOURCE + "migrations/"
AUDIT_TABLE = AuditEntry.__tablename__
# A flush sends what the session was told earlier; that was charged when it was told (an
# object added, a column set), to the call that told it, not to whoever flushes. A deletion
# has no event before the flush: it is charged to the call that flushes it.
_FLUSHING = ("sqlalchemy/orm/unitofwork.py",)


@event.listens_for(Engine, "before_cursor_execute")
def _statement(
    conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
) -> None:
    if not RECORDER.active:
        return
    if (match := _DML.match(statement)) is not None:
        _charge(match, statement)
    elif _WITH.match(statement):
        # A statement with data-modifying WITH parts writes every table it names after INSERT
        # INTO, UPDATE or DELETE FROM, each part charged as a statement of its own would be.
        for part in _DML_PART.finditer(statement):
            _charge(part, statement[part.start() :])


def _charge(match: re.Match[str], statement: str) -> None:
    table = match.group(1).lower()
    for column in _set_columns(statement) if match.group(0).lstrip()[0] in "Uu" else [""]:
        RECORDER.charge(f"{table}.{column}" if column else table)


_WITH = re.compile(r"^\s*WITH\s", re.IGNORECASE)
# Not the UPDATE of `FOR UPDATE` or of `ON CONFLICT … DO UPDATE`.
_DML_PART = re.compile(
    r'(?:INSERT\s+INTO|(?<!FOR )(?<!DO )UPDATE|DELETE\s+FROM)\s+"?(\w+)"?', re.IGNORECASE
)


_SET = re.compile(r"\sSET\s(.*?)(?:\sWHERE\s|\sRETURNING\s|$)", re.IGNORECASE | re.DOTALL)


def _set_columns(update: str) -> list[str]:
    """The columns an UPDATE sets: the name before `=` in each top-level item of its SET."""
    found = _SET.search(update)
    if found is None:
        return [""]
    items, depth, start, text = [], 0, 0, found.group(1)
    for at, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            items.append(text[start:at])
            start = at + 1
    items.append(text[start:])
    return [item.partition("=")[0].strip().strip('"').lower() for item in items]


@event.listens_for(Session, "transient_to_pending")
def _added(session: Session, instance: object) -> None:
    if RECORDER.active:
        RECORDER.told(session, inspect(instance).mapper.local_table.name)


@event.listens_for(Session, "after_flush")
def _flushed(session: Session, context: Any) -> None:
    RECORDER.flushed(session)


@event.listens_for(Session, "after_soft_rollback")
def _discarded(session: Session, previous: Any) -> None:
    RECORDER.forget(session)


@event.listens_for(Session, "persistent_to_deleted")
def _deleted(session: Session, instance: object) -> None:
    if RECORDER.active:
        RECORDER.charge(inspect(instance).mapper.local_table.name, in_flush=True)


def _column_set(target: object, value: object, old: object, initiator: Any) -> None:
    state = inspect(target)
    if RECORDER.active and state.persistent and value != old:
        RECORDER.told(state.session, f"{state.mapper.local_table.name}.{initiator.key}")


def watch_columns() -> None:
    """A column set on a loaded row is charged when it is set (the UPDATE comes at a flush)."""
    for mapper in Base.registry.mappers:
        for column in mapper.column_attrs:
            event.listen(getattr(mapper.class_, column.key), "set", _column_set)


@event.listens_for(Engine, "begin")
def _begun(conn: Any) -> None:
    if RECORDER.active:
        RECORDER.begin(conn)


@event.listens_for(Engine, "savepoint")
def _savepoint(conn: Any, name: str) -> None:
    if RECORDER.active:
        RECORDER.begin(conn)


@event.listens_for(Engine, "commit")
def _committed(conn: Any) -> None:
    RECORDER.end(conn, undone=False)


@event.listens_for(Engine, "release_savepoint")
def _released(conn: Any, name: str, context: Any) -> None:
    RECORDER.end(conn, undone=False)


@event.listens_for(Engine, "rollback")
def _rolled_back(conn: Any) -> None:
    RECORDER.end(conn, undone=True)


@event.listens_for(Engine, "rollback_savepoint")
def _savepoint_rolled_back(conn: Any, name: str, context: Any) -> None:
    RECORDER.end(conn, undone=True)


def start() -> None:
    RECORDER.clear()
    RECORDER.active = True


def stop() -> list[str]:
    """What `Recorder.problems` found since `start`."""
    unaudited = RECORDER.problems() if RECORDER.active else []
    RECORDER.active = False
    RECORDER.clear()
    return unaudited
