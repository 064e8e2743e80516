"""The stations JSON API: scoped positions, the public finder, check-in by signed code and
rating once per visit, the dashboard figures, evaluation runs and their scoreboards."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gonghui.core.auth import Role
from gonghui.core.clock import FixedClock
from gonghui.core.settings import Settings
from gonghui.stations import tokens
from gonghui.stations.models import Complaint, Feedback, Rating, Score, Visit
from gonghui.stations.rules import Amenity, PositionType
from tests.conftest import NOW
from tests.jobs.tasks import finished_task
from tests.stations.helpers import STAFF, position
from tests.stations.scene import build
from tests.world import World, csrf_of, login

API = "/api/v1/stations"
VISITOR = {"phone": "13912345678", "occupation": "外卖骑手"}
FIVE = {"rules": 5, "service": 4, "environment": 5, "facilities": 3, "effectiveness": 4}


def _key(settings: Settings) -> bytes:
    return tokens.derive_key(settings.secret_key.get_secret_value())


def _visits(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(Visit)) or 0


def _code(answer: Any) -> str:
    return str(answer.json()["error"]["code"])


def test_positions_are_listed_within_the_callers_reach(
    client: TestClient, db: Session, world: World, settings: Settings
) -> None:
    scene = build(db, world, evaluate=False)
    db.commit()
    login(client, world.users[Role.STATION_MANAGER])
    mine = client.get(f"{API}/positions").json()
    assert [p["id"] for p in mine["items"]] == [scene.mine.id]
    assert mine["total"] == 1
    assert mine["items"][0]["types"] == ["职工之家", "工会驿站"]
    assert client.get(f"{API}/positions/{scene.other.id}").status_code == 404
    detail = client.get(f"{API}/positions/{scene.mine.id}").json()
    assert tokens.verify(_key(settings), detail["checkin_token"], NOW).position_id == scene.mine.id
    assert [h["to_status"] for h in detail["history"]] == ["active"]
    client.cookies.clear()
    login(client, world.users[Role.FEDERATION_STAFF])
    every = client.get(f"{API}/positions").json()
    assert {p["id"] for p in every["items"]} == {p.id for p in scene.positions}
    found = client.get(f"{API}/positions", params={"q": "莱山"}).json()
    assert {p["id"] for p in found["items"]} == {scene.other.id, scene.closed.id}
    client.cookies.clear()
    login(client, world.users[Role.MEMBER])
    assert client.get(f"{API}/positions").status_code == 403


def test_the_finder_is_public_and_filters_by_type_and_amenity(
    client: TestClient, db: Session
) -> None:
    near = position(db, "APINEAR", latitude=37.46, longitude=121.45, amenity_mask=Amenity.WATER)
    books = position(
        db,
        "APIBOOK",
        latitude=37.47,
        longitude=121.46,
        type_mask=PositionType.BOOK_ROOM,
        amenity_mask=Amenity.WATER | Amenity.AED,
    )
    db.commit()
    point = {"lat": 37.4638, "lon": 121.4479}
    every = client.get(f"{API}/nearest", params=point).json()
    assert [p["id"] for p in every] == [near.id, books.id]
    assert every[0]["distance_km"] < every[1]["distance_km"]
    typed = client.get(f"{API}/nearest", params={**point, "type": PositionType.BOOK_ROOM.value})
    assert [p["id"] for p in typed.json()] == [books.id]
    equipped = client.get(
        f"{API}/nearest", params={**point, "amenity": [Amenity.WATER.value, Amenity.AED.value]}
    )
    assert [p["id"] for p in equipped.json()] == [books.id]
    assert equipped.json()[0]["amenities"] == ["冷热饮水", "AED除颤仪"]
    wrong = client.get(f"{API}/nearest", params={**point, "type": 3})
    assert (wrong.status_code, _code(wrong)) == (422, "bad_type")
    assert _code(client.get(f"{API}/nearest", params={**point, "amenity": 4096})) == "bad_amenity"
    assert client.get(f"{API}/nearest", params={"lat": 91, "lon": 0}).status_code == 422


def test_a_forged_stale_or_edited_code_is_refused_with_a_stable_code(
    client: TestClient, db: Session, settings: Settings
) -> None:
    found = position(db, "APIFORGE")
    other = position(db, "APIFORGE2")
    db.commit()
    key = _key(settings)
    genuine = tokens.issue(key, found.id, NOW)
    edited = f"{other.id}" + genuine[len(str(found.id)) :]
    for token in (
        tokens.issue(tokens.derive_key("guess" * 8), found.id, NOW),
        tokens.issue(key, found.id, NOW - tokens.TOKEN_WINDOW - timedelta(seconds=1)),
        tokens.issue(key, found.id, NOW + timedelta(hours=1)),
        edited,
        "not-a-token",
    ):
        answer = client.post(f"{API}/checkins", json={"token": token, **VISITOR})
        assert (answer.status_code, _code(answer)) == (422, "bad_token"), token
    assert _visits(db) == 0


def test_a_visitor_checks_in_and_a_repeat_within_30_minutes_counts_once(
    app: FastAPI, client: TestClient, db: Session, settings: Settings
) -> None:
    found = position(db, "APIVISIT")
    db.commit()
    key = _key(settings)
    missing = client.post(f"{API}/checkins", json={"token": tokens.issue(key, found.id, NOW)})
    assert (missing.status_code, _code(missing)) == (422, "bad_phone")
    first = client.post(
        f"{API}/checkins", json={"token": tokens.issue(key, found.id, NOW), **VISITOR}
    ).json()
    assert first["counted"] is True
    assert first["position_name"] == found.name
    later = NOW + timedelta(minutes=29)
    app.state.clock = FixedClock(later)
    again = client.post(
        f"{API}/checkins", json={"token": tokens.issue(key, found.id, later), **VISITOR}
    ).json()
    assert (again["counted"], again["visit_id"]) == (False, first["visit_id"])
    assert _visits(db) == 1
    after = NOW + timedelta(minutes=31)
    app.state.clock = FixedClock(after)
    third = client.post(
        f"{API}/checkins", json={"token": tokens.issue(key, found.id, after), **VISITOR}
    ).json()
    assert third["counted"] is True
    assert third["visit_id"] != first["visit_id"]
    assert _visits(db) == 2


def test_a_signed_in_member_checks_in_as_themselves_with_the_csrf_header(
    client: TestClient, db: Session, world: World, settings: Settings
) -> None:
    found = position(db, "APIMEMBER")
    db.commit()
    login(client, world.users[Role.MEMBER])
    body = {"token": tokens.issue(_key(settings), found.id, NOW)}
    refused = client.post(f"{API}/checkins", json=body)
    assert (refused.status_code, _code(refused)) == (403, "forbidden")
    answer = client.post(
        f"{API}/checkins", json=body, headers={"X-CSRF-Token": csrf_of(client, "/home")}
    )
    assert answer.status_code == 200
    visit = db.get(Visit, answer.json()["visit_id"])
    assert visit is not None
    assert visit.member_id == world.member_a
    assert visit.phone_masked is None


def test_a_visit_is_rated_once_with_its_receipt(
    client: TestClient, db: Session, settings: Settings
) -> None:
    found = position(db, "APIRATE")
    db.commit()
    token = tokens.issue(_key(settings), found.id, NOW)
    visit = client.post(f"{API}/checkins", json={"token": token, **VISITOR}).json()
    path = f"{API}/visits/{visit['visit_id']}/rating"
    forged = client.post(path, json={**FIVE, "receipt": "0" * 32})
    assert (forged.status_code, _code(forged)) == (404, "not_found")
    out_of_range = client.post(path, json={**FIVE, "rules": 6, "receipt": visit["receipt"]})
    assert (out_of_range.status_code, _code(out_of_range)) == (422, "invalid_request")
    rated = client.post(
        path,
        json={
            **FIVE,
            "receipt": visit["receipt"],
            "like": True,
            "comment": "希望增加充电线",
            "comment_kind": "suggestion",
        },
    )
    assert rated.status_code == 200
    assert (rated.json()["liked"], rated.json()["commented"]) == (True, True)
    again = client.post(path, json={**FIVE, "receipt": visit["receipt"]})
    assert (again.status_code, _code(again)) == (409, "already_rated")
    assert db.scalar(select(func.count()).select_from(Rating)) == 1
    kinds = db.scalars(select(Feedback.kind).where(Feedback.visit_id == visit["visit_id"])).all()
    assert sorted(kinds) == ["like", "suggestion"]
    rating = db.scalars(select(Rating)).one()
    assert (rating.rules, rating.facilities, rating.position_id) == (5, 3, found.id)


def test_the_dashboard_figures_match_the_page_data_and_the_managers_scope(
    client: TestClient, db: Session, world: World
) -> None:
    scene = build(db, world)
    db.commit()
    for role, actor in ((Role.FEDERATION_STAFF, STAFF), (Role.STATION_MANAGER, scene.manager)):
        client.cookies.clear()
        login(client, world.users[role])
        figures = client.get(f"{API}/dashboard").json()
        usage = [(u["month"], u["scans"], u["camera"], u["manual"]) for u in figures["usage"]]
        assert usage == scene.expected_usage(actor)
        means = [(s["month"], s["ratings"], s["mean"]) for s in figures["satisfaction"]]
        assert means == [
            (month, count, None if mean is None else str(mean))
            for month, count, mean in scene.expected_means(actor)
        ]
        assert [t["count"] for t in figures["by_type"]] == scene.expected_types(actor)
        assert {line["position_id"] for line in figures["top"]} == scene.ids(actor) - {
            scene.closed.id
        }
        assert figures["cards"]["last_run_id"] == scene.summary.run_id  # type: ignore[union-attr]
    client.cookies.clear()
    login(client, world.users[Role.MEMBER])
    assert client.get(f"{API}/dashboard").status_code == 403


def test_staff_run_an_evaluation_and_read_its_scoreboard(
    app: FastAPI, client: TestClient, db: Session, world: World
) -> None:
    found = position(db, "APIEVAL")
    db.commit()
    login(client, world.users[Role.STATION_MANAGER])
    headers = {"X-CSRF-Token": csrf_of(client, "/home")}
    refused = client.post(f"{API}/evaluations", json={"period": "2025-01"}, headers=headers)
    assert refused.status_code == 403
    client.cookies.clear()
    login(client, world.users[Role.FEDERATION_STAFF])
    headers = {"X-CSRF-Token": csrf_of(client, "/home")}
    still_open = client.post(f"{API}/evaluations", json={"period": "2025-02"}, headers=headers)
    assert (still_open.status_code, _code(still_open)) == (422, "period_open")
    queued = client.post(f"{API}/evaluations", json={"period": "2025-01"}, headers=headers)
    assert queued.status_code == 202
    task = finished_task(client, app, queued)
    run_id = int(task["result_url"].rsplit("/", 1)[1])
    done = client.get(f"{API}/evaluations/{run_id}").json()["run"] | {"run_id": run_id}
    scores = db.scalars(select(Score).where(Score.run_id == run_id)).all()
    assert done["evaluated"] == len(scores) == done["green"] + done["yellow"] + done["red"]
    assert f"共{len(scores)}个阵地" in task["summary"]
    twice = client.post(f"{API}/evaluations", json={"period": "2025-01"}, headers=headers)
    assert (twice.status_code, _code(twice)) == (409, "already_evaluated")
    runs = client.get(f"{API}/evaluations").json()
    assert [r["id"] for r in runs] == [done["run_id"]]
    assert runs[0]["rule_version"] == 1
    board = client.get(f"{API}/evaluations/{done['run_id']}").json()
    assert board["total"] == len(scores)
    totals = [item["total"] for item in board["items"]]
    assert totals == sorted(totals)
    mine = next(item for item in board["items"] if item["position_id"] == found.id)
    row = next(s for s in scores if s.position_id == found.id)
    assert (mine["total"], mine["card"], mine["facts"]["open_days"]) == (
        row.total,
        row.card.value,
        31,
    )
    assert client.get(f"{API}/evaluations/999999").status_code == 404


def test_the_stations_api_is_in_the_openapi_schema(client: TestClient) -> None:
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    for path in (
        "/positions",
        "/positions/{position_id}",
        "/nearest",
        "/checkins",
        "/visits/{visit_id}/rating",
        "/dashboard",
        "/evaluations",
        "/evaluations/{run_id}",
    ):
        assert f"{API}{path}" in paths
    assert not any(path.startswith("/stations") for path in paths)


def test_a_complaint_about_a_visit_takes_its_receipt(
    client: TestClient, db: Session, settings: Settings
) -> None:
    found = position(db, "APIGRIPE")
    db.commit()
    token = tokens.issue(_key(settings), found.id, NOW)
    visit = client.post(f"{API}/checkins", json={"token": token, **VISITOR}).json()
    path = f"{API}/visits/{visit['visit_id']}/complaint"
    forged = client.post(path, json={"receipt": "0" * 32, "body": "灯坏了"})
    assert (forged.status_code, _code(forged)) == (404, "not_found")
    empty = client.post(path, json={"receipt": visit["receipt"], "body": " "})
    assert (empty.status_code, _code(empty)) == (422, "bad_text")
    made = client.post(
        path,
        json={
            "receipt": visit["receipt"],
            "body": "灯坏了",
            "contact_name": "李女士",
            "contact_phone": "13812345678",
        },
    )
    assert made.status_code == 201
    assert (made.json()["real_name"], made.json()["status"]) == (True, "open")
    complaint = db.get(Complaint, made.json()["complaint_id"])
    assert complaint is not None
    assert (complaint.position_id, complaint.visit_id) == (found.id, visit["visit_id"])


def test_a_receipt_or_code_in_other_characters_is_refused_not_a_server_error(
    client: TestClient, db: Session, settings: Settings
) -> None:
    # Found by the schemathesis run: `hmac.compare_digest` raises TypeError on non-ASCII
    # text, and `int()` on a digit that `str.isdigit` accepts ("²"); both answered 500.
    found = position(db, "APIUNICODE")
    db.commit()
    key = _key(settings)
    visit = client.post(
        f"{API}/checkins", json={"token": tokens.issue(key, found.id, NOW), **VISITOR}
    ).json()
    for action, body in (("rating", FIVE), ("complaint", {"body": "灯坏了"})):
        answer = client.post(
            f"{API}/visits/{visit['visit_id']}/{action}", json={**body, "receipt": "收据\u0080"}
        )
        assert (answer.status_code, _code(answer)) == (404, "not_found"), action
    issued = int(NOW.timestamp())
    for token in (f"{found.id}.{issued}.签名", f"²{found.id}.{issued}.abc", f"1.²{issued}.x"):
        answer = client.post(f"{API}/checkins", json={"token": token, **VISITOR})
        assert (answer.status_code, _code(answer)) == (422, "bad_token"), token
    assert _visits(db) == 1
