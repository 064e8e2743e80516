"""PIPL consents: given and withdrawn separately, versioned, honoured from the next period."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from gonghui.consents import service as consents
from gonghui.consents.models import Consent
from gonghui.consents.rules import Purpose, Subject, counts_for_period
from gonghui.core.auth import Actor, Role
from gonghui.core.errors import InvalidInput
from gonghui.core.pii import IdentityVault
from gonghui.insurance.assessment import assess
from gonghui.insurance.models import Coverage
from gonghui.insurance.store import BalanceStore
from tests.conftest import NOW
from tests.insurance.scenario import close_january, new_plan, send_file
from tests.insurance.test_claims import new_claim
from tests.wallet.scenario import build_family
from tests.world import SETUP, World, login, post_form

MEMBER = Subject.MEMBER


def _member_a(world: World) -> Actor:
    return Actor(
        user_id=None, username="a", role=Role.MEMBER, display_name="a", member_id=world.member_a
    )


@pytest.mark.parametrize(
    ("withdrawn", "period_start", "counts"),
    [
        (None, date(2025, 3, 1), True),
        # 23:30 on 28 Feb in Beijing is still February: March is the next period.
        (datetime(2025, 2, 28, 15, 30, tzinfo=UTC), date(2025, 3, 1), False),
        # 00:30 on 1 March in Beijing: March had begun, it is finished as consented.
        (datetime(2025, 2, 28, 16, 30, tzinfo=UTC), date(2025, 3, 1), True),
    ],
)
def test_a_withdrawal_counts_from_the_next_period(
    withdrawn: datetime | None, period_start: date, *, counts: bool
) -> None:
    assert counts_for_period(withdrawn, period_start) is counts


def test_the_member_gives_and_withdraws_each_consent_on_their_page(
    client: TestClient, db: Session, world: World
) -> None:
    login(client, "member")
    page = client.get("/me/consents").text
    assert "会员卡日余额共享（第1版）" in page
    assert "医疗材料处理（第1版）" in page
    answer = post_form(client, "/me/consents/balance_sharing", {"decision": "give"})
    assert answer.status_code == 303  # type: ignore[attr-defined]
    assert consents.has_consent(db, MEMBER, world.member_a, Purpose.BALANCE_SHARING)
    post_form(client, "/me/consents/medical_documents", {"decision": "withdraw"})
    assert not consents.has_consent(db, MEMBER, world.member_a, Purpose.MEDICAL_DOCUMENTS)
    withdrawn = db.scalars(
        select(Consent).where(
            Consent.subject_id == world.member_a, Consent.purpose == Purpose.MEDICAL_DOCUMENTS
        )
    ).one()
    assert (withdrawn.version, withdrawn.withdrawn_at) == (1, NOW)
    assert withdrawn.withdrawn_by is not None
    assert withdrawn.withdrawn_by.startswith("member(")
    again = client.get("/me/consents").text
    assert "已撤回《医疗材料处理》。撤回后不能再提交新的理赔" in again
    assert again.count("撤回同意") == 1  # balance sharing given, medical documents not


def test_a_claim_cannot_be_opened_without_the_medical_documents_consent(
    db: Session, world: World, store: BalanceStore
) -> None:
    plan = new_plan(db, world)
    send_file(db, store, world.bank_ytb, [f"{world.card_a},2024-12-31,3000.00"])
    close_january(db, world, store, "3000.00")
    assess(db, plan, date(2025, 1, 1), actor=SETUP, now=NOW, store=store)
    consents.withdraw(db, MEMBER, world.member_a, Purpose.MEDICAL_DOCUMENTS, actor=SETUP, now=NOW)
    with pytest.raises(InvalidInput, match="同意《医疗材料处理》") as refused:
        new_claim(db, world, plan)
    assert refused.value.code == "consent_required"
    consents.give(
        db, MEMBER, world.member_a, Purpose.MEDICAL_DOCUMENTS, actor=_member_a(world), now=NOW
    )
    assert new_claim(db, world, plan).member_id == world.member_a


def test_the_assessment_skips_a_card_whose_owner_withdrew_before_the_period(
    db: Session, world: World, store: BalanceStore
) -> None:
    plan = new_plan(db, world)
    send_file(db, store, world.bank_ytb, [f"{world.card_a},2024-12-31,3000.00"])
    close_january(db, world, store, "3000.00")
    consents.give(
        db, MEMBER, world.member_a, Purpose.BALANCE_SHARING, actor=SETUP, now=NOW.replace(year=2024)
    )
    consents.withdraw(
        db,
        MEMBER,
        world.member_a,
        Purpose.BALANCE_SHARING,
        actor=SETUP,
        now=datetime(2024, 12, 20, tzinfo=UTC),
    )
    summary = assess(db, plan, date(2025, 1, 1), actor=SETUP, now=NOW, store=store)
    assert summary.cards_assessed == 1  # card B only
    covered = db.scalars(select(Coverage.member_id).where(Coverage.plan_id == plan.id)).all()
    assert world.member_a not in covered


def test_a_withdrawal_inside_the_period_does_not_stop_its_assessment(
    db: Session, world: World, store: BalanceStore
) -> None:
    plan = new_plan(db, world)
    send_file(db, store, world.bank_ytb, [f"{world.card_a},2024-12-31,3000.00"])
    close_january(db, world, store, "3000.00")
    consents.withdraw(
        db, MEMBER, world.member_a, Purpose.BALANCE_SHARING, actor=SETUP, now=NOW
    )  # nothing held: nothing recorded, nothing changes
    consents.give(db, MEMBER, world.member_a, Purpose.BALANCE_SHARING, actor=SETUP, now=NOW)
    consents.withdraw(
        db,
        MEMBER,
        world.member_a,
        Purpose.BALANCE_SHARING,
        actor=SETUP,
        now=datetime(2025, 1, 15, tzinfo=UTC),
    )
    summary = assess(db, plan, date(2025, 1, 1), actor=SETUP, now=NOW, store=store)
    assert summary.cards_assessed == 2


def test_declaring_a_relative_records_the_commitment_letter_consent(
    db: Session, world: World, vault: IdentityVault
) -> None:
    family = build_family(db, world, vault, NOW)
    giver = family.giver
    assert consents.has_consent(db, Subject.INSURED, giver.id, Purpose.WALLET_COMMITMENT)
    consents.withdraw(
        db, Subject.INSURED, giver.id, Purpose.WALLET_COMMITMENT, actor=SETUP, now=NOW
    )
    assert not consents.has_consent(db, Subject.INSURED, giver.id, Purpose.WALLET_COMMITMENT)
    assert family.mother.id != giver.id  # the relationships declared before still stand


def test_my_data_shows_what_is_held_and_who_saw_the_full_id_number(
    client: TestClient, world: World
) -> None:
    login(client, "unit_officer")
    client.get(f"/members/{world.member_a}")
    client.cookies.clear()
    login(client, "member")
    page = client.get("/me/data")
    assert page.status_code == 200
    assert "谁查看过我的完整身份证号" in page.text
    assert "unit_officer(" in page.text
    assert world.card_a in page.text
    assert world.member_a_id_number not in page.text  # masked, as on 我的档案
    body = json.loads(client.get("/me/data.json").content)
    assert set(body["sections"]) >= {"profile", "cards", "cover", "claims", "consents", "id_views"}
    (view,) = body["sections"]["id_views"]["rows"]
    assert view["来源地址"] == "testclient"
    assert view["查看人"].startswith("unit_officer(")
    consent_rows = body["sections"]["consents"]["rows"]
    assert [row["事项"] for row in consent_rows] == ["医疗材料处理"]
    workbook = load_workbook(io.BytesIO(client.get("/me/data.xlsx").content))
    assert "谁查看过我的完整身份证号"[:31] in workbook.sheetnames
