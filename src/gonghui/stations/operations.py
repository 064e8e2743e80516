"""What a position or a vehicle team records of its work: activities, vehicles, trips."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gonghui.core import audit
from gonghui.core.auth import Actor, Permission
from gonghui.core.clock import business_date
from gonghui.core.errors import Conflict, InvalidInput
from gonghui.stations.models import Activity, Position, Trip, Vehicle
from gonghui.stations.rules import TripStatus, VehicleService
from gonghui.stations.service import require_operator

MAX_ATTENDANCE = 100_000
ACTIVITY_KINDS = ("读书分享", "健康讲座", "技能培训", "文体活动", "法律咨询", "亲子活动", "其他")


def record_activity(
    session: Session,
    position: Position,
    *,
    held_on: date,
    kind: str,
    title: str,
    attendance: int,
    actor: Actor,
    now: datetime,
) -> Activity:
    require_operator(actor)
    problems = [
        message
        for message, bad in (
            ("请选择活动类型", kind not in ACTIVITY_KINDS),
            ("请填写活动名称（不超过128字）", not title.strip() or len(title.strip()) > 128),  # noqa: PLR2004
            (f"参加人数应为0至{MAX_ATTENDANCE}", not 0 <= attendance <= MAX_ATTENDANCE),
            ("活动日期不能早于阵地建成日期", held_on < position.opened_on),
            # A future activity would count in an evaluation before it has happened.
            ("活动日期不能晚于今天", held_on > business_date(now)),
        )
        if bad
    ]
    if problems:
        raise InvalidInput("bad_activity", "；".join(problems))
    activity = Activity(
        position_id=position.id,
        held_on=held_on,
        kind=kind,
        title=title.strip(),
        attendance=attendance,
        created_at=now,
    )
    session.add(activity)
    session.flush()
    audit.record(
        session,
        actor=actor,
        at=now,
        action="station.activity_recorded",
        target_type="station",
        target_id=position.id,
        after={"activity": activity.id, "attendance": attendance},
    )
    return activity


def create_vehicle(
    session: Session,
    *,
    name: str,
    plate: str,
    team: str,
    manager_user_id: int | None,
    actor: Actor,
    now: datetime,
) -> Vehicle:
    actor.require(Permission.STATIONS_MANAGE)
    if not name.strip() or not team.strip():
        raise InvalidInput("bad_vehicle", "请填写服务车名称和服务队伍")
    if len(name.strip()) > 64 or len(plate.strip()) > 16 or len(team.strip()) > 128:  # noqa: PLR2004
        raise InvalidInput("bad_vehicle", "名称不超过64字，车牌不超过16字，服务队伍不超过128字")
    if session.scalars(select(Vehicle.id).where(Vehicle.name == name.strip())).first():
        raise Conflict("vehicle_exists", f"服务车“{name.strip()}”已存在，请换一个名称")
    vehicle = Vehicle(
        name=name.strip(),
        plate=plate.strip(),
        team=team.strip(),
        manager_user_id=manager_user_id,
        created_at=now,
    )
    session.add(vehicle)
    session.flush()
    audit.record(
        session,
        actor=actor,
        at=now,
        action="station.vehicle_created",
        target_type="station_vehicle",
        target_id=vehicle.id,
        after={"name": vehicle.name},
    )
    return vehicle


@dataclass(frozen=True)
class TripPlan:
    site_name: str
    site_kind: str
    district: str
    scheduled_on: date
    note: str = ""


def schedule_trip(
    session: Session, vehicle: Vehicle, plan: TripPlan, *, actor: Actor, now: datetime
) -> Trip:
    require_operator(actor)
    if not plan.site_name.strip() or not plan.site_kind.strip():
        raise InvalidInput("bad_trip", "请填写服务点名称和类型（如建筑工地）")
    trip = Trip(
        vehicle_id=vehicle.id,
        site_name=plan.site_name.strip()[:128],
        site_kind=plan.site_kind.strip()[:32],
        district=plan.district.strip()[:64],
        scheduled_on=plan.scheduled_on,
        status=TripStatus.SCHEDULED,
        services=[],
        people_served=None,
        volunteers=None,
        note=plan.note.strip()[:500],
        created_at=now,
    )
    session.add(trip)
    session.flush()
    audit.record(
        session,
        actor=actor,
        at=now,
        action="station.trip_scheduled",
        target_type="station_trip",
        target_id=trip.id,
        after={"site": trip.site_name, "on": str(plan.scheduled_on)},
    )
    return trip


def complete_trip(
    session: Session,
    trip: Trip,
    *,
    services: list[VehicleService],
    people_served: int,
    volunteers: int,
    actor: Actor,
    now: datetime,
) -> None:
    """Record what a visit brought: the services given and the people served."""
    require_operator(actor)
    if trip.status is not TripStatus.SCHEDULED:
        raise InvalidInput("bad_transition", f"该行程{trip.status.label}，不能再登记")
    if trip.scheduled_on > business_date(now):
        raise InvalidInput("trip_ahead", f"出车日期（{trip.scheduled_on}）未到，不能登记完成")
    if not services:
        raise InvalidInput("services_required", "请至少选择一项服务内容")
    if not 0 < people_served <= MAX_ATTENDANCE or not 0 <= volunteers <= MAX_ATTENDANCE:
        raise InvalidInput("bad_count", "服务人数应大于0，志愿者人数不能为负")
    trip.status = TripStatus.DONE
    trip.services = [service.value for service in services]
    trip.people_served, trip.volunteers = people_served, volunteers
    audit.record(
        session,
        actor=actor,
        at=now,
        action="station.trip_completed",
        target_type="station_trip",
        target_id=trip.id,
        after={"services": trip.services, "people_served": people_served},
    )
