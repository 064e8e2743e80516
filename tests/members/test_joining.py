"""网上入会: a worker not on the roll applies; the unit's officer approves (the member joins
the roll and gets an activation code) or returns it with a reason."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from gonghui.core.pii import IdentityVault
from gonghui.members.models import Member, MemberApplication
from gonghui.members.rules import ApplicationStatus, EmploymentStatus
from tests.world import World, csrf_of, login, make_id, post_form

NEW_ID = make_id("370602", "19950308", "417")


def _apply(client: TestClient, **changes: str) -> object:
    form = {
        "employer": "烟台甲机械有限公司",
        "name": "孙晓燕",
        "id_number": NEW_ID,
        "phone": "13905350417",
        "post_type": "production",
        "csrf_token": csrf_of(client, "/join"),
    } | changes
    return client.post("/join", data=form, follow_redirects=False)


def test_a_refused_application_comes_back_with_the_values_and_a_message_by_each_field(
    client: TestClient, db: Session
) -> None:
    page = _apply(client, id_number="37060219950308417", phone="1390535", employer="没有这家")
    assert page.status_code == 422
    assert "身份证号应为18位" in page.text
    assert "手机号应为11位中国大陆手机号码" in page.text
    assert "没有找到该单位" in page.text
    assert 'value="孙晓燕"' in page.text
    assert 'value="1390535"' in page.text
    assert db.scalars(select(MemberApplication)).first() is None


def test_the_officer_approves_and_the_worker_joins_the_roll_with_an_activation_code(
    client: TestClient, db: Session, world: World, vault: IdentityVault
) -> None:
    employers = client.get("/join", params={"find": "甲机械"}).text
    assert "烟台甲机械有限公司" in employers
    assert _apply(client).headers["location"] == "/join/sent"
    again = _apply(client)
    assert again.status_code == 422
    assert "已有待审核的申请" in again.text
    login(client, "unit_officer")
    assert "新的入会申请" in client.get("/home").text
    listing = client.get("/join/applications").text
    assert "孙晓燕" in listing
    assert NEW_ID not in listing  # the list shows the masked number
    application = db.scalars(select(MemberApplication)).one()
    approved = post_form(client, f"/join/applications/{application.id}/approve", {})
    assert approved.status_code == 200
    code = re.search(r'data-testid="new-code">([^<]+)<', approved.text)
    assert code, approved.text
    member = db.scalars(select(Member).where(Member.id_hash == vault.search_hash(NEW_ID))).one()
    assert (member.name, member.unit_id) == ("孙晓燕", world.unit_a)
    assert member.employment_status is EmploymentStatus.EMPLOYED
    db.refresh(application)
    assert application.status is ApplicationStatus.APPROVED
    assert application.member_id == member.id
    twice = post_form(client, f"/join/applications/{application.id}/approve", {})
    assert "该申请已通过，不能再处理" in twice.text


def test_a_return_needs_a_reason_and_keeps_what_the_officer_typed(
    client: TestClient, db: Session
) -> None:
    _apply(client)
    login(client, "unit_officer")
    application = db.scalars(select(MemberApplication)).one()
    path = f"/join/applications/{application.id}/return"
    refused = post_form(client, path, {"reason": "  "})
    assert refused.status_code == 422
    assert "退回申请请填写原因" in refused.text
    done = post_form(client, path, {"reason": "本单位无此职工，请核对单位"})
    assert done.status_code == 303
    db.refresh(application)
    assert application.status is ApplicationStatus.RETURNED
    assert application.reason == "本单位无此职工，请核对单位"


def test_another_units_officer_cannot_see_or_decide_the_application(
    client: TestClient, db: Session, world: World
) -> None:
    _apply(client, employer="烟台乙建设有限公司")
    login(client, "unit_officer")  # the officer of unit A
    assert "孙晓燕" not in client.get("/join/applications").text
    application = db.scalars(select(MemberApplication)).one()
    assert post_form(client, f"/join/applications/{application.id}/approve", {}).status_code == 404
