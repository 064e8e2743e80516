"""The roll's list narrowed by its coded columns and a district, with the filters kept across
pages."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from gonghui.core.pii import IdentityVault
from gonghui.members import queries
from gonghui.members.models import Member, Unit
from gonghui.members.queries import RollFilter
from gonghui.members.rules import EmploymentStatus, MembershipStatus, PostType
from tests.world import SETUP, World, login


def names(db: Session, vault: IdentityVault, wanted: RollFilter) -> list[str]:
    return [m.name for m in queries.search_members(db, SETUP, vault, wanted).items]


def test_each_filter_keeps_only_the_members_that_match(
    db: Session, vault: IdentityVault, world: World
) -> None:
    assert names(db, vault, RollFilter()) == ["林建国", "周秀英"]
    assert names(db, vault, RollFilter(post_type=PostType.PRODUCTION)) == ["林建国"]
    assert names(db, vault, RollFilter(post_type=PostType.MANAGEMENT_TECHNICAL)) == ["周秀英"]
    retired = db.get(Member, world.member_b)
    assert retired is not None
    retired.employment_status = EmploymentStatus.RETIRED
    retired.membership_status = MembershipStatus.SUSPENDED
    db.flush()
    assert names(db, vault, RollFilter(employment=EmploymentStatus.RETIRED)) == ["周秀英"]
    assert names(db, vault, RollFilter(membership=MembershipStatus.ACTIVE)) == ["林建国"]
    unit_b = db.get(Unit, world.unit_b)
    assert unit_b is not None
    unit_b.district = "莱山区"
    db.flush()
    assert names(db, vault, RollFilter(district="莱山区")) == ["周秀英"]
    both = RollFilter(search="林", district="莱山区")
    assert names(db, vault, both) == []


def test_the_list_page_filters_and_offers_the_districts_on_the_roll(
    client: TestClient, world: World
) -> None:
    login(client, "federation_staff")
    page = client.get("/members", params={"post": "production", "district": "芝罘区"}).text
    assert "林建国" in page
    assert "周秀英" not in page
    assert "<option selected>芝罘区</option>" in page
    assert 'value="production" selected' in page
    assert client.get("/members", params={"post": "astronaut"}).status_code == 422
