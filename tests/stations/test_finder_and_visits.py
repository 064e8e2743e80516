"""The finder agrees with a scan of every position; check-ins by scanned code; imports."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gonghui.core.errors import ImportRejected, InvalidInput, NotFound
from gonghui.stations import finder, imports, tokens
from gonghui.stations.models import Position, Visit
from gonghui.stations.records import HEADERS, REQUIRED
from gonghui.stations.rules import Amenity, PositionStatus, PositionType
from gonghui.stations.visits import Visitor, check_in
from tests.conftest import NOW
from tests.stations.helpers import STAFF, position
from tests.templates import filled_with_example
from tests.world import World

KEY = tokens.derive_key("test-secret-key-of-enough-length!!")


def _scatter(db: Session, count: int) -> None:
    rng = random.Random(7)  # noqa: S311 - test data
    for i in range(count):
        found = position(
            db,
            f"F{i:04d}",
            latitude=37.3 + rng.random() * 0.5,
            longitude=121.1 + rng.random() * 0.6,
            type_mask=rng.choice([4, 6, 12, 17]),
            amenity_mask=rng.randrange(0, 2048),
        )
        if i % 9 == 0:
            found.status = PositionStatus.CLOSED
    db.flush()


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    lat=st.floats(37.0, 38.1),
    lon=st.floats(120.8, 122.0),
    k=st.integers(1, 12),
    type_mask=st.sampled_from([0, 4, 8, 16]),
    amenity_mask=st.sampled_from([0, 1, 1024, 3]),
)
def test_the_finder_agrees_with_a_scan_of_every_position(
    db: Session, lat: float, lon: float, k: int, type_mask: int, amenity_mask: int
) -> None:
    if not db.scalar(select(func.count()).select_from(Position)):
        _scatter(db, 150)
    filters = {"type_mask": type_mask, "amenity_mask": amenity_mask}
    assert finder.nearest(db, lat, lon, k, **filters) == finder.scan(db, lat, lon, k, **filters)


def test_the_finder_skips_closed_positions_and_honours_filters(db: Session) -> None:
    near = position(db, "NEAR", latitude=37.5400, longitude=121.4000)
    near.status = PositionStatus.CLOSED
    mothers = position(
        db,
        "MOM",
        latitude=37.5450,
        longitude=121.4050,
        type_mask=PositionType.MOTHER_BABY | PositionType.STATION,
        amenity_mask=Amenity.FRIDGE | Amenity.WATER,
    )
    plain = position(db, "PLAIN", latitude=37.5410, longitude=121.4010)
    db.flush()
    names = [one.position_id for one in finder.nearest(db, 37.54, 121.40, 5)]
    assert names == [plain.id, mothers.id]
    only = finder.nearest(db, 37.54, 121.40, 5, type_mask=8, amenity_mask=Amenity.FRIDGE)
    assert [one.position_id for one in only] == [mothers.id]


def test_the_search_finds_open_positions_by_district_street_or_name(db: Session) -> None:
    south = position(db, "SOUTH", address="烟台市芝罘区南大街1号", latitude=37.54, longitude=121.40)
    north = position(db, "NORTH", address="烟台市芝罘区北马路9号", latitude=37.56, longitude=121.39)
    shut = position(db, "SHUT", address="烟台市芝罘区南大街8号")
    shut.status = PositionStatus.CLOSED
    east = position(
        db, "EAST", address="烟台市莱山区观海路5号", district="莱山区", latitude=37.48,
        longitude=121.45,
    )  # fmt: skip
    db.flush()

    def ids(text: str, **near: tuple[float, float]) -> list[int]:
        return [one.position_id for one in finder.search(db, text, **near)]

    # Without a location: by district, then name; the closed position never.
    assert ids("芝罘区") == [north.id, south.id]
    assert ids("南大街") == [south.id]
    assert ids("莱山区　观海") == [east.id], "every word, the full-width space too"
    assert ids("阵地EAST") == [east.id]
    assert ids("%") == ids("  ") == [], "a % is a character, not a wildcard"
    # With one: nearest first, and the distance told.
    near = finder.search(db, "芝罘区", near=(37.561, 121.391))
    assert [one.position_id for one in near] == [north.id, south.id]
    assert all(isinstance(one, finder.Found) for one in near)
    every = finder.scan(db, 37.561, 121.391, finder.MAX_RESULTS)
    assert near == [one for one in every if one.district == "芝罘区"], "as the scan ranks them"


def test_a_member_checks_in_once_in_half_an_hour(db: Session, world: World) -> None:
    found = position(db, "SCAN")
    token = tokens.issue(KEY, found.id, NOW)
    first = check_in(db, token, Visitor(member_id=world.member_a), key=KEY, now=NOW)
    soon = NOW + timedelta(minutes=29)
    again = check_in(
        db, tokens.issue(KEY, found.id, soon), Visitor(member_id=world.member_a), key=KEY, now=soon
    )
    assert first.counted
    assert not again.counted
    assert again.visit.id == first.visit.id
    later = tokens.issue(KEY, found.id, NOW + timedelta(minutes=31))
    third = check_in(
        db, later, Visitor(member_id=world.member_a), key=KEY, now=NOW + timedelta(minutes=31)
    )
    assert third.counted
    assert db.scalar(select(func.count()).select_from(Visit)) == 2


def test_a_visitor_gives_a_phone_and_an_occupation_and_is_kept_masked(db: Session) -> None:
    found = position(db, "GUEST")
    token = tokens.issue(KEY, found.id, NOW)
    with pytest.raises(InvalidInput, match="手机号"):
        check_in(db, token, Visitor(phone="12345", occupation="外卖员"), key=KEY, now=NOW)
    with pytest.raises(InvalidInput, match="职业"):
        check_in(db, token, Visitor(phone="13912345678", occupation=" "), key=KEY, now=NOW)
    done = check_in(db, token, Visitor(phone="13912345678", occupation="外卖员"), key=KEY, now=NOW)
    assert done.visit.phone_masked == "139****5678"
    assert "13912345678" not in done.visit.person_key


def test_a_stale_code_or_a_closed_position_refuses_the_check_in(db: Session, world: World) -> None:
    found = position(db, "OLD")
    stale = tokens.issue(KEY, found.id, NOW - timedelta(days=3))
    with pytest.raises(InvalidInput, match="已过期"):
        check_in(db, stale, Visitor(member_id=world.member_a), key=KEY, now=NOW)
    found.status = PositionStatus.CLOSED
    with pytest.raises(NotFound):
        check_in(
            db,
            tokens.issue(KEY, found.id, NOW),
            Visitor(member_id=world.member_a),
            key=KEY,
            now=NOW,
        )


def _csv(*rows: list[str]) -> bytes:
    lines = [",".join(HEADERS)] + [",".join(row) for row in rows]
    return "\n".join(lines).encode()


GOOD = ["YT-1", "南大街阵地", "职工之家、工会驿站", "南大街1号", "芝罘区", "37.54", "121.40"]
GOOD += ["08:00-20:00", "否", "芝罘区总工会", "王芳", "13800000000", "微波炉、图书", "80", "12"]
GOOD += ["4", "是", "否", "2023-05-01"]


def test_an_import_is_all_or_nothing_with_every_bad_line_named(db: Session) -> None:
    bad_type = [*GOOD[:2], "桑拿房", *GOOD[3:]]
    bad_type[0] = "YT-2"
    far = [*GOOD[:5], "60.0", "121.40", *GOOD[7:]]
    far[0] = "YT-3"
    with pytest.raises(ImportRejected) as rejected:
        imports.import_positions(db, _csv(GOOD, bad_type, far, GOOD), actor=STAFF, now=NOW)
    lines = [str(error) for error in rejected.value.errors]
    assert lines[0].startswith("第3行：阵地类型“桑拿房”不在清单中")
    assert lines[1].startswith("第4行：“纬度”应在")
    assert lines[2] == "第5行：阵地编号 YT-1 与第2行重复"
    assert db.scalar(select(func.count()).select_from(Position)) == 0
    report = imports.import_positions(db, _csv(GOOD), actor=STAFF, now=NOW)
    assert (report.created, report.updated) == (1, 0)
    saved = db.scalars(select(Position)).one()
    assert saved.type_mask == PositionType.WORKERS_HOME | PositionType.STATION
    assert saved.most_beautiful
    again = imports.import_positions(db, _csv(GOOD), actor=STAFF, now=NOW)
    assert (again.created, again.updated) == (0, 1)


def test_the_templates_example_row_imports_and_its_columns_are_the_readers(db: Session) -> None:
    assert [column.header for column in imports.COLUMNS] == list(HEADERS)
    assert [c.header for c in imports.COLUMNS if c.required] == list(REQUIRED)
    filled = filled_with_example(imports.template())
    assert imports.import_positions(db, filled, actor=STAFF, now=NOW).created == 1
