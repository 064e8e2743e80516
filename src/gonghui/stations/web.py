"""Pages of the stations module: the door code and check-in on a phone, rating, the finder,
positions for staff and managers, evaluation runs with their scoreboard."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from gonghui.core.auth import Actor, Permission
from gonghui.core.errors import DomainError, InvalidInput
from gonghui.edge.deps import (
    Csrf,
    Db,
    Id,
    MaybeActor,
    Now,
    PageNo,
    flash,
    get_settings,
    permitted,
    render,
)
from gonghui.jobs.starting import queue_task, to_task_page
from gonghui.jobs.tasks import EVALUATION
from gonghui.stations import deadlines, evaluation, finder, queries, service, tokens
from gonghui.stations.feedback import Stars, file_complaint, leave_feedback, rate_visit
from gonghui.stations.mapsvg import map_svg
from gonghui.stations.models import Position, Visit
from gonghui.stations.qr import qr_svg
from gonghui.stations.rules import (
    AMENITY_LABELS,
    TYPE_LABELS,
    Amenity,
    Card,
    FeedbackKind,
    PositionType,
    flags_of,
)
from gonghui.stations.scoring import STAR_WORDS, VISITOR_QUESTIONS, Aspect
from gonghui.stations.visits import Visitor, check_in

router = APIRouter(include_in_schema=False)
Viewer = Annotated[Actor, Depends(permitted(Permission.STATIONS_VIEW))]
Manager = Annotated[Actor, Depends(permitted(Permission.STATIONS_MANAGE))]
SESSION_VISITS = "station_visits"
DEFAULT_POINT = (37.4638, 121.4479)  # 烟台市政府, where the finder starts without a location


def qr_key(request: Request) -> bytes:
    return tokens.derive_key(get_settings(request).secret_key.get_secret_value())


QrKey = Annotated[bytes, Depends(qr_key)]


def _redirect(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def _labels(position: Position) -> dict[str, list[str]]:
    return {
        "types": [flag.label for flag in flags_of(PositionType, position.type_mask)],
        "amenities": [flag.label for flag in flags_of(Amenity, position.amenity_mask)],
    }


@router.get("/stations")
def position_list(
    request: Request, db: Db, actor: Viewer, q: str = "", page: PageNo = 1
) -> Response:
    results = queries.positions_visible(db, actor, q, page)
    return render(request, "stations/list.html", {"results": results, "q": q}, actor=actor)


@router.get("/stations/positions/{position_id}")
def position_detail(
    request: Request, position_id: Id, db: Db, now: Now, key: QrKey, actor: Viewer
) -> Response:
    position = queries.position_for(db, actor, position_id)
    token = tokens.issue(key, position.id, now)
    url = str(request.base_url).rstrip("/") + f"/stations/checkin?t={token}"
    context = {
        "position": position,
        **_labels(position),
        "history": service.history_of(db, position),
        "rectification_due": deadlines.rectification_due(db, position),
        "score": queries.latest_score(db, position),
        "checkin_url": url,
        "qr": qr_svg(url),
        "aspects": list(Aspect),
    }
    return render(request, "stations/detail.html", context, actor=actor)


@router.get("/stations/positions/{position_id}/door")
def door_screen(
    request: Request, position_id: Id, db: Db, now: Now, key: QrKey, actor: Viewer
) -> Response:
    """The screen at the door: a fresh signed code every couple of minutes."""
    position = queries.position_for(db, actor, position_id)
    token = tokens.issue(key, position.id, now)
    url = str(request.base_url).rstrip("/") + f"/stations/checkin?t={token}"
    context = {
        "position": position,
        "checkin_url": url,
        "qr": qr_svg(url),
        "refresh": tokens.REFRESH_SECONDS,
    }
    return render(request, "stations/door.html", context, actor=actor)


@router.get("/stations/checkin")
def checkin_page(
    request: Request, db: Db, now: Now, key: QrKey, actor: MaybeActor, t: str = ""
) -> Response:
    try:
        scan = tokens.verify(key, t, now)
    except tokens.TokenRefused as refusal:
        return render(
            request, "stations/checkin.html", {"error": str(refusal)}, actor=actor, status_code=422
        )
    position = db.get(Position, scan.position_id)
    context = {"position": position, "token": t, "is_member": bool(actor and actor.member_id)}
    return render(request, "stations/checkin.html", context, actor=actor)


@router.post("/stations/checkin", dependencies=[Csrf])
def checkin(
    request: Request,
    db: Db,
    now: Now,
    key: QrKey,
    actor: MaybeActor,
    token: Annotated[str, Form()] = "",
    phone: Annotated[str, Form()] = "",
    occupation: Annotated[str, Form()] = "",
) -> Response:
    member_id = actor.member_id if actor else None
    visitor = Visitor(member_id) if member_id else Visitor(None, phone, occupation)
    try:
        done = check_in(db, token, visitor, key=key, now=now)
    except DomainError as refusal:
        db.rollback()
        context = {
            "error": refusal.message,
            "token": token,
            "form": {"phone": phone, "occupation": occupation},
        }
        return render(
            request, "stations/checkin.html", context, actor=actor, status_code=refusal.http_status
        )
    request.session[SESSION_VISITS] = [
        *request.session.get(SESSION_VISITS, [])[-19:],
        done.visit.id,
    ]
    flash(
        request,
        f"签到成功：{done.position_name}" if done.counted else "30分钟内已签到，本次不重复计数",
    )
    return _redirect(f"/stations/visits/{done.visit.id}")


def _my_visits(request: Request) -> list[int]:
    visits = request.session.get(SESSION_VISITS, [])
    return [v for v in visits if isinstance(v, int)]


@router.get("/stations/visits/{visit_id}")
def visit_page(request: Request, visit_id: Id, db: Db, actor: MaybeActor) -> Response:
    visit = queries.visit_of(db, visit_id, _my_visits(request))
    return _visit_page(request, db, visit, actor)


def _visit_page(
    request: Request,
    db: Db,
    visit: Visit,
    actor: Actor | None,
    status_code: int = 200,
    **extra: object,
) -> Response:
    context = {
        "visit": visit,
        "position": db.get(Position, visit.position_id),
        "aspects": list(Aspect),
        "questions": VISITOR_QUESTIONS,
        "star_words": STAR_WORDS,
        "rated": queries.visit_rated(db, visit.id),
        "chosen": {},
        **extra,
    }
    return render(request, "stations/visit.html", context, actor=actor, status_code=status_code)


async def form_fields(request: Request) -> dict[str, str]:
    return {key: value for key, value in (await request.form()).items() if isinstance(value, str)}


@router.post("/stations/visits/{visit_id}/rating", dependencies=[Csrf])
def rate(
    request: Request,
    visit_id: Id,
    db: Db,
    now: Now,
    actor: MaybeActor,
    fields: Annotated[dict[str, str], Depends(form_fields)],
) -> Response:
    """A refused rating (an answer missing, or this visit already rated) comes back as the
    page with the message and the answers kept, never an error page."""
    visit = queries.visit_of(db, visit_id, _my_visits(request))
    try:
        rate_visit(db, visit, Stars.read(fields), now=now)
    except DomainError as refusal:
        db.rollback()
        return _visit_page(
            request, db, visit, actor, refusal.http_status,
            rating_error=refusal.message, chosen=fields,
        )  # fmt: skip
    if fields.get("like"):
        leave_feedback(db, visit, FeedbackKind.LIKE, "", now=now)
    if fields.get("comment", "").strip():
        kind = (
            FeedbackKind.SUGGESTION if fields.get("kind") == "suggestion" else FeedbackKind.COMMENT
        )
        leave_feedback(db, visit, kind, fields["comment"], now=now)
    flash(request, "评价已提交，感谢您的反馈")
    return _redirect(f"/stations/visits/{visit.id}")


@router.post("/stations/visits/{visit_id}/complaint", dependencies=[Csrf])
def complain(
    request: Request,
    visit_id: Id,
    db: Db,
    now: Now,
    actor: MaybeActor,
    body: Annotated[str, Form()] = "",
    contact_name: Annotated[str, Form()] = "",
    contact_phone: Annotated[str, Form()] = "",
) -> Response:
    """A complaint about this visit; with a name and phone it is real-name and called back."""
    visit = queries.visit_of(db, visit_id, _my_visits(request))
    position = db.get(Position, visit.position_id)
    assert position is not None  # noqa: S101 - a visit's position is a foreign key
    try:
        complaint = file_complaint(
            db, position, body, now=now, visit=visit,
            contact_name=contact_name, contact_phone=contact_phone,
        )  # fmt: skip
    except DomainError as refusal:
        db.rollback()
        typed = {"body": body, "contact_name": contact_name, "contact_phone": contact_phone}
        return _visit_page(
            request, db, visit, actor, refusal.http_status,
            complaint_error=refusal.message, complaint=typed,
        )  # fmt: skip
    flash(
        request,
        "投诉已受理，阵地负责人将电话回访" if complaint.real_name else "投诉已受理（匿名，不回访）",
    )
    return _redirect(f"/stations/visits/{visit.id}")


def _coordinate(text: str, default: float) -> float:
    try:
        return float(text) if text.strip() else default
    except ValueError:
        raise InvalidInput("bad_point", "经纬度应为数字") from None


@router.get("/stations/find")
def find(
    request: Request,
    db: Db,
    actor: MaybeActor,
    q: Annotated[str, Query(max_length=50)] = "",
    lat: str = "",
    lon: str = "",
    kind: int = 0,
    amenity: list[int] | None = None,
) -> Response:
    """Nearest to the member's point (or to 市政府 until it is known), or by district, street
    or address when they type one: nearest first once their point is known."""
    located = bool(lat.strip() or lon.strip())
    latitude, longitude = _coordinate(lat, DEFAULT_POINT[0]), _coordinate(lon, DEFAULT_POINT[1])
    amenity_mask = sum({a for a in amenity or [] if a in {f.value for f in Amenity}})
    type_mask = kind if kind in {f.value for f in PositionType} else 0
    filters = {"type_mask": type_mask, "amenity_mask": amenity_mask}
    found: list[finder.Place] = (
        finder.search(db, q, near=(latitude, longitude) if located else None, **filters)
        if q.strip()
        else list(finder.nearest(db, latitude, longitude, 10, **filters))
    )
    context = {
        "found": found,
        "map": map_svg(found, (latitude, longitude) if located else None),
        "q": q.strip(),
        "located": located,
        "lat": latitude if located else "",
        "lon": longitude if located else "",
        "kind": type_mask,
        "chosen": amenity_mask,
        "types": TYPE_LABELS,
        "amenities": AMENITY_LABELS,
        "flags_of": flags_of,
        "PositionType": PositionType,
        "Amenity": Amenity,
    }
    return render(request, "stations/find.html", context, actor=actor)


@router.get("/stations/evaluations")
def evaluations(request: Request, db: Db, actor: Viewer) -> Response:
    context = {"runs": queries.runs(db, actor), "can_run": actor.can(Permission.STATIONS_MANAGE)}
    return render(request, "stations/evaluations.html", context, actor=actor)


@router.post("/stations/evaluations", dependencies=[Csrf])
def run_evaluation(
    request: Request, db: Db, now: Now, actor: Manager, period: Annotated[str, Form()] = ""
) -> Response:
    """Queued for the worker: every open position of the province is scored. Its page shows
    the progress, then links to the run (or says in Chinese why it was refused)."""
    evaluation.check_evaluable(db, period, actor=actor, now=now)
    task = queue_task(request, db, EVALUATION, {"period": period.strip()}, actor=actor, now=now)
    return to_task_page(task)


@router.get("/stations/evaluations/{run_id}")
def run_detail(
    request: Request,
    run_id: Id,
    db: Db,
    actor: Viewer,
    card: Card | None = None,
    q: Annotated[str, Query(max_length=50)] = "",
    page: PageNo = 1,
) -> Response:
    run, version = queries.run_for(db, actor, run_id)
    board = queries.scoreboard(db, actor, run, page, card=card, search=q)
    context = {
        "run": run,
        "version": version,
        "board": board,
        "aspects": list(Aspect),
        "cards": list(Card),
        "card": card,
        "q": q,
        "query": {"card": card.value if card else "", "q": q},
    }
    return render(request, "stations/run.html", context, actor=actor)
