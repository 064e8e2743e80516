"""The audit row for a view of sensitive personal information (等保 2.0 level 3; PIPL art. 28
for sensitive PI): who, when, what and from where.

This is the one exception to "a GET never writes". On a GET the rows are written, and
committed, in a short transaction of their own (after the reader's ends) before the page or
file goes out, so a view
that cannot be recorded is not shown, and the request's own session stays a reader (on SQLite
it must not take the write lock). A form post that shows the data again has the write lock
already: its rows go into the request's own transaction, which commits with the change the
post made when the handler returns (`edge.deps.get_db`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session, sessionmaker

from gonghui.core import audit
from gonghui.core.auth import Actor
from gonghui.edge.deps import UNSAFE_METHODS, client_address


def record_view(
    request: Request,
    db: Session,
    *,
    actor: Actor,
    now: datetime,
    action: str,
    target_type: str,
    target_ids: Iterable[object],
    detail: dict[str, Any] | None = None,
) -> None:
    after = {"client": client_address(request), "path": request.url.path, **(detail or {})}

    def write(session: Session) -> None:
        for target_id in target_ids:
            audit.append(
                session,
                actor=actor,
                at=now,
                action=action,
                target_type=target_type,
                target_id=target_id,
                after=after,
            )

    if request.method in UNSAFE_METHODS:
        write(db)
        return
    # The reader's transaction ends first (it wrote nothing; its objects stay loaded): the
    # writer must not run inside it, where ending the reader would undo the row.
    db.commit()
    factory: sessionmaker[Session] = request.app.state.session_factory
    with factory() as session, session.begin():
        write(session)
