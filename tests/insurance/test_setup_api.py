"""The first-day journey through the JSON API: the same services and checks as the pages and
the CLI (banks, a plan, its units, a new version, the checklist)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from gonghui.core.auth import Role
from tests.world import World, csrf_of, login


def _staff(client: TestClient, world: World) -> dict[str, str]:
    login(client, world.users[Role.FEDERATION_STAFF])
    return {"X-CSRF-Token": csrf_of(client, "/home")}


def test_staff_register_rename_and_retire_a_bank_through_the_api(
    client: TestClient, db: Session, world: World
) -> None:
    headers = _staff(client, world)
    created = client.post(
        "/api/v1/members/banks",
        json={"code": "whb", "name": "威海银行", "prefixes": ["621777"]},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    bank = created.json()
    assert (bank["code"], bank["prefixes"], bank["retired_on"]) == ("WHB", ["621777"], None)

    clash = client.post(
        "/api/v1/members/banks",
        json={"code": "WHC", "name": "另一家", "prefixes": ["62177"]},
        headers=headers,
    )
    assert clash.status_code == 409
    assert clash.json()["error"]["code"] == "prefix_taken"

    renamed = client.post(
        f"/api/v1/members/banks/{bank['id']}",
        json={"name": "威海市商业银行", "prefixes": ["621777", "621778"]},
        headers=headers,
    )
    assert renamed.json()["name"] == "威海市商业银行"
    assert renamed.json()["prefixes"] == ["621777", "621778"]

    retired = client.post(f"/api/v1/members/banks/{bank['id']}/retire", headers=headers)
    assert retired.json()["retired_on"] == "2025-02-10"
    again = client.post(f"/api/v1/members/banks/{bank['id']}/retire", headers=headers)
    assert again.status_code == 409
    listed = {b["code"]: b["retired_on"] for b in client.get("/api/v1/members/banks").json()}
    assert listed["WHB"] == "2025-02-10"
    assert listed["YTB"] is None


def test_staff_create_a_plan_enrol_its_units_and_amend_it_through_the_api(
    client: TestClient, world: World
) -> None:
    headers = _staff(client, world)
    created = client.post(
        "/api/v1/insurance/plans",
        json={
            "code": "api1",
            "name": "接口计划",
            "insurer": "某保险公司",
            "bank_codes": ["YTB"],
            "effective_from": "2025-01-01",
        },
        headers=headers,
    )
    assert created.status_code == 201, created.text
    plan = created.json()
    assert (plan["code"], plan["version"], plan["enrolled_units"]) == ("API1", 1, 0)

    enrolled = client.post(
        f"/api/v1/insurance/plans/{plan['id']}/units",
        json={"on": "2025-01-01", "credit_codes": [world.unit_a_code]},
        headers=headers,
    )
    assert enrolled.json() == {"changed": 1, "enrolled_on_date": 1}
    nothing = client.post(
        f"/api/v1/insurance/plans/{plan['id']}/units", json={"on": "2025-01-01"}, headers=headers
    )
    assert nothing.status_code == 422

    preview = client.post(
        f"/api/v1/insurance/plans/{plan['id']}/versions",
        json={"effective_from": "2025-03-01", "threshold": "2500", "dry_run": True},
        headers=headers,
    )
    changed = [c for c in preview.json()["changes"] if c["changed"]]
    assert preview.json()["version"] is None
    assert changed == [
        {"label": "达标日均余额", "before": "¥2,000.00", "after": "¥2,500.00", "changed": True}
    ]
    published = client.post(
        f"/api/v1/insurance/plans/{plan['id']}/versions",
        json={"effective_from": "2025-03-01", "threshold": "2500"},
        headers=headers,
    )
    assert published.json()["version"] == 2
    backdated = client.post(
        f"/api/v1/insurance/plans/{plan['id']}/versions",
        json={"effective_from": "2025-01-15", "cap": "60000"},
        headers=headers,
    )
    assert backdated.status_code == 422
    assert "不能早于今天" in backdated.json()["error"]["message"]


def test_the_checklist_is_staff_only_and_names_what_is_missing(
    client: TestClient, world: World
) -> None:
    headers = _staff(client, world)
    steps = {step["key"]: step for step in client.get("/api/v1/setup", headers=headers).json()}
    assert steps["banks"]["done"] is True
    assert steps["plan"]["done"] is False
    assert steps["plan"]["link"] == "/insurance/plans"
    assert steps["keys"]["done"] is False
    client.post("/logout", data={"csrf_token": headers["X-CSRF-Token"]})
    login(client, world.users[Role.BANK_OPERATOR])
    assert client.get("/api/v1/setup").status_code == 403
