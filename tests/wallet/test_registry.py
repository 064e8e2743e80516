"""The agency's insured registry: relatives who are not on the roll, members linked by their ID
number, search, and ending or moving an insurance (which ends the person's relationships)."""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from gonghui.core.auth import Role
from gonghui.core.pii import IdentityVault
from gonghui.wallet import regions
from gonghui.wallet.models import Insured, Relationship
from gonghui.wallet.rules import RelationshipStatus
from tests.conftest import NOW
from tests.wallet.scenario import build_family
from tests.world import World, csrf_of, login, make_id, post_form

AUNT_ID = make_id(region="510104", birth="19600412", sequence="246")


def _flash(client: TestClient) -> str:
    page = client.get("/wallet/insured").text
    return page.split('class="flash', 1)[1].split("</div>", 1)[0] if 'class="flash' in page else ""


def _said(client: TestClient, path: str, data: dict[str, str]) -> str:
    """What the registry says to a form posted from its page: a done thing as a notice on the
    page it goes back to; a refusal inside the form, given back on the page with what was typed."""
    answer = post_form(client, path, {**data, "form_page": "/wallet/insured"})
    assert isinstance(answer, Response)
    if answer.status_code == 303:
        return _flash(client)
    assert 400 <= answer.status_code < 500, answer.text
    assert "<title>参保登记" in answer.text  # the registry's own page, not an error page
    form = answer.text.split(f'action="{path}"', 1)[1].split("</form>", 1)[0]
    for name, value in data.items():
        if name in ("name", "id_number", "ended_on") and value.strip():
            assert f'value="{value}"' in form, name  # what was typed comes back
    return form.split('role="alert">', 1)[1].split("</p>", 1)[0]


def _register(client: TestClient, name: str, id_number: str, region: str = "510100") -> str:
    data = {"name": name, "id_number": id_number, "scheme": "resident", "region": region}
    return _said(client, "/wallet/insured", data)


def test_the_agency_registers_a_relative_who_is_not_a_member(
    client: TestClient, db: Session, world: World
) -> None:
    login(client, world.users[Role.INSURANCE_AGENCY])
    assert "已登记参保人：刘秀英" in _register(client, "刘秀英", AUNT_ID)
    person = db.scalars(select(Insured).where(Insured.name == "刘秀英")).one()
    assert (person.member_id, person.scheme.value, person.ended_on) == (None, "resident", None)
    assert AUNT_ID not in client.get("/wallet/insured").text  # only the mask is shown
    found = client.get("/wallet/insured", params={"q": AUNT_ID}).text
    assert person.id_masked in found
    assert "居民医保" in found
    assert "510100" in found


def test_a_member_of_the_roll_is_linked_by_their_id_number(
    client: TestClient, db: Session, world: World
) -> None:
    login(client, world.users[Role.INSURANCE_AGENCY])
    assert "已关联会员名册" in _register(client, "会员甲", world.member_a_id_number, "370600")
    person = db.scalars(select(Insured).where(Insured.name == "会员甲")).one()
    assert person.member_id == world.member_a


def test_bad_and_repeated_registrations_are_refused_in_chinese(
    client: TestClient, db: Session, world: World
) -> None:
    login(client, world.users[Role.INSURANCE_AGENCY])
    wrong_check = AUNT_ID[:-1] + ("0" if AUNT_ID[-1] != "0" else "1")
    assert "校验" in _register(client, "刘秀英", wrong_check)
    assert "请填写姓名" in _register(client, " ", AUNT_ID)
    assert "统筹区" in _register(client, "刘秀英", AUNT_ID, region="999999")
    assert db.scalars(select(Insured).where(Insured.name == "刘秀英")).first() is None
    _register(client, "刘秀英", AUNT_ID)
    assert "该身份证号已登记参保信息" in _register(client, "刘秀英", AUNT_ID)


def test_ending_an_insurance_ends_the_persons_relationships(
    client: TestClient, db: Session, world: World, vault: IdentityVault
) -> None:
    family = build_family(db, world, vault, NOW)
    db.commit()
    login(client, world.users[Role.INSURANCE_AGENCY])
    path = f"/wallet/insured/{family.mother.id}/end"
    assert "请填写终止日期" in _said(client, path, {"ended_on": ""})
    assert "自动解除共济关系1个" in _said(client, path, {"ended_on": "2025-02-09"})
    db.expire_all()
    ended = db.get(Insured, family.mother.id)
    assert ended is not None
    assert ended.ended_on is not None
    assert ended.ended_on.isoformat() == "2025-02-09"
    statuses = db.scalars(
        select(Relationship.status).where(Relationship.recipient_id == family.mother.id)
    ).all()
    assert set(statuses) == {RelationshipStatus.DISSOLVED}


def test_moving_an_insurance_to_another_region(
    client: TestClient, db: Session, world: World, vault: IdentityVault
) -> None:
    family = build_family(db, world, vault, NOW)
    db.commit()
    login(client, world.users[Role.INSURANCE_AGENCY])
    path = f"/wallet/insured/{family.mother.id}/move"
    assert "参保地未变化" in _said(client, path, {"region": "510100"})  # where she is already
    assert "已登记参保地转移，自动解除共济关系1个" in _said(client, path, {"region": "370600"})
    db.expire_all()
    moved = db.get(Insured, family.mother.id)
    assert moved is not None
    assert moved.region_id == regions.region_by_code(db, "370600").id
    statuses = db.scalars(
        select(Relationship.status).where(Relationship.recipient_id == family.mother.id)
    ).all()
    assert set(statuses) == {RelationshipStatus.DISSOLVED}


def test_the_api_registers_and_finds_an_insured_person(client: TestClient, world: World) -> None:
    login(client, world.users[Role.INSURANCE_AGENCY])
    headers = {"X-CSRF-Token": csrf_of(client, "/home")}
    body = {"name": "刘秀英", "id_number": AUNT_ID, "scheme": "resident", "region": "510100"}
    made = client.post("/api/v1/wallet/insured", json=body, headers=headers)
    assert made.status_code == 201, made.text
    assert made.json()["member_linked"] is False
    assert made.json()["region"] == "510100"
    again = client.post("/api/v1/wallet/insured", json=body, headers=headers)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "insured_exists"
    found = client.get("/api/v1/wallet/insured", params={"q": "刘秀"}).json()
    assert [person["id"] for person in found] == [made.json()["id"]]
    assert found[0]["id_masked"] != AUNT_ID


def _activate_wallet(client: TestClient, code: str, phone: str = "13600000009") -> Response:
    form = {
        "name": "刘秀英",
        "id_number": AUNT_ID,
        "phone": phone,
        "code": code,
        "region": "510100",
        "password": "aunt-pass-123",
    }
    token = csrf_of(client, "/wallet/activate")
    return client.post(
        "/wallet/activate", data={**form, "csrf_token": token}, follow_redirects=False
    )


def test_a_relative_opens_their_wallet_with_the_code_the_agency_issued(
    app: FastAPI, client: TestClient, db: Session, world: World
) -> None:
    login(client, world.users[Role.INSURANCE_AGENCY])
    _register(client, "刘秀英", AUNT_ID)
    person = db.scalars(select(Insured).where(Insured.name == "刘秀英")).one()
    relative = TestClient(app)
    assert _activate_wallet(relative, "").status_code == 422, "name and ID alone are not enough"
    issued = post_form(client, f"/wallet/insured/{person.id}/activation-code", {})
    code = re.search(r'data-testid="activation-code">([^<]+)<', issued.text)
    assert code is not None
    assert _activate_wallet(relative, code.group(1)).status_code == 303
    login(relative, "13600000009", "aunt-pass-123")
    assert relative.get("/wallet").status_code == 200


def test_wrong_wallet_codes_lock_the_activation_and_tell_the_agency(
    app: FastAPI, client: TestClient, db: Session, world: World
) -> None:
    login(client, world.users[Role.INSURANCE_AGENCY])
    _register(client, "刘秀英", AUNT_ID)
    person = db.scalars(select(Insured).where(Insured.name == "刘秀英")).one()
    issued = post_form(client, f"/wallet/insured/{person.id}/activation-code", {})
    code = re.search(r'data-testid="activation-code">([^<]+)<', issued.text)
    assert code is not None
    for attempt in range(5):
        guesser = TestClient(app, client=(f"198.51.100.{attempt}", 5000))
        assert _activate_wallet(guesser, "AAAA-AAAA", f"1350000000{attempt}").status_code == 422
    assert _activate_wallet(TestClient(app), code.group(1)).status_code == 423
    assert "医保钱包开通已锁定" in client.get("/home").text


def test_the_agencys_region_lists_are_grouped_by_province_and_searchable(
    client: TestClient, world: World
) -> None:
    # An agency picks among every pooling region of the country: the registry's and the
    # roll-out's lists are grouped by province like the member's, with codes for the staff.
    login(client, world.users[Role.INSURANCE_AGENCY])
    for path, list_id, example in (
        ("/wallet/insured", "region", ("四川省", "510100 成都市")),
        ("/wallet/regions", "code", ("北京市", "110000 北京市")),  # one not yet open
    ):
        page = client.get(path).text
        listed = page.split(f'<select id="{list_id}"', 1)[1].split("</select>", 1)[0]
        province, option = example
        assert f'<optgroup label="{province}">' in listed, path
        assert f">{option}</option>" in listed, path
        assert listed.count("<optgroup") > 10, path  # provinces, not one flat list
        assert "data-region-filter" in page, path
        assert '<script src="/static/wallet.js"></script>' in page, path
