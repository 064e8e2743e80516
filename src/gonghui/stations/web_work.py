"""A position's and a vehicle team's own work: activities, head counts, complaints with their
call-back, appeals against a card, and the service vehicles with their trips.

Station managers (谁建设谁管理谁负责) reach only their own positions and vehicles: every load
goes through `queries.position_for` or `queries.vehicle_for`, which scope it. A refused form
comes back with what was typed, and nothing written. The helpers at the top serve the staff
pages of `web_manage.py` too.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from gonghui.core.auth import Actor, Permission, Role
from gonghui.core.clock import business_date
from gonghui.core.errors import DomainError, InvalidInput
from gonghui.core.inputs import whole_number_or_none
from gonghui.edge.deps import Csrf, Db, Id, Now, flash, permitted, render
from gonghui.members import accounts
from gonghui.stations import appeals, feedback, manage_queries, operations, queries, visits
from gonghui.stations.forms import Fields, day, whole_number
from gonghui.stations.manage_queries import ScoreLine
from gonghui.stations.models import Position, Trip, Vehicle
from gonghui.stations.rules import (
    APPEAL_DAYS,
    SERVICE_LABELS,
    Card,
    ComplaintStatus,
    CountSource,
    VehicleService,
)

router = APIRouter(include_in_schema=False)
Viewer = Annotated[Actor, Depends(permitted(Permission.STATIONS_VIEW))]
Operator = Annotated[Actor, Depends(permitted(Permission.STATIONS_OPERATE))]
Manager = Annotated[Actor, Depends(permitted(Permission.STATIONS_MANAGE))]
SITE_KINDS = ("建筑工地", "物流园区", "环卫站点", "工业园区", "商圈楼宇", "其他")


async def posted_fields(request: Request) -> Fields:
    return Fields((await request.form()).multi_items())


Posted = Annotated[Fields, Depends(posted_fields)]


def redirect(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def station_managers(db: Db) -> dict[int, str]:
    return accounts.active_users_in_role(db, Role.STATION_MANAGER)


def chosen_manager(db: Db, text: str) -> int | None:
    """A station manager's account from a select box; blank means none."""
    if not text.strip():
        return None
    chosen = whole_number_or_none(text)
    if chosen is None or chosen not in station_managers(db):
        raise InvalidInput("bad_manager", "请从列表中选择阵地管理员账号")
    return chosen


# --- A position's own work: activities, head counts, complaints, appeals ----------


def _appealable(line: ScoreLine, position: Position, today: date) -> bool:
    """Whether to offer the appeal form; `appeals.file_appeal` decides for itself."""
    row = line.score
    return (
        line.appeal is None
        and row.card is not Card.GREEN
        and row.status_before != row.status_after
        and position.status is row.status_after
        and today <= line.decided_on + timedelta(days=APPEAL_DAYS)
    )


def _work_page(
    request: Request,
    db: Db,
    now: datetime,
    actor: Actor,
    position: Position,
    *,
    errors: dict[str, str] | None = None,
    forms: dict[str, dict[str, str]] | None = None,
    status_code: int = 200,
) -> Response:
    today = business_date(now)
    scores = manage_queries.scores_of(db, position)
    context = {
        "position": position,
        "today": today.isoformat(),
        "kinds": operations.ACTIVITY_KINDS,
        "sources": list(CountSource),
        "activities": manage_queries.activities_of(db, position),
        "counts": manage_queries.counts_of(db, position),
        "scores": scores,
        "appealable": {line.score.id for line in scores if _appealable(line, position, today)},
        "appeal_days": APPEAL_DAYS,
        "errors": errors or {},
        "forms": forms or {},
    }
    return render(
        request, "stations/manage/work.html", context, actor=actor, status_code=status_code
    )


def _refused_work(
    request: Request,
    db: Db,
    now: datetime,
    actor: Actor,
    position: Position,
    refusal: DomainError,
    form: str,
    values: Mapping[str, str],
) -> Response:
    """The work page again after a refusal: nothing written, the form kept with its message."""
    db.rollback()
    return _work_page(
        request,
        db,
        now,
        actor,
        position,
        errors={form: refusal.message},
        forms={form: dict(values)},
        status_code=refusal.http_status,
    )


@router.get("/stations/positions/{position_id}/work")
def work_page(request: Request, position_id: Id, db: Db, now: Now, actor: Operator) -> Response:
    position = queries.position_for(db, actor, position_id)
    return _work_page(request, db, now, actor, position)


@router.post("/stations/positions/{position_id}/activities", dependencies=[Csrf])
def record_activity(
    request: Request, position_id: Id, db: Db, now: Now, actor: Operator, posted: Posted
) -> Response:
    position = queries.position_for(db, actor, position_id)
    try:
        activity = operations.record_activity(
            db,
            position,
            held_on=day(posted.text("held_on"), "活动日期"),
            kind=posted.text("kind"),
            title=posted.text("title"),
            attendance=whole_number(posted.text("attendance"), "参加人数"),
            actor=actor,
            now=now,
        )
    except DomainError as refusal:
        return _refused_work(request, db, now, actor, position, refusal, "activity", dict(posted))
    flash(request, f"已登记活动：{activity.title}（{activity.attendance}人参加）")
    return redirect(f"/stations/positions/{position.id}/work")


@router.post("/stations/positions/{position_id}/counts", dependencies=[Csrf])
def record_count(
    request: Request, position_id: Id, db: Db, now: Now, actor: Operator, posted: Posted
) -> Response:
    position = queries.position_for(db, actor, position_id)
    try:
        try:
            source = CountSource(posted.text("source"))
        except ValueError:
            raise InvalidInput("bad_source", "请选择计数方式：客流摄像头或人工登记") from None
        row = visits.record_count(
            db,
            position,
            day(posted.text("on_date"), "计数日期"),
            source,
            whole_number(posted.text("people"), "人数"),
            actor=actor,
            now=now,
        )
    except DomainError as refusal:
        return _refused_work(request, db, now, actor, position, refusal, "count", dict(posted))
    flash(request, f"已登记{row.on_date}{source.label}人数：{row.people}人")
    return redirect(f"/stations/positions/{position.id}/work")


@router.post("/stations/scores/{score_id}/appeal", dependencies=[Csrf])
def file_appeal(
    request: Request,
    score_id: Id,
    db: Db,
    now: Now,
    actor: Operator,
    reason: Annotated[str, Form()] = "",
) -> Response:
    row = queries.score_for(db, actor, score_id)
    position = queries.position_for(db, actor, row.position_id)
    try:
        appeals.file_appeal(db, row, reason, actor=actor, now=now)
    except DomainError as refusal:
        form = f"appeal-{row.id}"
        return _refused_work(request, db, now, actor, position, refusal, form, {"reason": reason})
    flash(request, "申诉已提交，请等待总工会处理")
    return redirect(f"/stations/positions/{position.id}/work")


def _complaints_page(
    request: Request,
    db: Db,
    actor: Actor,
    position: Position,
    *,
    errors: dict[str, str] | None = None,
    forms: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    context = {
        "position": position,
        "complaints": manage_queries.complaints_of(db, position),
        "errors": errors or {},
        "forms": forms or {},
    }
    return render(
        request, "stations/manage/complaints.html", context, actor=actor, status_code=status_code
    )


@router.get("/stations/positions/{position_id}/complaints")
def complaints_page(request: Request, position_id: Id, db: Db, actor: Operator) -> Response:
    position = queries.position_for(db, actor, position_id)
    return _complaints_page(request, db, actor, position)


def _handle_complaint(
    request: Request,
    complaint_id: int,
    new: ComplaintStatus,
    note: str,
    *,
    db: Db,
    now: datetime,
    actor: Actor,
) -> Response:
    complaint = queries.complaint_for(db, actor, complaint_id)
    position = queries.position_for(db, actor, complaint.position_id)
    try:
        feedback.handle_complaint(db, complaint, new, note, actor=actor, now=now)
    except DomainError as refusal:
        db.rollback()
        key = f"{complaint.id}-{new.value}"
        return _complaints_page(
            request,
            db,
            actor,
            position,
            errors={key: refusal.message},
            forms={key: note},
            status_code=refusal.http_status,
        )
    flash(request, f"投诉已{new.label.removeprefix('已')}")
    return redirect(f"/stations/positions/{position.id}/complaints")


@router.post("/stations/complaints/{complaint_id}/callback", dependencies=[Csrf])
def call_back(
    request: Request,
    complaint_id: Id,
    db: Db,
    now: Now,
    actor: Operator,
    note: Annotated[str, Form()] = "",
) -> Response:
    return _handle_complaint(
        request, complaint_id, ComplaintStatus.CALLED_BACK, note, db=db, now=now, actor=actor
    )


@router.post("/stations/complaints/{complaint_id}/close", dependencies=[Csrf])
def close_complaint(
    request: Request,
    complaint_id: Id,
    db: Db,
    now: Now,
    actor: Operator,
    note: Annotated[str, Form()] = "",
) -> Response:
    return _handle_complaint(
        request, complaint_id, ComplaintStatus.CLOSED, note, db=db, now=now, actor=actor
    )


# --- Mobile service vehicles and their trips ----------


def _vehicles_page(
    request: Request,
    db: Db,
    actor: Actor,
    *,
    form: dict[str, str] | None = None,
    error: str = "",
    status_code: int = 200,
) -> Response:
    context = {
        "vehicles": manage_queries.vehicles_visible(db, actor),
        "managers": station_managers(db),
        "form": form or {},
        "error": error,
    }
    return render(
        request, "stations/manage/vehicles.html", context, actor=actor, status_code=status_code
    )


@router.get("/stations/vehicles")
def vehicle_list(request: Request, db: Db, actor: Viewer) -> Response:
    return _vehicles_page(request, db, actor)


@router.post("/stations/vehicles", dependencies=[Csrf])
def create_vehicle(request: Request, db: Db, now: Now, actor: Manager, posted: Posted) -> Response:
    try:
        vehicle = operations.create_vehicle(
            db,
            name=posted.text("name"),
            plate=posted.text("plate"),
            team=posted.text("team"),
            manager_user_id=chosen_manager(db, posted.text("manager_user_id")),
            actor=actor,
            now=now,
        )
    except DomainError as refusal:
        db.rollback()
        return _vehicles_page(
            request,
            db,
            actor,
            form=dict(posted),
            error=refusal.message,
            status_code=refusal.http_status,
        )
    flash(request, f"已添加服务车：{vehicle.name}")
    return redirect(f"/stations/vehicles/{vehicle.id}")


def _vehicle_page(
    request: Request,
    db: Db,
    now: datetime,
    actor: Actor,
    vehicle: Vehicle,
    *,
    errors: dict[str, str] | None = None,
    forms: dict[str, dict[str, Any]] | None = None,
    status_code: int = 200,
) -> Response:
    trips: list[Trip] = manage_queries.trips_of(db, vehicle)
    context = {
        "vehicle": vehicle,
        "manager": station_managers(db).get(vehicle.manager_user_id or 0),
        "trips": trips,
        "served": sum(trip.people_served or 0 for trip in trips),
        "services": SERVICE_LABELS,
        "site_kinds": SITE_KINDS,
        "today": business_date(now).isoformat(),
        "errors": errors or {},
        "forms": forms or {},
    }
    return render(
        request, "stations/manage/vehicle.html", context, actor=actor, status_code=status_code
    )


@router.get("/stations/vehicles/{vehicle_id}")
def vehicle_detail(request: Request, vehicle_id: Id, db: Db, now: Now, actor: Viewer) -> Response:
    vehicle = queries.vehicle_for(db, actor, vehicle_id)
    return _vehicle_page(request, db, now, actor, vehicle)


@router.post("/stations/vehicles/{vehicle_id}/trips", dependencies=[Csrf])
def schedule_trip(
    request: Request, vehicle_id: Id, db: Db, now: Now, actor: Operator, posted: Posted
) -> Response:
    vehicle = queries.vehicle_for(db, actor, vehicle_id)
    try:
        plan = operations.TripPlan(
            site_name=posted.text("site_name"),
            site_kind=posted.text("site_kind"),
            district=posted.text("district"),
            scheduled_on=day(posted.text("scheduled_on"), "出车日期"),
            note=posted.text("note"),
        )
        trip = operations.schedule_trip(db, vehicle, plan, actor=actor, now=now)
    except DomainError as refusal:
        db.rollback()
        return _vehicle_page(
            request,
            db,
            now,
            actor,
            vehicle,
            errors={"schedule": refusal.message},
            forms={"schedule": dict(posted)},
            status_code=refusal.http_status,
        )
    flash(request, f"已安排 {trip.scheduled_on} 前往{trip.site_name}")
    return redirect(f"/stations/vehicles/{vehicle.id}")


@router.post("/stations/trips/{trip_id}/completion", dependencies=[Csrf])
def complete_trip(
    request: Request, trip_id: Id, db: Db, now: Now, actor: Operator, posted: Posted
) -> Response:
    trip = queries.trip_for(db, actor, trip_id)
    vehicle = queries.vehicle_for(db, actor, trip.vehicle_id)
    chosen = posted.every("services")
    try:
        operations.complete_trip(
            db,
            trip,
            services=[VehicleService(value) for value in chosen if value in SERVICE_LABELS],
            people_served=whole_number(posted.text("people_served"), "服务人数"),
            volunteers=whole_number(posted.text("volunteers") or "0", "志愿者人数"),
            actor=actor,
            now=now,
        )
    except DomainError as refusal:
        db.rollback()
        key = f"trip-{trip.id}"
        return _vehicle_page(
            request,
            db,
            now,
            actor,
            vehicle,
            errors={key: refusal.message},
            forms={key: {**posted, "services": chosen}},
            status_code=refusal.http_status,
        )
    flash(request, f"已登记{trip.site_name}服务情况：服务{trip.people_served}人")
    return redirect(f"/stations/vehicles/{vehicle.id}")
