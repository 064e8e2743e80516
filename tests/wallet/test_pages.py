"""The wallet page as each party reads it (issue 13.7)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gonghui.core.auth import Role, hash_password
from gonghui.core.pii import IdentityVault
from gonghui.members.models import User
from gonghui.wallet.models import Relationship
from gonghui.wallet.rules import RelationshipStatus
from tests.conftest import NOW
from tests.wallet.scenario import Family, build_family, fund
from tests.world import PASSWORD, World, csrf_of, login, post_form


@pytest.fixture
def family(db: Session, world: World, vault: IdentityVault) -> Family:
    family = build_family(db, world, vault, NOW)
    fund(db, family, 300_000, NOW)
    db.execute(
        update(User).where(User.username == "mother").values(password_hash=hash_password(PASSWORD))
    )
    db.commit()
    return family


def _send(client: TestClient, family: Family, amount: str = "500") -> None:
    data = {
        "recipient_id": str(family.mother.id),
        "amount": amount,
        "method": "password",
        "password": "135790",
        "idempotency_key": f"send-{amount}",
    }
    assert post_form(client, "/wallet/transfers", data).status_code == 303


def _switch(client: TestClient, username: str) -> None:
    client.post("/logout", data={"csrf_token": csrf_of(client, "/home")})
    login(client, username)


def _relatives(page: str) -> str:
    return page[page.index("<h2>亲属共济关系</h2>") :]


def _history(page: str) -> str:
    return page[page.index("<h2>资金明细</h2>") :]


def test_each_side_sees_the_relation_from_its_own_side(
    client: TestClient, world: World, family: Family
) -> None:
    login(client, world.users[Role.MEMBER])
    mine = _relatives(client.get("/wallet").text)
    assert '<td data-label="关系">父母</td>' in mine  # his mother
    _switch(client, "mother")
    hers = _relatives(client.get("/wallet").text)
    assert '<td data-label="关系">子女</td>' in hers  # her son, not 父母
    assert "父母" not in hers.split("<h3>")[0]


def test_the_history_says_what_became_of_a_transfer_and_says_things_once(
    client: TestClient, world: World, family: Family
) -> None:
    login(client, world.users[Role.MEMBER])
    history = _history(client.get("/wallet").text)
    assert history.count("个人账户划入") == 1  # was: 个人账户划入 ¥3,000.00 个人账户划入
    _send(client, family)
    assert "转给王桂兰（待对方接收）" in _history(client.get("/wallet").text)
    _switch(client, "mother")
    page = client.get("/wallet").text
    transfer_id = page.split('action="/wallet/transfers/', 1)[1].split("/", 1)[0]
    post_form(client, f"/wallet/transfers/{transfer_id}/accept", {"idempotency_key": "acc"})
    _switch(client, world.users[Role.MEMBER])
    history = _history(client.get("/wallet").text)
    assert "转出（待对方接收）" not in history
    assert "转给王桂兰（对方已接收）" in history


def test_the_giver_is_told_a_pending_transfer_cannot_be_recalled_and_when_it_returns(
    client: TestClient, world: World, family: Family
) -> None:
    login(client, world.users[Role.MEMBER])
    _send(client, family)
    box = client.get("/wallet").text
    box = box[box.index('data-testid="outgoing"') :]
    assert "不能撤回" in box
    # Sent at 09:00 Beijing time on 2025-02-10: back at 06:00 the next day if not accepted.
    assert "2025-02-11 06:00" in box


def test_dissolving_asks_for_confirmation_and_says_what_returns_to_whom(
    client: TestClient, db: Session, world: World, family: Family
) -> None:
    login(client, world.users[Role.MEMBER])
    _send(client, family)
    _switch(client, "mother")
    page = client.get("/wallet").text
    transfer_id = page.split('action="/wallet/transfers/', 1)[1].split("/", 1)[0]
    post_form(client, f"/wallet/transfers/{transfer_id}/accept", {"idempotency_key": "acc"})
    relatives = _relatives(client.get("/wallet").text)
    assert "您尚未使用的来自林建国的共济额度 ¥500.00 将退回林建国的个人账户" in relatives
    relationship_id = relatives.split('action="/wallet/relatives/', 1)[1].split("/", 1)[0]
    refused = post_form(client, f"/wallet/relatives/{relationship_id}/dissolve", {})
    assert refused.status_code == 303
    assert "请勾选确认" in client.get("/wallet").text
    status = db.scalar(select(Relationship.status).where(Relationship.id == int(relationship_id)))
    assert status is RelationshipStatus.ACTIVE
    post_form(client, f"/wallet/relatives/{relationship_id}/dissolve", {"confirm": "yes"})
    done = client.get("/wallet").text
    assert "共济关系已解除，¥500.00 已退回林建国的个人账户" in done
    db.expire_all()
    status = db.scalar(select(Relationship.status).where(Relationship.id == int(relationship_id)))
    assert status is RelationshipStatus.DISSOLVED
