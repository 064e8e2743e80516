"""Things to do once a session's transaction has committed, and never if it (or the savepoint
they were asked for in) rolls back: a log event or a metric that says money moved must not
count a move that was undone."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

_KEY = "gonghui_after_commit"


def after_commit(session: Session, callback: Callable[[], None]) -> None:
    within = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_KEY, []).append((within, callback))


@event.listens_for(Session, "after_commit")
def _run(session: Session) -> None:
    # SQLAlchemy says "after_commit" for a savepoint released too; only the outermost counts.
    if session.get_nested_transaction() is not None:
        return
    for _within, callback in session.info.pop(_KEY, []):
        callback()


@event.listens_for(Session, "after_soft_rollback")
def _drop(session: Session, previous: SessionTransaction) -> None:
    waiting = session.info.get(_KEY)
    if waiting:
        session.info[_KEY] = [
            (within, callback) for within, callback in waiting if not inside(within, previous)
        ]


def inside(transaction: SessionTransaction | None, outer: SessionTransaction) -> bool:
    """Whether `transaction` is `outer` or nested in it (work done there went with its rollback)."""
    while transaction is not None:
        if transaction is outer:
            return True
        transaction = transaction.parent
    return False
