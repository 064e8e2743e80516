"""The stations JSON API under /api/v1/stations: positions, the finder, check-in and rating
by QR code, the dashboard figures and the evaluation runs.

Check-in and rating are public like their pages: a visitor has no account. The check-in answers
with a receipt (an HMAC of the visit under a key of its own), and rating a visit takes that
receipt: the page keeps the visits in the browser session, an API client keeps the receipt.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from gonghui.core.auth import Actor, Permission, tokens_equal
from gonghui.core.errors import InvalidInput, NotFound
from gonghui.edge.deps import (
    Db,
    Id,
    Now,
    PageNo,
    api_actor,
    api_permitted,
    get_settings,
    session_actor,
)
from gonghui.jobs.starting import TaskOut, accepted, queue_task
from gonghui.jobs.tasks import EVALUATION
from gonghui.stations import evaluation, finder, queries, service, tokens
from gonghui.stations.dashboard import dashboard
from gonghui.stations.feedback import Stars, file_complaint, leave_feedback, rate_visit
from gonghui.stations.models import Position, RuleSetVersion
from gonghui.stations.rules import Amenity, FeedbackKind, PositionType
from gonghui.stations.schemas import (
    CheckInIn,
    CheckInOut,
    ComplaintIn,
    ComplaintOut,
    DashboardOut,
    EvaluateIn,
    NearbyOut,
    PositionDetailOut,
    PositionOut,
    PositionPageOut,
    RatingIn,
    RatingOut,
    RunOut,
    ScoreboardOut,
    ScoreOut,
    StatusChangeOut,
)
from gonghui.stations.visits import Visitor, check_in
from gonghui.stations.web import QrKey

router = APIRouter(prefix="/stations", tags=["stations"])
Viewer = Annotated[Actor, Depends(api_permitted(Permission.STATIONS_VIEW))]
Manager = Annotated[Actor, Depends(api_permitted(Permission.STATIONS_MANAGE))]
_RECEIPT_CHARS = 32


def optional_actor(request: Request, db: Db, now: Now) -> Actor | None:
    """Nobody, or whoever is signed in: then, as on every API change made with a session
    cookie, the CSRF header is required (`api_actor`)."""
    if not request.headers.get("Authorization") and session_actor(request) is None:
        return None
    return api_actor(request, db, now)


MaybeActor = Annotated[Actor | None, Depends(optional_actor)]


def receipt_key(request: Request) -> bytes:
    secret = get_settings(request).secret_key.get_secret_value()
    return hmac.new(secret.encode(), b"gonghui stations visit receipt v1", hashlib.sha256).digest()


ReceiptKey = Annotated[bytes, Depends(receipt_key)]


def receipt_of(key: bytes, visit_id: int) -> str:
    return hmac.new(key, str(visit_id).encode(), hashlib.sha256).hexdigest()[:_RECEIPT_CHARS]


@router.get("/positions", response_model=PositionPageOut)
def list_positions(db: Db, actor: Viewer, q: str = "", page: PageNo = 1) -> PositionPageOut:
    """Positions by name or district; a station manager sees the ones they run."""
    return PositionPageOut.of(queries.positions_visible(db, actor, q, page))


@router.get("/positions/{position_id}", response_model=PositionDetailOut)
def get_position(position_id: Id, db: Db, now: Now, key: QrKey, actor: Viewer) -> PositionDetailOut:
    position = queries.position_for(db, actor, position_id)
    history = [
        StatusChangeOut(
            from_status=h.from_status.value if h.from_status else None,
            to_status=h.to_status.value,
            reason=h.reason,
            deadline=h.deadline,
            at=h.at,
        )
        for h in service.history_of(db, position)
    ]
    return PositionDetailOut(
        **PositionOut.of(position).model_dump(),
        responsible_phone=position.responsible_phone,
        history=history,
        checkin_token=tokens.issue(key, position.id, now),
        checkin_token_expires_at=now + tokens.TOKEN_WINDOW,
    )


def _bits(flag_class: type[PositionType | Amenity], values: list[int], code: str) -> int:
    known = {flag.value for flag in flag_class}
    if bad := [value for value in values if value not in known]:
        raise InvalidInput(code, f"未知的代码：{'、'.join(map(str, bad))}（可选：{sorted(known)}）")
    mask = 0
    for value in values:
        mask |= value
    return mask


@router.get("/nearest", response_model=list[NearbyOut])
def nearest(
    db: Db,
    lat: Annotated[float, Query(ge=-90, le=90)],
    lon: Annotated[float, Query(ge=-180, le=180)],
    kind: Annotated[int, Query(alias="type", description="阵地类型位：1/2/4/8/16，0 不限")] = 0,
    amenity: Annotated[list[int] | None, Query(description="须具备的设施位，可重复")] = None,
    k: Annotated[int, Query(ge=1, le=finder.MAX_RESULTS)] = 10,
) -> list[NearbyOut]:
    """The nearest open positions to a point (public, like the finder page)."""
    type_mask = _bits(PositionType, [kind] if kind else [], "bad_type")
    amenity_mask = _bits(Amenity, amenity or [], "bad_amenity")
    found = finder.nearest(db, lat, lon, k, type_mask=type_mask, amenity_mask=amenity_mask)
    return [NearbyOut.of(one) for one in found]


@router.post("/checkins", response_model=CheckInOut)
def check_in_by_token(
    body: CheckInIn, db: Db, now: Now, key: QrKey, receipts: ReceiptKey, actor: MaybeActor
) -> CheckInOut:
    """Check in with a scanned code: a signed-in member as themselves, anyone else with a
    phone and an occupation. A code that is forged, stale or edited is refused with
    `bad_token`; a repeat scan within 30 minutes answers the earlier visit, `counted` false."""
    member_id = actor.member_id if actor else None
    visitor = Visitor(member_id) if member_id else Visitor(None, body.phone, body.occupation)
    done = check_in(db, body.token, visitor, key=key, now=now)
    return CheckInOut(
        visit_id=done.visit.id,
        position_id=done.visit.position_id,
        position_name=done.position_name,
        counted=done.counted,
        visited_at=done.visit.visited_at,
        receipt=receipt_of(receipts, done.visit.id),
    )


@router.post("/visits/{visit_id}/rating", response_model=RatingOut)
def rate(visit_id: Id, body: RatingIn, db: Db, now: Now, receipts: ReceiptKey) -> RatingOut:
    """One rating per visit (`already_rated` the second time), with a like and a comment or
    suggestion if given."""
    if not tokens_equal(body.receipt, receipt_of(receipts, visit_id)):
        raise NotFound("到访记录")
    visit = queries.visit_of(db, visit_id, [visit_id])
    stars = Stars(
        rules=body.rules,
        service=body.service,
        environment=body.environment,
        facilities=body.facilities,
        effectiveness=body.effectiveness,
    )
    rating = rate_visit(db, visit, stars, now=now)
    if body.like:
        leave_feedback(db, visit, FeedbackKind.LIKE, "", now=now)
    if commented := bool(body.comment.strip()):
        leave_feedback(db, visit, FeedbackKind(body.comment_kind), body.comment, now=now)
    return RatingOut(
        rating_id=rating.id,
        visit_id=visit.id,
        position_id=visit.position_id,
        liked=body.like,
        commented=commented,
    )


@router.get("/dashboard", response_model=DashboardOut)
def dashboard_figures(db: Db, now: Now, actor: Viewer) -> DashboardOut:
    """The dashboard's figures; a station manager's cover their own positions only."""
    return DashboardOut.of(dashboard(db, actor, now))


@router.get("/evaluations", response_model=list[RunOut])
def list_runs(db: Db, actor: Viewer) -> list[RunOut]:
    return [
        RunOut.of(run, db.get(RuleSetVersion, run.rule_set_id)) for run in queries.runs(db, actor)
    ]


@router.get("/evaluations/{run_id}", response_model=ScoreboardOut)
def run_scoreboard(run_id: Id, db: Db, actor: Viewer, page: PageNo = 1) -> ScoreboardOut:
    """A run's scores, lowest total first, with the facts each was computed from."""
    run, version = queries.run_for(db, actor, run_id)
    board = queries.scoreboard(db, actor, run, page)
    return ScoreboardOut(
        run=RunOut.of(run, version),
        items=[ScoreOut.of(score, name) for score, name in board.items],
        total=board.total,
        page=board.page,
        pages=board.pages,
    )


@router.post(
    "/evaluations",
    status_code=202,
    response_model=TaskOut,
    responses={202: {"description": "已排队；`Location` 为任务地址"}},
)
def run_evaluation(
    request: Request, body: EvaluateIn, db: Db, now: Now, actor: Manager
) -> JSONResponse:
    """Queue the evaluation of every open position over a finished period (and the cards it
    earns) for the worker; answers 202 with the task's URL, whose `result_url` is the run."""
    evaluation.check_evaluable(db, body.period, actor=actor, now=now)
    task = queue_task(request, db, EVALUATION, {"period": body.period}, actor=actor, now=now)
    return accepted(request, task)


@router.post("/visits/{visit_id}/complaint", response_model=ComplaintOut, status_code=201)
def complain(
    visit_id: Id, body: ComplaintIn, db: Db, now: Now, receipts: ReceiptKey
) -> ComplaintOut:
    """A complaint about a visit (the check-in's receipt); real-name ones are called back."""
    if not tokens_equal(body.receipt, receipt_of(receipts, visit_id)):
        raise NotFound("到访记录")
    visit = queries.visit_of(db, visit_id, [visit_id])
    position = db.get(Position, visit.position_id)
    assert position is not None  # noqa: S101 - a visit's position is a foreign key
    complaint = file_complaint(
        db,
        position,
        body.body,
        now=now,
        visit=visit,
        contact_name=body.contact_name,
        contact_phone=body.contact_phone,
    )
    return ComplaintOut(
        complaint_id=complaint.id,
        position_id=position.id,
        real_name=complaint.real_name,
        status=complaint.status.value,
    )
