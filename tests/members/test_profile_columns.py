"""`member_profile_columns`: the members of `member_profiles`, as Arrow columns, scoped alike."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from gonghui.core.auth import Actor, Role
from gonghui.core.errors import Forbidden
from gonghui.members.queries import PROFILE_COLUMNS, member_profile_columns, member_profiles
from tests.world import World

STAFF = Actor(user_id=None, username="staff", role=Role.FEDERATION_STAFF, display_name="工作人员")


def as_rows(db: Session, actor: Actor, unit_id: int | None = None) -> list[tuple[object, ...]]:
    return [
        tuple(row[name] for name in PROFILE_COLUMNS)
        for row in member_profile_columns(db, actor, unit_id).to_pylist()
    ]


def expected(db: Session, actor: Actor, unit_id: int | None = None) -> list[tuple[object, ...]]:
    return [
        tuple(getattr(profile, name) for name in PROFILE_COLUMNS)
        for profile in member_profiles(db, actor, unit_id)
    ]


def test_it_holds_the_same_members_and_facts_as_the_profiles(db: Session, world: World) -> None:
    rows = as_rows(db, STAFF)
    assert rows == expected(db, STAFF)
    assert {row[0] for row in rows} >= {world.member_a, world.member_b}
    assert as_rows(db, STAFF, world.unit_b) == expected(db, STAFF, world.unit_b)


def test_a_unit_officer_gets_only_their_unit(db: Session, world: World) -> None:
    officer = Actor(
        user_id=None,
        username="officer",
        role=Role.UNIT_OFFICER,
        display_name="单位工会",
        unit_id=world.unit_a,
    )
    table = member_profile_columns(db, officer)
    assert set(table.column("unit_id").to_pylist()) == {world.unit_a}
    assert world.member_a in table.column("member_id").to_pylist()
    assert member_profile_columns(db, officer, world.unit_b).num_rows == 0


def test_a_member_is_refused(db: Session, world: World) -> None:
    member = Actor(
        user_id=None,
        username="member",
        role=Role.MEMBER,
        display_name="会员",
        member_id=world.member_a,
    )
    with pytest.raises(Forbidden):
        member_profile_columns(db, member)
