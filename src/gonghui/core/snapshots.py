"""Dashboard figures kept as snapshots: computed by a job (and after the events that change
them), read by the pages. A view reads one row instead of counting a province's tables; the
figures change when a job runs, not per view.

A board keeps its figures per scope: the whole federation, one station manager's positions, one
unit's members… The module that owns a board makes the scope key from the viewer (never from
request text alone) and knows how to compute the figures of a key. Only the federation's scope
and the scopes someone has viewed are kept; the refresh job recomputes every one of them.

The figures are stored as JSON made by pydantic from the board's own dataclasses, so a page
rendered from a snapshot and one rendered from a live computation show the same thing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final, Generic, TypeVar

from pydantic import TypeAdapter
from sqlalchemy import String, Text, delete, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from gonghui.core.clock import beijing, business_date
from gonghui.core.db import READS_ONLY, Base, transaction
from gonghui.core.errors import NotFound

T = TypeVar("T")
D = TypeVar("D")

MEMO_SCOPES: Final = 64

EVERYTHING: Final = "all"
"""The scope key of a federation-wide viewer; every board keeps it, viewed or not."""


class FigureSnapshot(Base):
    __tablename__ = "figure_snapshots"

    board: Mapped[str] = mapped_column(String(32), primary_key=True)
    scope: Mapped[str] = mapped_column(String(200), primary_key=True)
    figures: Mapped[str] = mapped_column(Text)  # JSON
    computed_at: Mapped[datetime]
    # New at every count: what a process's memo of the decoded figures (and a page's of what
    # it drew from them) is keyed by, so that a count made by another process is never missed.
    revision: Mapped[str] = mapped_column(String(32))
    # Set by the events that change the figures at once (an assessment, an evaluation): the
    # next view recomputes instead of showing what the event made wrong.
    stale: Mapped[bool]


@dataclass(frozen=True)
class Snapshot(Generic[T]):
    figures: T
    computed_at: datetime
    scope: str = ""
    revision: str = ""  # "" for figures counted for one view and kept nowhere

    def updated(self, now: datetime) -> str:
        """When the figures were counted, as the page says it: the day too when not today."""
        same_day = business_date(self.computed_at) == business_date(now)
        shown = beijing(self.computed_at, "%H:%M" if same_day else "%Y-%m-%d %H:%M")
        return f"数据更新于 {shown}（北京时间）"


class Board(Generic[T]):
    """One dashboard's figures: `compute(session, scope, now)` gives the figures of a scope key;
    it raises NotFound when the scope no longer exists (a unit merged away).

    A board whose figures run to the last period that has ended names `period_of`, the first
    day of the period a business date falls in (a month's: `clock.month_of`): a snapshot
    counted in an earlier period than the view's is counted again, so that the period that
    ended at Beijing midnight is shown at once, not at the job's next run."""

    def __init__(
        self,
        name: str,
        figures: type[T],
        compute: Callable[[Session, str, datetime], T],
        *,
        period_of: Callable[[date], date] | None = None,
    ) -> None:
        self.name = name
        self._adapter = TypeAdapter(figures)
        self._compute = compute
        self._period_of = period_of
        # The last snapshot decoded per scope, in this process: a view then reads two short
        # columns instead of decoding the figures again (the impact report's JSON is ~400 KB
        # for 200 units).
        self._memo: dict[str, Snapshot[T]] = {}

    def view(
        self, session: Session, factory: sessionmaker[Session], scope: str, now: datetime
    ) -> Snapshot[T]:
        """The scope's snapshot; computed now (in a transaction of its own, since a page's GET
        only reads) when there is none yet or an event made it stale, so no page is ever empty."""
        where = (FigureSnapshot.board == self.name, FigureSnapshot.scope == scope)
        row = session.execute(
            select(FigureSnapshot.revision, FigureSnapshot.stale, FigureSnapshot.computed_at).where(
                *where
            )
        ).first()
        if row is None or row.stale or self._period_ended_since(row.computed_at, now):
            return self.refresh(factory, scope, now)
        known = self._memo.get(scope)
        if known is not None and known.revision == row.revision:
            return known
        kept = session.execute(
            select(FigureSnapshot.figures, FigureSnapshot.computed_at).where(*where)
        ).one()
        return self._remember(
            Snapshot(
                self._adapter.validate_json(kept.figures), kept.computed_at, scope, row.revision
            )
        )

    def _period_ended_since(self, computed_at: datetime, now: datetime) -> bool:
        if self._period_of is None:
            return False
        return self._period_of(business_date(computed_at)) < self._period_of(business_date(now))

    def refresh(self, factory: sessionmaker[Session], scope: str, now: datetime) -> Snapshot[T]:
        """Count the scope's figures and keep them. The counting reads in a transaction of its
        own, so that on SQLite the write lock is held only for the short write that follows."""
        with factory(execution_options={READS_ONLY: True}) as reader, reader.begin():
            figures = self._compute(reader, scope, now)
        with transaction(factory) as session:
            return self._keep(session, scope, figures, now)

    def refresh_in(self, session: Session, scope: str, now: datetime) -> Snapshot[T]:
        """Count and keep in the caller's transaction (立即更新, a form's POST)."""
        return self._keep(session, scope, self._compute(session, scope, now), now)

    def forget(self) -> None:
        """Drop this process's memo: the next view decodes what is stored, as another
        process would."""
        self._memo.clear()

    def compute(self, session: Session, scope: str, now: datetime) -> T:
        """The scope's figures counted now, kept nowhere: what the snapshot must equal."""
        return self._compute(session, scope, now)

    def refresh_all(self, factory: sessionmaker[Session], now: datetime) -> int:
        """Recompute every kept scope and the federation's, one at a time; a scope that no
        longer exists is dropped. The number of scopes now kept."""
        with transaction(factory) as session:
            kept = set(
                session.scalars(
                    select(FigureSnapshot.scope).where(FigureSnapshot.board == self.name)
                )
            )
        refreshed = 0
        for scope in sorted(kept | {EVERYTHING}):
            try:
                self.refresh(factory, scope, now)
                refreshed += 1
            except NotFound:
                with transaction(factory) as session:
                    session.execute(
                        delete(FigureSnapshot).where(
                            FigureSnapshot.board == self.name, FigureSnapshot.scope == scope
                        )
                    )
        return refreshed

    def _keep(self, session: Session, scope: str, figures: T, now: datetime) -> Snapshot[T]:
        revision = uuid.uuid4().hex
        values = {
            "figures": self._adapter.dump_json(figures).decode(),
            "computed_at": now,
            "revision": revision,
            "stale": False,
        }
        _store(session, self.name, scope, values)
        return self._remember(Snapshot(figures, now, scope, revision))

    def _remember(self, snapshot: Snapshot[T]) -> Snapshot[T]:
        if len(self._memo) >= MEMO_SCOPES and snapshot.scope not in self._memo:
            self._memo.pop(next(iter(self._memo)))
        self._memo[snapshot.scope] = snapshot
        return snapshot


class Drawings(Generic[D]):
    """What a page draws from snapshots (charts, long tables), kept per scope and revision in
    this process: a new count, by any process, has a new revision and is drawn afresh."""

    def __init__(self, kept: int = MEMO_SCOPES) -> None:
        self._kept = kept
        self._drawn: dict[tuple[str, str], D] = {}

    def of(self, snapshot: Snapshot[Any], draw: Callable[[], D]) -> D:
        if not snapshot.revision:  # counted for one view and kept nowhere
            return draw()
        key = (snapshot.scope, snapshot.revision)
        drawn = self._drawn.get(key)
        if drawn is None:
            if len(self._drawn) >= self._kept:
                self._drawn.pop(next(iter(self._drawn)))
            drawn = self._drawn[key] = draw()
        return drawn


def _store(session: Session, board: str, scope: str, values: dict[str, object]) -> None:
    """Insert or replace: two processes computing the same first view both succeed."""
    dialect = session.get_bind().dialect.name
    insert_for = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = insert_for(FigureSnapshot).values(board=board, scope=scope, **values)
    session.execute(statement.on_conflict_do_update(index_elements=["board", "scope"], set_=values))


def mark_stale(session: Session, board: str) -> None:
    """An event changed the board's figures: each scope is recomputed on its next view or run
    of the job, whichever comes first. In the event's transaction, so it holds if it commits."""
    session.execute(update(FigureSnapshot).where(FigureSnapshot.board == board).values(stale=True))
