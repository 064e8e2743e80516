"""The suite-wide check that every use case audits what it changes (`tests/audit_guard.py`)
catches a use case that forgets, and lets through one that remembers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from gonghui.core.db import table_of
from gonghui.members.models import Bank, Member, Notification
from tests import audit_guard
from tests.conftest import NOW
from tests.world import SETUP, World

# Use cases as a module of `gonghui` would write them, compiled as if they were one: the guard
# tells `gonghui` code from test code by the file a frame runs.
_SERVICE = """
from sqlalchemy import text, update
from gonghui.core import audit


def forgets(session, member, *, actor, now):
    member.phone = "13900000000"
    session.flush()


def remembers(session, member, *, actor, now):
    member.phone = "13900000001"
    audit.record(
        session, actor=actor, at=now, action="member.updated", target_type="member",
        target_id=member.id,
    )


def forgets_in_sql(session, member_id, *, actor, now):
    session.execute(update(Member).where(Member.id == member_id).values(phone="13900000002"))


def forgets_in_a_with(session, member_id, *, actor, now):
    session.execute(
        text(
            "WITH phone AS (SELECT '13900000005' AS value) "
            "UPDATE members SET phone = (SELECT value FROM phone) WHERE id = :id"
        ),
        {"id": member_id},
    )


def adds(session, row, *, actor, now):
    session.add(row)


def positional(session, actor, member, *, now):
    member.phone = "13900000003"
    audit.record(
        session, actor=actor, at=now, action="member.updated", target_type="member",
        target_id=member.id,
    )


def refused(session, member, *, actor, now):
    with session.begin_nested() as savepoint:
        member.phone = "13900000004"
        session.flush()
        savepoint.rollback()


def reads(session, member_id, *, actor, now):
    return session.get(Member, member_id)
"""


def _service() -> dict[str, Any]:
    names: dict[str, Any] = {"Member": Member}
    path = audit_guard.SOURCE + "members/guarded_example.py"
    exec(compile(_SERVICE, path, "exec"), names)  # noqa: S102 - our own text, for its file name
    return names


def _where(function: Callable[..., object]) -> str:
    return (
        f"gonghui/members/guarded_example.py:{function.__code__.co_firstlineno} "
        f"{function.__qualname__}"
    )


def _problems(db: Session, run: Callable[[], object]) -> list[str]:
    recorder = audit_guard.RECORDER
    recorder.logs.clear()
    run()
    db.flush()  # what the use case told the session, written as the entry point commits
    found = recorder.problems()
    recorder.logs.clear()  # the test's own run is judged on what came before, not on these
    return found


def test_a_use_case_that_changes_a_row_without_an_audit_row_is_named(
    db: Session, world: World
) -> None:
    use = _service()
    member = db.get_one(Member, world.member_a)

    found = _problems(db, lambda: use["forgets"](db, member, actor=SETUP, now=NOW))

    assert found == [f"{_where(use['forgets'])} wrote members.phone without an audit row"]


def test_a_change_sent_as_sql_or_a_new_row_is_caught_too(db: Session, world: World) -> None:
    use = _service()
    bank = Bank(code="TST", name="测试银行")

    in_sql = _problems(db, lambda: use["forgets_in_sql"](db, world.member_a, actor=SETUP, now=NOW))
    added = _problems(db, lambda: use["adds"](db, bank, actor=SETUP, now=NOW))

    assert in_sql == [f"{_where(use['forgets_in_sql'])} wrote members.phone without an audit row"]
    assert added == [f"{_where(use['adds'])} wrote banks without an audit row"]


def test_a_change_sent_in_a_statement_with_a_with_clause_is_caught_too(
    db: Session, world: World
) -> None:
    use = _service()

    found = _problems(
        db, lambda: use["forgets_in_a_with"](db, world.member_a, actor=SETUP, now=NOW)
    )

    assert found == [f"{_where(use['forgets_in_a_with'])} wrote members.phone without an audit row"]


def test_a_use_case_that_audits_its_change_passes(db: Session, world: World) -> None:
    use = _service()
    member = db.get_one(Member, world.member_a)

    found = _problems(db, lambda: use["remembers"](db, member, actor=SETUP, now=NOW))
    found += _problems(db, lambda: use["reads"](db, world.member_a, actor=SETUP, now=NOW))

    assert found == []


def test_a_change_rolled_back_with_its_savepoint_is_not_charged(db: Session, world: World) -> None:
    use = _service()
    member = db.get_one(Member, world.member_a)

    assert _problems(db, lambda: use["refused"](db, member, actor=SETUP, now=NOW)) == []


def test_a_use_case_that_takes_its_actor_positionally_is_named(db: Session, world: World) -> None:
    use = _service()
    member = db.get_one(Member, world.member_a)

    found = _problems(db, lambda: use["positional"](db, SETUP, member, now=NOW))

    assert found == [
        f"{_where(use['positional'])} changes data but takes `actor` positionally, not keyword-only"
    ]


def test_what_a_test_writes_itself_to_set_the_scene_is_not_charged(
    db: Session, world: World
) -> None:
    notices = table_of(Notification)

    found = _problems(
        db,
        lambda: db.execute(
            insert(notices).values(member_id=world.member_a, at=NOW, title="t", body="b")
        ),
    )

    assert found == []
