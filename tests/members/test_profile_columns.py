"""`member_profile_columns`: the members of `member_profiles`, as Arrow columns, scoped alike."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from gonghui.core.auth import Actor, Role
from gonghui.core.errors import Forbidden
from gonghui.members.queries import member_profile_columns, member_profiles
from tests.world import World

STAFF = Actor(user_id=None, username="staff", role=Role.FEDERATION_STAFF, display_name="工作人员")


PROFILE_COLUMNS = (
    "member_id",
    "unit_id",
    "unit_name",
    "unit_credit_code",
    "industry",
    "birth_date",
    "sex",
    "post_type",
    "employment_status",
)


def as_rows(
    db: Session, actor: Actor, unit_id: int | None = None, industry: str = ""
) -> list[tuple[object, ...]]:
    """The members' facts joined back to their units, as `member_profiles` shows them."""
    columns = member_profile_columns(db, actor, unit_id, industry)
    units = {unit["unit_id"]: unit for unit in columns.units.to_pylist()}
    assert len(units) == columns.units.num_rows  # each unit once
    assert set(units) == set(columns.members.column("unit_id").to_pylist())
    return [
        tuple({**units[row["unit_id"]], **row}[name] for name in PROFILE_COLUMNS)
        for row in columns.members.to_pylist()
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


def test_one_industry_keeps_its_members_and_units_only(db: Session, world: World) -> None:
    everyone = expected(db, STAFF)
    industry = next(row[4] for row in everyone if row[0] == world.member_b)
    assert isinstance(industry, str)
    assert as_rows(db, STAFF, industry=industry) == [r for r in everyone if r[4] == industry]
    assert as_rows(db, STAFF, industry="没有这个行业") == []


def test_a_unit_officer_gets_only_their_unit(db: Session, world: World) -> None:
    officer = Actor(
        user_id=None,
        username="officer",
        role=Role.UNIT_OFFICER,
        display_name="单位工会",
        unit_id=world.unit_a,
    )
    table = member_profile_columns(db, officer).members
    assert set(table.column("unit_id").to_pylist()) == {world.unit_a}
    assert world.member_a in table.column("member_id").to_pylist()
    assert member_profile_columns(db, officer, world.unit_b).members.num_rows == 0


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
