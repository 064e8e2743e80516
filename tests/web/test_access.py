"""Every route × every role: who may see and change what.

The table below is the access policy written out. The first test fails when a route is added
without a line here, so the policy never falls behind the code.
"""

from __future__ import annotations

import io
from datetime import date

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from gonghui.core.auth import Actor, Role
from gonghui.core.storage import ContentStore
from gonghui.insurance import claims
from gonghui.insurance.claims import Settlement
from gonghui.insurance.claims_rules import DocumentKind, Hospitalisation
from gonghui.insurance.store import BalanceStore
from gonghui.members import accounts
from gonghui.members.models import ApiToken, Bank, Card
from gonghui.stations import operations
from gonghui.stations.feedback import file_complaint
from gonghui.stations.models import Position
from tests.conftest import NOW
from tests.insurance.scenario import cover_member_a, new_plan
from tests.stations.helpers import STAFF as STATIONS_STAFF
from tests.stations.helpers import position as stations_position
from tests.web.routes import all_routes
from tests.world import PASSWORD, SECURITY_SETUP, World, csrf_of, login

ANYONE = "anyone"  # public, no login needed
R = Role
STAFF = {R.FEDERATION_STAFF, R.ADMIN}
ROLL_KEEPERS = {R.UNIT_OFFICER, *STAFF}
CARD_VIEWERS = {*ROLL_KEEPERS, R.BANK_OPERATOR}
IMPORTERS = CARD_VIEWERS
ALL_ROLES = set(Role)
CLAIM_VIEWERS = {R.MEMBER, R.UNIT_OFFICER, R.INSURER_ADJUSTER, *STAFF}
CLAIM_FILERS = {R.MEMBER, R.UNIT_OFFICER}
BALANCE_SENDERS = {R.BANK_OPERATOR, *STAFF}
FIGURE_VIEWERS = {R.BANK_OPERATOR, R.INSURER_ADJUSTER, *STAFF}
# The federation-wide figures (payouts by unit and month): not a bank's, which sees only its
# own pass rates on the assessments page (issue 13.5).
DASHBOARD_VIEWERS = {R.INSURER_ADJUSTER, *STAFF}
WALLET_USERS = {R.MEMBER, R.INSURED}
WALLET_OPERATORS = {R.INSURANCE_AGENCY, R.ADMIN}
STATION_VIEWERS = {R.STATION_MANAGER, *STAFF}

POLICY: dict[tuple[str, str], set[Role] | str] = {
    ("GET", "/"): ANYONE,
    ("GET", "/login"): ANYONE,
    ("POST", "/login"): ANYONE,
    # The second step of a login: only a browser that just passed the password gets a form.
    ("GET", "/login/2fa"): ANYONE,
    ("POST", "/login/2fa"): ANYONE,
    ("POST", "/logout"): ANYONE,
    ("GET", "/activate"): ANYONE,
    ("POST", "/activate"): ANYONE,
    ("GET", "/health"): ANYONE,
    ("GET", "/ready"): ANYONE,
    ("GET", "/metrics"): ANYONE,
    ("GET", "/static"): ANYONE,
    ("GET", "/favicon.ico"): ANYONE,
    ("GET", "/home"): ALL_ROLES,
    ("GET", "/account/sessions"): ALL_ROLES,
    ("POST", "/account/sessions/{session_id}/end"): ALL_ROLES,
    ("POST", "/account/sessions/end-others"): ALL_ROLES,
    ("GET", "/account/password"): ALL_ROLES,
    ("POST", "/account/password"): ALL_ROLES,
    ("GET", "/account/2fa"): ALL_ROLES,
    ("POST", "/account/2fa/start"): ALL_ROLES,
    ("POST", "/account/2fa/confirm"): ALL_ROLES,
    ("GET", "/me"): {R.MEMBER},
    ("GET", "/services"): ALL_ROLES,
    ("GET", "/me/card"): {R.MEMBER},
    ("GET", "/card/verify"): ANYONE,
    ("GET", "/messages"): ALL_ROLES,
    ("POST", "/messages/read"): ALL_ROLES,
    ("POST", "/preferences/elder"): ALL_ROLES,
    ("GET", "/join"): ANYONE,
    ("POST", "/join"): ANYONE,
    ("GET", "/join/sent"): ANYONE,
    ("GET", "/join/applications"): ROLL_KEEPERS,
    ("POST", "/join/applications/{application_id}/approve"): ROLL_KEEPERS,
    ("POST", "/join/applications/{application_id}/return"): ROLL_KEEPERS,
    ("GET", "/members"): ROLL_KEEPERS,
    ("GET", "/members/{member_id}"): ROLL_KEEPERS,
    ("POST", "/members/{member_id}/status"): ROLL_KEEPERS,
    ("POST", "/members/{member_id}/activation-code"): ROLL_KEEPERS,
    ("GET", "/units"): ROLL_KEEPERS,
    ("GET", "/units/{unit_id}"): ROLL_KEEPERS,
    ("GET", "/cards"): CARD_VIEWERS,
    ("POST", "/cards/{card_id}/status"): {R.BANK_OPERATOR, *STAFF},
    ("GET", "/imports"): IMPORTERS,
    ("POST", "/imports"): IMPORTERS,
    ("GET", "/imports/templates/{kind}.xlsx"): IMPORTERS,
    ("GET", "/exports/{kind}.xlsx"): IMPORTERS,
    ("GET", "/admin/users"): {R.ADMIN},
    ("POST", "/admin/users"): {R.ADMIN},
    ("POST", "/admin/users/{user_id}/sessions/end"): {R.ADMIN},
    ("GET", "/admin/tokens"): {R.SECURITY_ADMIN},
    ("GET", "/admin/security"): {R.SECURITY_ADMIN},
    ("POST", "/admin/security/users"): {R.SECURITY_ADMIN},
    ("POST", "/admin/security/users/{user_id}/role"): {R.SECURITY_ADMIN},
    ("POST", "/admin/security/users/{user_id}/2fa/reset"): {R.SECURITY_ADMIN},
    ("GET", "/admin/banks"): STAFF,
    ("POST", "/admin/banks"): STAFF,
    ("POST", "/admin/banks/{bank_id}"): STAFF,
    ("POST", "/admin/banks/{bank_id}/retire"): STAFF,
    ("GET", "/setup"): STAFF,
    ("GET", "/admin/jobs"): {R.ADMIN},
    ("POST", "/admin/jobs/{name}/run"): {R.ADMIN},
    ("POST", "/admin/jobs/{name}/pause"): {R.ADMIN},
    ("POST", "/admin/jobs/{name}/resume"): {R.ADMIN},
    ("GET", "/api/v1/setup"): STAFF,
    ("GET", "/api/v1/members/banks"): STAFF,
    ("POST", "/api/v1/members/banks"): STAFF,
    ("POST", "/api/v1/members/banks/{bank_id}"): STAFF,
    ("POST", "/api/v1/members/banks/{bank_id}/retire"): STAFF,
    ("GET", "/api/v1/insurance/plans"): STAFF,
    ("POST", "/api/v1/insurance/plans"): STAFF,
    ("POST", "/api/v1/insurance/plans/{plan_id}/units"): STAFF,
    ("POST", "/api/v1/insurance/plans/{plan_id}/versions"): STAFF,
    ("GET", "/insurance/plans"): STAFF,
    ("POST", "/insurance/plans"): STAFF,
    ("GET", "/insurance/plans/{plan_id}"): STAFF,
    ("POST", "/insurance/plans/{plan_id}/units"): STAFF,
    ("POST", "/insurance/plans/{plan_id}/versions"): STAFF,
    ("POST", "/admin/tokens"): {R.SECURITY_ADMIN},
    ("POST", "/admin/tokens/{token_id}/revoke"): {R.SECURITY_ADMIN},
    ("GET", "/admin/audit"): {R.AUDIT_ADMIN},
    ("GET", "/admin/audit/export.xlsx"): {R.AUDIT_ADMIN},
    ("GET", "/admin/audit/export.csv"): {R.AUDIT_ADMIN},
    ("GET", "/me/consents"): {R.MEMBER},
    ("POST", "/me/consents/{purpose}"): {R.MEMBER},
    ("GET", "/me/data"): {R.MEMBER},
    ("GET", "/me/data.json"): {R.MEMBER},
    ("GET", "/me/data.xlsx"): {R.MEMBER},
    ("GET", "/retirement"): ANYONE,
    ("GET", "/retirement/me"): {R.MEMBER},
    ("GET", "/retirement/impact"): ROLL_KEEPERS,
    ("GET", "/retirement/impact.xlsx"): ROLL_KEEPERS,
    ("POST", "/retirement/impact/export"): ROLL_KEEPERS,
    # A task is its starter's (and admins'): anyone signed in may ask; others' answer 404.
    ("GET", "/jobs/tasks/{task_id}"): ALL_ROLES,
    ("GET", "/jobs/tasks/{task_id}/result"): ALL_ROLES,
    ("GET", "/api/v1/jobs/tasks/{task_id}"): ALL_ROLES,
    ("POST", "/retirement/impact/refresh"): ROLL_KEEPERS,
    ("GET", "/api/v1/openapi.json"): ANYONE,
    ("GET", "/api/v1/health"): ANYONE,
    ("GET", "/api/v1/me"): ALL_ROLES,
    ("GET", "/api/v1/members/units"): ROLL_KEEPERS,
    ("GET", "/api/v1/members/units/{unit_id}"): ROLL_KEEPERS,
    ("GET", "/api/v1/members"): ROLL_KEEPERS,
    ("GET", "/api/v1/members/me"): {R.MEMBER},
    ("GET", "/api/v1/members/{member_id}"): ROLL_KEEPERS,
    ("POST", "/api/v1/members/{member_id}/status"): ROLL_KEEPERS,
    ("GET", "/api/v1/members/cards"): CARD_VIEWERS,
    ("POST", "/api/v1/members/imports"): IMPORTERS,
    # The members API's paths from before its prefix redirect anyone (308) to the new path, which
    # asks for the role (members/api_moved.py).
    ("GET", "/api/v1/units"): ANYONE,
    ("GET", "/api/v1/units/{unit_id}"): ANYONE,
    ("GET", "/api/v1/cards"): ANYONE,
    ("POST", "/api/v1/imports"): ANYONE,
    ("GET", "/api/v1/banks"): ANYONE,
    ("POST", "/api/v1/banks"): ANYONE,
    ("POST", "/api/v1/banks/{bank_id}"): ANYONE,
    ("POST", "/api/v1/banks/{bank_id}/retire"): ANYONE,
    ("GET", "/insurance/me"): {R.MEMBER},
    ("GET", "/insurance/claims"): CLAIM_VIEWERS,
    ("GET", "/insurance/claims/new"): CLAIM_FILERS,
    ("POST", "/insurance/claims"): CLAIM_FILERS,
    ("GET", "/insurance/claims/{claim_id}"): CLAIM_VIEWERS,
    ("POST", "/insurance/claims/{claim_id}/documents"): CLAIM_FILERS,
    ("POST", "/insurance/claims/{claim_id}/submit"): CLAIM_FILERS,
    ("POST", "/insurance/claims/{claim_id}/withdraw"): CLAIM_FILERS,
    ("POST", "/insurance/claims/{claim_id}/decision"): {R.INSURER_ADJUSTER},
    ("POST", "/insurance/claims/{claim_id}/payment"): {R.INSURER_ADJUSTER},
    ("GET", "/insurance/documents/{document_id}"): CLAIM_VIEWERS,
    ("GET", "/insurance/balances"): BALANCE_SENDERS,
    ("POST", "/insurance/balances"): BALANCE_SENDERS,
    ("GET", "/insurance/assessments"): FIGURE_VIEWERS,
    ("POST", "/insurance/assessments"): STAFF,
    ("GET", "/insurance/dashboard"): DASHBOARD_VIEWERS,
    ("GET", "/insurance/dashboard.xlsx"): DASHBOARD_VIEWERS,
    ("POST", "/insurance/dashboard/refresh"): DASHBOARD_VIEWERS,
    ("POST", "/api/v1/insurance/balances"): BALANCE_SENDERS,
    ("POST", "/api/v1/insurance/assessments"): STAFF,
    ("POST", "/api/v1/insurance/estimate"): CLAIM_VIEWERS,
    ("GET", "/api/v1/insurance/cards/{card_no}/standing"): CLAIM_VIEWERS | FIGURE_VIEWERS,
    ("GET", "/api/v1/insurance/claims"): CLAIM_VIEWERS,
    ("GET", "/api/v1/insurance/claims/{claim_id}"): CLAIM_VIEWERS,
    ("GET", "/api/v1/insurance/figures"): DASHBOARD_VIEWERS,
    ("GET", "/api/v1/retirement/age"): ANYONE,
    ("GET", "/api/v1/retirement/pension"): ANYONE,
    ("GET", "/api/v1/retirement/impact"): ROLL_KEEPERS,
    ("POST", "/api/v1/retirement/impact/exports"): ROLL_KEEPERS,
    ("GET", "/wallet"): WALLET_USERS,
    ("POST", "/wallet/relatives"): WALLET_USERS,
    ("POST", "/wallet/relatives/{relationship_id}/confirm"): WALLET_USERS,
    ("POST", "/wallet/relatives/{relationship_id}/dissolve"): WALLET_USERS,
    ("POST", "/wallet/transfers"): WALLET_USERS,
    ("POST", "/wallet/transfers/{transfer_id}/accept"): WALLET_USERS,
    ("POST", "/wallet/payments"): WALLET_USERS,
    ("POST", "/wallet/usage"): WALLET_USERS,
    ("GET", "/wallet/activate"): ANYONE,
    ("POST", "/wallet/activate"): ANYONE,
    ("GET", "/wallet/regions"): WALLET_OPERATORS,
    ("POST", "/wallet/regions"): WALLET_OPERATORS,
    ("GET", "/wallet/monitor"): WALLET_OPERATORS,
    ("GET", "/wallet/settlement"): WALLET_OPERATORS,
    ("GET", "/wallet/settlement.xlsx"): WALLET_OPERATORS,
    ("GET", "/wallet/insured"): WALLET_OPERATORS,
    ("POST", "/wallet/insured"): WALLET_OPERATORS,
    ("POST", "/wallet/insured/{insured_id}/end"): WALLET_OPERATORS,
    ("POST", "/wallet/insured/{insured_id}/activation-code"): WALLET_OPERATORS,
    ("POST", "/wallet/insured/{insured_id}/move"): WALLET_OPERATORS,
    ("GET", "/api/v1/wallet/insured"): WALLET_OPERATORS,
    ("POST", "/api/v1/wallet/insured"): WALLET_OPERATORS,
    ("GET", "/api/v1/wallet/regions"): ANYONE,
    ("GET", "/api/v1/wallet/me"): WALLET_USERS,
    ("GET", "/api/v1/wallet/relatives"): WALLET_USERS,
    ("POST", "/api/v1/wallet/relatives"): WALLET_USERS,
    ("POST", "/api/v1/wallet/relatives/{relationship_id}/confirm"): WALLET_USERS,
    ("POST", "/api/v1/wallet/relatives/{relationship_id}/dissolve"): WALLET_USERS,
    ("GET", "/api/v1/wallet/history"): WALLET_USERS,
    ("POST", "/api/v1/wallet/transfers"): WALLET_USERS,
    ("POST", "/api/v1/wallet/transfers/{transfer_id}/accept"): WALLET_USERS,
    ("POST", "/api/v1/wallet/payments"): WALLET_USERS,
    ("GET", "/api/v1/wallet/settlement"): WALLET_OPERATORS,
    ("GET", "/stations"): STATION_VIEWERS,
    ("GET", "/stations/positions/{position_id}"): STATION_VIEWERS,
    ("GET", "/stations/positions/{position_id}/door"): STATION_VIEWERS,
    ("GET", "/stations/checkin"): ANYONE,
    ("POST", "/stations/checkin"): ANYONE,
    ("GET", "/stations/visits/{visit_id}"): ANYONE,
    ("POST", "/stations/visits/{visit_id}/rating"): ANYONE,
    ("POST", "/stations/visits/{visit_id}/complaint"): ANYONE,
    ("POST", "/api/v1/stations/visits/{visit_id}/complaint"): ANYONE,
    ("GET", "/stations/find"): ANYONE,
    ("GET", "/stations/evaluations"): STATION_VIEWERS,
    ("POST", "/stations/evaluations"): STAFF,
    ("GET", "/stations/evaluations/{run_id}"): STATION_VIEWERS,
    # Stations: staff and manager pages (stations/web_manage.py); station managers operate.
    ("GET", "/stations/new"): STAFF,
    ("POST", "/stations"): STAFF,
    ("GET", "/stations/positions/{position_id}/edit"): STAFF,
    ("POST", "/stations/positions/{position_id}/edit"): STAFF,
    ("POST", "/stations/positions/{position_id}/manager"): STAFF,
    ("POST", "/stations/positions/{position_id}/status"): STAFF,
    ("GET", "/stations/imports"): STAFF,
    ("POST", "/stations/imports"): STAFF,
    ("GET", "/stations/imports/template.xlsx"): STAFF,
    ("GET", "/stations/positions/{position_id}/work"): STATION_VIEWERS,
    ("POST", "/stations/positions/{position_id}/activities"): STATION_VIEWERS,
    ("POST", "/stations/positions/{position_id}/counts"): STATION_VIEWERS,
    ("GET", "/stations/positions/{position_id}/complaints"): STATION_VIEWERS,
    ("POST", "/stations/complaints/{complaint_id}/callback"): STATION_VIEWERS,
    ("POST", "/stations/complaints/{complaint_id}/close"): STATION_VIEWERS,
    ("POST", "/stations/scores/{score_id}/appeal"): STATION_VIEWERS,
    ("GET", "/stations/vehicles"): STATION_VIEWERS,
    ("POST", "/stations/vehicles"): STAFF,
    ("GET", "/stations/vehicles/{vehicle_id}"): STATION_VIEWERS,
    ("POST", "/stations/vehicles/{vehicle_id}/trips"): STATION_VIEWERS,
    ("POST", "/stations/trips/{trip_id}/completion"): STATION_VIEWERS,
    ("GET", "/stations/appeals"): STAFF,
    ("POST", "/stations/appeals/{appeal_id}/decision"): STAFF,
    ("GET", "/stations/rules"): STAFF,
    ("POST", "/stations/rules"): STAFF,
    # Stations dashboard and JSON API.
    ("GET", "/stations/dashboard"): STATION_VIEWERS,
    ("GET", "/stations/dashboard.xlsx"): STATION_VIEWERS,
    ("POST", "/stations/dashboard/refresh"): STATION_VIEWERS,
    ("GET", "/api/v1/stations/positions"): STATION_VIEWERS,
    ("GET", "/api/v1/stations/positions/{position_id}"): STATION_VIEWERS,
    ("GET", "/api/v1/stations/nearest"): ANYONE,
    ("POST", "/api/v1/stations/checkins"): ANYONE,
    ("POST", "/api/v1/stations/visits/{visit_id}/rating"): ANYONE,
    ("GET", "/api/v1/stations/dashboard"): STATION_VIEWERS,
    ("GET", "/api/v1/stations/evaluations"): STATION_VIEWERS,
    ("POST", "/api/v1/stations/evaluations"): STAFF,
    ("GET", "/api/v1/stations/evaluations/{run_id}"): STATION_VIEWERS,
}


def test_the_policy_covers_every_route_that_exists(app: FastAPI) -> None:
    assert all_routes(app) == set(POLICY)


def _insurance_case(
    db: Session, world: World, store: BalanceStore, documents: ContentStore
) -> dict[str, str]:
    """A plan, cover for member A, and a draft claim with one document."""
    plan = new_plan(db, world, "WALK", both_banks=False)
    cover_member_a(db, world, store, plan)
    member = Actor(
        user_id=None, username="m", role=Role.MEMBER, display_name="m", member_id=world.member_a
    )
    card_id = db.scalars(select(Card.id).where(Card.card_no == world.card_a)).one()
    claim = claims.open_claim(
        db,
        plan,
        member_id=world.member_a,
        card_id=card_id,
        stay=Hospitalisation("烟台山医院", date(2025, 2, 2), date(2025, 2, 6), "肺炎"),
        invoice_no="WALK-1",
        settlement=Settlement(500_000, 200_000, 300_000),
        actor=member,
        now=NOW,
    )
    document = claims.attach_document(
        db,
        claim,
        DocumentKind.INVOICE,
        "i.pdf",
        b"%PDF-1.4 walk",
        store=documents,
        actor=member,
        now=NOW,
    )
    return {
        "{claim_id}": str(claim.id),
        "{document_id}": str(document.id),
        "{card_no}": world.card_a,
        "{card_id}": str(card_id),
        "{plan_id}": str(plan.id),
        "{bank_id}": str(world.bank_qlb),
    }


def _stations_case(db: Session) -> dict[str, str]:
    found = stations_position(db, "WALK")
    ids = {"{position_id}": str(found.id), "{visit_id}": "1", "{run_id}": "1"}
    return ids | _stations_work_case(db, found)


def _stations_work_case(db: Session, found: Position) -> dict[str, str]:
    """A complaint at the walk's position, and a vehicle with a trip scheduled for today."""
    complaint = file_complaint(db, found, "饮水机坏了", now=NOW)
    vehicle = operations.create_vehicle(
        db,
        name="WALK",
        plate="",
        team="巡查队",
        manager_user_id=None,
        actor=STATIONS_STAFF,
        now=NOW,
    )
    plan = operations.TripPlan("WALK工地", "建筑工地", "芝罘区", NOW.date())
    trip = operations.schedule_trip(db, vehicle, plan, actor=STATIONS_STAFF, now=NOW)
    return {
        "{complaint_id}": str(complaint.id),
        "{vehicle_id}": str(vehicle.id),
        "{trip_id}": str(trip.id),
        "{score_id}": "1",
        "{appeal_id}": "1",
    }


def walk_cases(
    db: Session, world: World, store: BalanceStore, documents: ContentStore
) -> tuple[ApiToken, dict[str, str]]:
    """What the walk's paths need to name something real (committed): a bank's API token, a
    claim with its documents, a station's records."""
    bank = db.get(Bank, world.bank_ytb)
    assert bank is not None
    _clear, token = accounts.issue_api_token(db, bank, "walk", actor=SECURITY_SETUP, now=NOW)
    extra = _insurance_case(db, world, store, documents) | _stations_case(db)
    db.commit()
    return token, extra


def _concrete(path: str, world: World, token_id: int, extra: dict[str, str]) -> str:
    for placeholder, value in extra.items():
        path = path.replace(placeholder, value)
    return (
        path.replace("{member_id}", str(world.member_a))
        .replace("{card_id}", extra["{card_id}"])
        .replace("{unit_id}", str(world.unit_a))
        .replace("{token_id}", str(token_id))
        .replace("{kind}", "cards")
        .replace("{purpose}", "balance_sharing")
        .replace("{application_id}", "1")
        .replace("{name}", "housekeeping.purge")
        .replace("{task_id}", "1")
        .replace("/static", "/static/app.css")
    )


def _refused(response: Response) -> bool:
    sent_to_login = response.status_code == 303 and response.headers["location"].startswith(
        "/login?next="
    )
    return response.status_code in {401, 403} or sent_to_login


def _request(client: TestClient, method: str, path: str, token: str) -> Response:
    if method == "GET":
        return client.get(path, follow_redirects=False)
    is_api = path.startswith("/api/")
    headers = {"X-CSRF-Token": token} if is_api else {}
    form = {} if is_api else {"csrf_token": token}
    if path.endswith("/imports"):
        # A file no template matches: allowed callers get a 422 listing the problem.
        files = {"file": ("x.csv", io.BytesIO("甲,乙\n1,2\n".encode()), "text/csv")}
        return client.post(path, data=form, files=files, headers=headers, follow_redirects=False)
    if path.endswith("/status"):
        body = {"status": "suspended", "reason": "测试"}
        if is_api:
            return client.post(path, json=body, headers=headers, follow_redirects=False)
        return client.post(path, data={**form, **body}, follow_redirects=False)
    if path == "/login":
        body = {"username": Role.ADMIN.value, "password": PASSWORD}
        return client.post(path, data={**form, **body}, follow_redirects=False)
    body = {
        "username": "newbie",
        "password": "long-enough-1",
        "role": "federation_staff",
        "bank_id": "1",
        "name": "推送",
    }
    return client.post(path, data={**form, **body}, headers=headers, follow_redirects=False)


@pytest.mark.parametrize(
    "role", [None, *Role], ids=lambda role: role.value if role else "anonymous"
)
def test_each_role_reaches_exactly_the_routes_the_policy_grants(
    app: FastAPI,
    db: Session,
    world: World,
    store: BalanceStore,
    documents: ContentStore,
    role: Role | None,
) -> None:
    token, extra = walk_cases(db, world, store, documents)
    wrong: list[str] = []
    signed_in = _client_for(app, world, role)
    for (method, template), allowed in sorted(POLICY.items()):
        # Logging in or out changes the session: those two get a client of their own.
        fresh = template in {"/login", "/logout"}
        client = _client_for(app, world, role) if fresh else signed_in
        token_value = csrf_of(client, "/home" if role else "/login")
        response = _request(
            client, method, _concrete(template, world, token.id, extra), token_value
        )
        granted = allowed == ANYONE or (role is not None and role in allowed)
        if granted and _refused(response):
            wrong.append(f"{method} {template}: refused ({response.status_code}), policy grants it")
        if not granted and not _refused(response):
            wrong.append(f"{method} {template}: answered {response.status_code}, policy refuses it")
    assert wrong == []


def _client_for(app: FastAPI, world: World, role: Role | None) -> TestClient:
    client = TestClient(app)
    if role is not None:
        login(client, world.users[role])
    return client
