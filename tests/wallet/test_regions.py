"""The region table as migrated holds the seed's 2025-02-04 state; the agency opens more."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gonghui.core.auth import Actor, Role
from gonghui.core.errors import Conflict, Forbidden
from gonghui.wallet import regions
from gonghui.wallet.models import Region, RegionEvent
from gonghui.wallet.regions_data import PROVINCES
from tests.conftest import NOW

SEED_DAY = date(2025, 2, 4)
AGENCY = Actor(user_id=None, username="agency", role=Role.INSURANCE_AGENCY, display_name="经办")


def test_the_seed_state_holds_117_open_regions_in_14_provinces(db: Session) -> None:
    opened = regions.open_regions(db, SEED_DAY)
    assert len(opened) == 117
    provinces = {region.province_code[:2] for region in opened}
    # The seed's list: 河北 内蒙古 上海 江苏 安徽 山东 河南 湖北 广东 重庆 四川 贵州 西藏 甘肃.
    assert provinces == {"13", "15", "31", "32", "34", "37", "41", "42", "44", "50", "51", "52"} | {
        "54",
        "62",
    }
    assert regions.open_regions(db, date(2025, 2, 3)) == []


def test_exactly_the_seeds_six_provinces_are_province_wide(db: Session) -> None:
    wide = {
        line.name
        for line in regions.rollout_by_province(db, SEED_DAY)
        if line.rollout.province_wide
    }
    assert wide == {"河北省", "河南省", "安徽省", "西藏自治区", "四川省", "湖北省"}


def test_every_province_level_division_is_listed_with_its_code(db: Session) -> None:
    provincial = db.scalars(select(Region).where(Region.code.like("%0000"))).all()
    assert len(provincial) == 34 == len(PROVINCES)
    by_code = {region.code: region.name for region in provincial}
    assert by_code["370000"] == "山东省"
    assert by_code["540000"] == "西藏自治区"
    prefectures = db.scalars(select(Region).where(Region.province_code == "510000")).all()
    # 四川: the provincial pool, 18 cities and 3 autonomous prefectures.
    assert len(prefectures) == 22
    assert regions.region_by_code(db, "429004").level.value == "county"  # 仙桃市


def test_the_agency_opens_a_region_as_a_new_version(db: Session) -> None:
    region = regions.open_region(db, "370300", date(2025, 3, 1), actor=AGENCY, now=NOW)
    assert (region.wallet_opened_on, region.version) == (date(2025, 3, 1), 2)
    events = db.scalars(select(RegionEvent).where(RegionEvent.region_id == region.id)).all()
    assert [(e.version, e.wallet_opened_on) for e in events] == [(2, date(2025, 3, 1))]
    with pytest.raises(Conflict):
        regions.open_region(db, "370300", date(2025, 3, 2), actor=AGENCY, now=NOW)
    member = Actor(user_id=None, username="m", role=Role.MEMBER, display_name="m")
    with pytest.raises(Forbidden):
        regions.open_region(db, "370400", date(2025, 3, 1), actor=member, now=NOW)
