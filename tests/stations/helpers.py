"""Positions and actors for the stations tests."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from sqlalchemy.orm import Session

from gonghui.core.auth import Actor, Role
from gonghui.stations import service
from gonghui.stations.models import Position
from gonghui.stations.records import PositionRecord
from tests.conftest import NOW

STAFF = Actor(user_id=None, username="staff", role=Role.FEDERATION_STAFF, display_name="工作人员")


def record(
    code: str, latitude: float = 37.54, longitude: float = 121.40, **changes: object
) -> PositionRecord:
    base = PositionRecord(
        code=code,
        name=f"阵地{code}",
        type_mask=4,
        address="烟台市芝罘区南大街1号",
        district="芝罘区",
        latitude=latitude,
        longitude=longitude,
        hours="08:00-20:00",
        open_24h=False,
        operator_org="芝罘区总工会",
        responsible_person="王芳",
        responsible_phone="13800000000",
        amenity_mask=0,
        area_m2=60,
        seats=10,
        stars=3,
        most_beautiful=False,
        smart=False,
        opened_on=date(2024, 1, 1),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def position(
    db: Session, code: str, *, manager_user_id: int | None = None, **changes: object
) -> Position:
    saved, _created = service.save_position(
        db, record(code, **changes), manager_user_id=manager_user_id, actor=STAFF, now=NOW
    )
    return saved
