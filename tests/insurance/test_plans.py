"""Plans over time: units enrolled and leaving on dates, banks retiring, terms amended by new
versions (what the assessment and the claims read), on the pages and from the command line."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from gonghui.cli import app as cli_app
from gonghui.core.audit import AuditEntry
from gonghui.core.errors import InvalidInput
from gonghui.core.pii import IdentityVault
from gonghui.insurance import assessment, claims, service
from gonghui.insurance.balances import Source, import_balances
from gonghui.insurance.claims_rules import payable_for
from gonghui.insurance.models import AssessmentRun, Plan, PlanVersion
from gonghui.insurance.queries import card_standing
from gonghui.insurance.rules import PeriodKind, Terms
from gonghui.insurance.store import BalanceStore
from gonghui.members import banks
from gonghui.members import service as member_service
from gonghui.members.models import Bank, Card
from gonghui.members.queries import members_by_hash, units_by_credit_code
from gonghui.members.rules import CardStatus, EmploymentStatus, PostType, parse_id_number
from gonghui.members.service import MemberRecord, UnitRecord
from tests.conftest import NOW
from tests.insurance.scenario import new_plan
from tests.world import SETUP, World, login, make_credit_code, make_id, post_form

TODAY = date(2025, 2, 10)  # NOW in Beijing


def assess(*args: Any, **kwargs: Any) -> assessment.AssessmentSummary:
    """The assessment without waiting for every bank's files to reach the period's end: these
    tests are about enrolment, banks and versions, and send only the lines they need (the
    reporting rule has its own tests in test_assessment)."""
    return assessment.assess(*args, allow_missing_banks=True, **kwargs)


IN_MARCH = datetime(2025, 3, 5, 1, 0, tzinfo=UTC)
IN_APRIL = datetime(2025, 4, 5, 1, 0, tzinfo=UTC)


def enrolled(db: Session, plan: Plan, day: date) -> set[int]:
    return service.enrolled_unit_ids(db, plan, day)


def bank_of(db: Session, bank_id: int) -> Bank:
    bank = db.get(Bank, bank_id)
    assert bank is not None
    return bank


def load_balances(
    db: Session, store: BalanceStore, bank_id: int, lines: list[str], now: datetime = NOW
) -> None:
    import_balances(
        db,
        ("卡号,日期,日终余额\n" + "\n".join(lines) + "\n").encode(),
        bank=bank_of(db, bank_id),
        filename="t.csv",
        source=Source.CLI,
        actor=SETUP,
        now=now,
        store=store,
    )


def reasons(db: Session, store: BalanceStore, plan: Plan, period_start: date) -> dict[str, str]:
    """Card number → the reasons the assessment wrote for it ('' when it qualified)."""
    run = db.scalars(
        select(AssessmentRun).where(
            AssessmentRun.plan_id == plan.id, AssessmentRun.period_start == period_start
        )
    ).one()
    with duckdb.connect() as connection:
        found = connection.execute(
            "SELECT card_no, reasons FROM read_parquet(?)", [str(store.absolute(run.results_path))]
        ).fetchall()
    return dict(found)


# Enrolment with dates


def test_a_unit_is_enrolled_from_its_joining_day_until_the_day_before_it_leaves(
    db: Session, world: World, plan: Plan
) -> None:
    assert (
        service.enroll_units(db, plan, [world.unit_b], date(2025, 3, 1), actor=SETUP, now=NOW) == 1
    )
    assert (
        service.unenroll_units(db, plan, [world.unit_a], date(2025, 4, 1), actor=SETUP, now=NOW)
        == 1
    )
    assert enrolled(db, plan, date(2023, 12, 31)) == set()
    assert enrolled(db, plan, date(2025, 2, 28)) == {world.unit_a}
    assert enrolled(db, plan, date(2025, 3, 1)) == {world.unit_a, world.unit_b}
    assert enrolled(db, plan, date(2025, 3, 31)) == {world.unit_a, world.unit_b}
    assert enrolled(db, plan, date(2025, 4, 1)) == {world.unit_b}
    # A member's page asks about one unit: the same answer on every boundary.
    for day in (date(2023, 12, 31), date(2025, 2, 28), date(2025, 3, 1), date(2025, 4, 1)):
        for unit in (world.unit_a, world.unit_b):
            assert service.unit_enrolled(db, plan, unit, day) == (unit in enrolled(db, plan, day))


def test_a_members_own_standing_says_when_their_unit_left_the_plan(
    db: Session, world: World, store: BalanceStore, plan: Plan
) -> None:
    load_balances(db, store, world.bank_ytb, [f"{world.card_a},2025-01-31,90000.00"])
    service.unenroll_units(db, plan, [world.unit_a], date(2025, 3, 31), actor=SETUP, now=NOW)
    march = card_standing(db, plan, world.card_a, date(2025, 3, 1), store=store)
    assert not march.decision.eligible
    assert [reason.value for reason in march.decision.reasons] == ["unit_not_enrolled"]
    assert card_standing(db, plan, world.card_a, date(2025, 2, 1), store=store).decision.eligible


def test_enrolling_an_enrolled_unit_again_keeps_its_date(
    db: Session, world: World, plan: Plan
) -> None:
    joined = service.enroll_units(
        db, plan, [world.unit_a, world.unit_b], date(2025, 3, 1), actor=SETUP, now=NOW
    )
    assert joined == 1
    assert enrolled(db, plan, date(2024, 6, 30)) == {world.unit_a}


def test_a_unit_that_left_joins_again_from_a_new_day(db: Session, world: World, plan: Plan) -> None:
    service.unenroll_units(db, plan, [world.unit_a], TODAY, actor=SETUP, now=NOW)
    assert world.unit_a not in enrolled(db, plan, TODAY)
    assert (
        service.enroll_units(db, plan, [world.unit_a], date(2025, 5, 1), actor=SETUP, now=NOW) == 1
    )
    assert world.unit_a not in enrolled(db, plan, date(2025, 4, 30))
    assert world.unit_a in enrolled(db, plan, date(2025, 5, 1))


def test_a_unit_that_left_and_joined_again_is_still_enrolled_on_the_days_of_its_first_spell(
    db: Session, world: World, plan: Plan
) -> None:
    # January 2025 was assessed with unit A enrolled; a re-run of that assessment, or a member
    # asking about January, must not find it "not enrolled" because it rejoined in May.
    service.unenroll_units(db, plan, [world.unit_a], TODAY, actor=SETUP, now=NOW)
    service.enroll_units(db, plan, [world.unit_a], date(2025, 5, 1), actor=SETUP, now=NOW)
    assert world.unit_a in enrolled(db, plan, date(2025, 1, 31))


def test_enrolling_all_units_keeps_the_date_of_a_unit_that_is_leaving_later(
    db: Session, world: World, plan: Plan
) -> None:
    # Unit A, enrolled since 2024, is to leave on 1 April; then staff enrol every unit from
    # today to bring in unit B. "Units already enrolled keep their date" (enroll_units).
    service.unenroll_units(db, plan, [world.unit_a], date(2025, 4, 1), actor=SETUP, now=NOW)
    service.enroll_units(db, plan, [world.unit_a, world.unit_b], TODAY, actor=SETUP, now=NOW)
    assert world.unit_a in enrolled(db, plan, date(2025, 1, 31))


def test_it_refuses_a_leaving_day_before_today(db: Session, world: World, plan: Plan) -> None:
    with pytest.raises(InvalidInput) as refused:
        service.unenroll_units(db, plan, [world.unit_a], date(2025, 2, 9), actor=SETUP, now=NOW)
    assert refused.value.message == "退出日期不能早于今天"
    assert enrolled(db, plan, TODAY) == {world.unit_a}


def test_joining_and_leaving_are_audited_and_a_no_op_is_not(
    db: Session, world: World, plan: Plan
) -> None:
    service.enroll_units(db, plan, [world.unit_a], TODAY, actor=SETUP, now=NOW)
    service.unenroll_units(db, plan, [world.unit_b], TODAY, actor=SETUP, now=NOW)
    service.unenroll_units(db, plan, [world.unit_a], date(2025, 3, 1), actor=SETUP, now=NOW)
    entries = db.scalars(
        select(AuditEntry)
        .where(AuditEntry.target_type == "plan", AuditEntry.target_id == str(plan.id))
        .order_by(AuditEntry.id)
    ).all()
    assert [(e.action, (e.after or {}).get("from")) for e in entries] == [
        ("plan.created", None),
        ("plan.units_enrolled", "2024-01-01"),
        ("plan.units_left", "2025-03-01"),
    ]


# Banks retiring


def test_a_retired_banks_cards_are_not_assessed_for_periods_starting_after_it_retired(
    db: Session, world: World, store: BalanceStore, plan: Plan
) -> None:
    service.enroll_units(db, plan, [world.unit_b], date(2024, 1, 1), actor=SETUP, now=NOW)
    banks.retire_bank(db, bank_of(db, world.bank_qlb), date(2025, 3, 1), actor=SETUP, now=NOW)
    assert service.plan_bank_ids(db, plan) == [world.bank_ytb, world.bank_qlb]
    assert service.plan_bank_ids(db, plan, date(2025, 2, 28)) == [world.bank_ytb, world.bank_qlb]
    assert service.plan_bank_ids(db, plan, date(2025, 3, 1)) == [world.bank_ytb]
    load_balances(db, store, world.bank_qlb, [f"{world.card_b},2025-02-09,9000.00"])
    assess(db, plan, date(2025, 2, 1), actor=SETUP, now=IN_MARCH, store=store)
    assess(db, plan, date(2025, 3, 1), actor=SETUP, now=IN_APRIL, store=store)
    assert set(reasons(db, store, plan, date(2025, 2, 1))) == {world.card_a, world.card_b}
    assert set(reasons(db, store, plan, date(2025, 3, 1))) == {world.card_a}


def test_a_members_own_standing_agrees_with_the_assessment_after_the_bank_retired(
    db: Session, world: World, store: BalanceStore, plan: Plan
) -> None:
    # The March assessment leaves the retired bank's cards out; the member asking about March
    # must not read that the card qualified ("computed the same way as the batch assessment").
    service.enroll_units(db, plan, [world.unit_b], date(2024, 1, 1), actor=SETUP, now=NOW)
    banks.retire_bank(db, bank_of(db, world.bank_qlb), date(2025, 3, 1), actor=SETUP, now=NOW)
    load_balances(db, store, world.bank_qlb, [f"{world.card_b},2025-02-09,9000.00"])
    assess(db, plan, date(2025, 3, 1), actor=SETUP, now=IN_APRIL, store=store)
    assert world.card_b not in reasons(db, store, plan, date(2025, 3, 1))
    standing = card_standing(db, plan, world.card_b, date(2025, 3, 1), store=store)
    assert not standing.decision.eligible


def test_it_refuses_a_plan_with_a_bank_retired_by_its_first_day(db: Session, world: World) -> None:
    banks.retire_bank(db, bank_of(db, world.bank_qlb), date(2025, 3, 1), actor=SETUP, now=NOW)
    with pytest.raises(InvalidInput) as refused:
        service.create_plan(
            db,
            code="YT2026",
            name="补充医保",
            insurer="某保险",
            terms=Terms(),
            effective_from=date(2025, 3, 1),
            bank_ids=[world.bank_ytb, world.bank_qlb],
            actor=SETUP,
            now=NOW,
        )
    assert refused.value.code == "bad_banks"


# The assessment and enrolment


def test_a_unit_that_left_before_the_period_end_has_its_cards_refused_as_not_enrolled(
    db: Session, world: World, store: BalanceStore, plan: Plan
) -> None:
    load_balances(db, store, world.bank_ytb, [f"{world.card_a},2024-12-31,3000.00"])
    service.unenroll_units(db, plan, [world.unit_a], date(2025, 2, 28), actor=SETUP, now=NOW)
    assess(db, plan, date(2025, 1, 1), actor=SETUP, now=NOW, store=store)
    assess(db, plan, date(2025, 2, 1), actor=SETUP, now=IN_MARCH, store=store)
    assert reasons(db, store, plan, date(2025, 1, 1))[world.card_a] == ""
    assert reasons(db, store, plan, date(2025, 2, 1))[world.card_a] == "unit_not_enrolled"
    standing = card_standing(db, plan, world.card_a, date(2025, 2, 1), store=store)
    assert [reason.value for reason in standing.decision.reasons] == ["unit_not_enrolled"]


def _unit_imported_later(db: Session, vault: IdentityVault, world: World) -> tuple[int, str]:
    """A unit, one employed member and a card of theirs, put on the roll after the plan."""
    code = make_credit_code("MA3C4C3")
    member_service.save_unit(
        db,
        UnitRecord("烟台丙食品有限公司", code, "食品", "莱山区", "莱山区总工会"),
        actor=SETUP,
        now=NOW,
    )
    unit = units_by_credit_code(db, {code})[code]
    id_number = make_id(sequence="353")
    member_service.save_member(
        db,
        MemberRecord(
            "王丙",
            parse_id_number(id_number, today=TODAY),
            "13700000033",
            unit.id,
            PostType.PRODUCTION,
            EmploymentStatus.EMPLOYED,
        ),
        actor=SETUP,
        now=NOW,
        vault=vault,
    )
    member = members_by_hash(db, {vault.search_hash(id_number)})[vault.search_hash(id_number)]
    card_no = "6223110000000000333"
    db.add(
        Card(
            card_no=card_no,
            bank_id=world.bank_ytb,
            member_id=member.id,
            opened_on=date(2024, 6, 1),
            closed_on=None,
            status=CardStatus.ACTIVE,
        )
    )
    db.flush()
    return unit.id, card_no


def test_a_unit_imported_after_the_plan_is_not_enrolled_until_someone_enrols_it(
    db: Session, vault: IdentityVault, world: World, store: BalanceStore, plan: Plan
) -> None:
    unit_id, card_no = _unit_imported_later(db, vault, world)
    load_balances(db, store, world.bank_ytb, [f"{card_no},2024-12-31,5000.00"])
    assess(db, plan, date(2025, 1, 1), actor=SETUP, now=NOW, store=store)
    assert reasons(db, store, plan, date(2025, 1, 1))[card_no] == "unit_not_enrolled"
    # Joining in the middle of January: enrolled on its last day, so assessed for all of it.
    service.enroll_units(db, plan, [unit_id], date(2025, 1, 15), actor=SETUP, now=NOW)
    assess(db, plan, date(2025, 1, 1), actor=SETUP, now=NOW, store=store)
    assert reasons(db, store, plan, date(2025, 1, 1))[card_no] == ""


# Amendments


def test_it_amends_a_plan_by_a_new_version_from_today_or_later(
    db: Session, world: World, plan: Plan
) -> None:
    terms = replace(Terms(), threshold_fen=300_000)
    version = service.amend_plan(db, plan, terms, TODAY, actor=SETUP, now=NOW)
    assert (version.version, version.effective_from, version.threshold_fen) == (2, TODAY, 300_000)
    assert service.version_on(db, plan, date(2025, 2, 9)).version == 1
    assert service.version_on(db, plan, TODAY).version == 2
    entry = db.scalars(
        select(AuditEntry).where(AuditEntry.action == "plan.amended").order_by(AuditEntry.id.desc())
    ).first()
    assert entry is not None
    assert (entry.before or {})["threshold_fen"] == 200_000
    assert (entry.after or {})["threshold_fen"] == 300_000
    assert (entry.after or {})["version"] == 2


@pytest.mark.parametrize(
    ("day", "terms", "message"),
    [
        (date(2025, 2, 9), replace(Terms(), threshold_fen=1), "新版本的生效日期不能早于今天"),
        (date(2025, 3, 31), replace(Terms(), threshold_fen=1), "不能早于第2版（2025-04-01）"),
        (date(2025, 5, 1), replace(Terms(), threshold_fen=250_000), "条款与第2版相同，无需新版本"),
        (date(2025, 5, 1), replace(Terms(), ratio_bp=10_001), "赔付比例应在0%至100%之间"),
    ],
)
def test_it_refuses_an_amendment_reaching_back_or_changing_nothing(
    db: Session, world: World, plan: Plan, day: date, terms: Terms, message: str
) -> None:
    second = replace(Terms(), threshold_fen=250_000)
    service.amend_plan(db, plan, second, date(2025, 4, 1), actor=SETUP, now=NOW)
    with pytest.raises(InvalidInput) as refused:
        service.amend_plan(db, plan, terms, day, actor=SETUP, now=NOW)
    assert message in refused.value.message
    assert len(service.versions_of(db, plan)) == 2


def test_the_comparison_lists_every_term_and_marks_the_changed_ones() -> None:
    changes = service.compare_terms(
        Terms(), replace(Terms(), threshold_fen=300_000, period_kind=PeriodKind.QUARTER)
    )
    assert [change.label for change in changes] == [
        "达标日均余额",
        "考核周期",
        "保障期滞后",
        "天数计法",
        "每人每年赔付上限",
        "免赔额",
        "赔付比例",
        "可报销费用",
        "团体最低人数",
    ]
    assert [(c.label, c.before, c.after) for c in changes if c.changed] == [
        ("达标日均余额", "¥2,000.00", "¥3,000.00"),
        ("考核周期", "按月", "按季"),
    ]


def test_an_amended_version_is_used_from_the_first_period_ending_on_or_after_its_date(
    db: Session, world: World, store: BalanceStore, plan: Plan
) -> None:
    load_balances(db, store, world.bank_ytb, [f"{world.card_a},2024-12-31,3000.00"])
    second = service.amend_plan(
        db, plan, replace(Terms(), threshold_fen=500_000), date(2025, 2, 20), actor=SETUP, now=NOW
    )
    january = assess(db, plan, date(2025, 1, 1), actor=SETUP, now=NOW, store=store)
    february = assess(db, plan, date(2025, 2, 1), actor=SETUP, now=IN_MARCH, store=store)
    assert (january.eligible, february.eligible) == (1, 0)
    runs = db.scalars(select(AssessmentRun).order_by(AssessmentRun.period_start)).all()
    first = db.scalars(
        select(PlanVersion).where(PlanVersion.plan_id == plan.id, PlanVersion.version == 1)
    ).one()
    assert [run.plan_version_id for run in runs] == [first.id, second.id]


def test_claims_admitted_from_the_amendment_day_on_use_the_new_version(
    db: Session, world: World, plan: Plan
) -> None:
    amended = replace(Terms(), deductible_fen=100_000, ratio_bp=9_000)
    service.amend_plan(db, plan, amended, date(2025, 3, 1), actor=SETUP, now=NOW)
    amount = 1_000_000
    before = claims.estimate(db, plan, world.member_a, date(2025, 2, 28), amount)
    after = claims.estimate(db, plan, world.member_a, date(2025, 3, 1), amount)
    assert before.payable_fen == payable_for(amount, Terms(), 0).payable_fen == 1_000_000
    assert after.payable_fen == payable_for(amount, amended, 0).payable_fen == 800_000


# The pages


def _new_empty_plan(db: Session, world: World) -> Plan:
    plan = service.create_plan(
        db,
        code="YT2025",
        name="烟台市职工补充住院医疗保险",
        insurer="测试保险公司",
        terms=Terms(),
        effective_from=date(2024, 1, 1),
        bank_ids=[world.bank_ytb],
        actor=SETUP,
        now=NOW,
    )
    db.commit()
    return plan


def test_staff_create_a_plan_on_the_page(client: TestClient, db: Session, world: World) -> None:
    login(client, "federation_staff")
    response = post_form(
        client,
        "/insurance/plans",
        {
            "code": "yt2025",
            "name": "烟台市职工补充住院医疗保险",
            "insurer": "某保险公司",
            "bank_id": [str(world.bank_ytb), str(world.bank_qlb)],
            "effective_from": "2025-03-01",
            "threshold": "2500",
            "cap": "40000",
            "period": "month",
            "day_count": "calendar",
            "eligible_fields": ["policy_self_pay", "class_b_self_pay"],
        },
    )
    assert response.status_code == 303
    plan = service.plan_by_code(db, "YT2025")
    assert response.headers["location"] == f"/insurance/plans/{plan.id}"
    terms = service.terms_of(service.latest_version(db, plan))
    assert (terms.threshold_fen, terms.annual_cap_fen, terms.eligible_fields) == (
        250_000,
        4_000_000,
        ("policy_self_pay", "class_b_self_pay"),
    )
    page = client.get(response.headers["location"]).text
    assert "已创建保险计划 YT2025，请登记参保单位" in page
    assert "今日参保单位 <strong>0</strong> 个，名册上共 2 个单位" in page
    listing = client.get("/insurance/plans").text
    assert "烟台银行、齐鲁银行" in listing


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({}, "请至少选择一家合作银行"),
        ({"bank_id": "1", "threshold": "两千"}, "达标日均余额"),
        ({"bank_id": "1", "effective_from": "2025-02-30"}, "生效日期“2025-02-30”不存在"),
        ({"bank_id": "1", "effective_from": "三月一日"}, "生效日期“三月一日”格式不正确"),
    ],
)
def test_a_refused_plan_comes_back_with_its_values_and_the_message(
    client: TestClient, db: Session, world: World, extra: dict[str, str], message: str
) -> None:
    login(client, "federation_staff")
    form = {
        "code": "YT2025",
        "name": "补充医保",
        "insurer": "某保险",
        "effective_from": "2025-03-01",
    }
    response = post_form(client, "/insurance/plans", {**form, **extra})
    assert response.status_code == 422
    assert message in response.text
    for key in ("code", "name", "insurer"):
        assert f'value="{form[key]}"' in response.text
    assert service.all_plans(db) == []


def test_staff_enrol_units_by_district_and_let_one_leave_on_the_plan_page(
    client: TestClient, db: Session, world: World
) -> None:
    plan = _new_empty_plan(db, world)
    login(client, "federation_staff")
    page = f"/insurance/plans/{plan.id}/units"
    joined = post_form(
        client, page, {"scope": "district", "district": "芝罘区", "on": "2025-03-01"}
    )
    assert joined.status_code == 303
    assert "2 个单位自 2025-03-01 起参加计划" in client.get(f"/insurance/plans/{plan.id}").text
    left = post_form(
        client,
        page,
        {
            "action": "leave",
            "scope": "units",
            "credit_codes": world.unit_b_code.lower(),
            "on": "2025-04-01",
        },
    )
    assert left.status_code == 303
    assert enrolled(db, plan, date(2025, 3, 31)) == {world.unit_a, world.unit_b}
    assert enrolled(db, plan, date(2025, 4, 1)) == {world.unit_a}


def test_staff_enrol_units_by_industry_or_all(
    client: TestClient, db: Session, world: World
) -> None:
    plan = _new_empty_plan(db, world)
    login(client, "federation_staff")
    page = f"/insurance/plans/{plan.id}/units"
    none = post_form(client, page, {"scope": "industry", "industry": "金融业", "on": "2025-03-01"})
    assert none.status_code == 422
    assert "没有符合条件的单位" in none.text
    every = post_form(client, page, {"scope": "all", "on": "2025-03-01"})
    assert every.status_code == 303
    assert enrolled(db, plan, date(2025, 3, 1)) == {world.unit_a, world.unit_b}


def test_the_plan_list_counts_a_unit_that_leaves_next_month_as_enrolled_today(
    client: TestClient, db: Session, world: World
) -> None:
    plan = new_plan(db, world)
    service.unenroll_units(db, plan, [world.unit_a], date(2025, 3, 1), actor=SETUP, now=NOW)
    db.commit()
    login(client, "federation_staff")
    assert "今日参保单位 <strong>1</strong> 个" in client.get(f"/insurance/plans/{plan.id}").text
    listing = client.get("/insurance/plans").text
    assert '<td data-label="参保单位">1</td>' in listing


def test_it_refuses_credit_codes_that_name_no_unit_on_the_page(
    client: TestClient, db: Session, world: World
) -> None:
    plan = _new_empty_plan(db, world)
    login(client, "federation_staff")
    response = post_form(
        client,
        f"/insurance/plans/{plan.id}/units",
        {"scope": "units", "credit_codes": f"{world.unit_a_code} 91370602NOPE", "on": "2025-03-01"},
    )
    assert response.status_code == 422
    assert "91370602NOPE" in response.text
    assert enrolled(db, plan, date(2025, 3, 1)) == set()


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"action": "leave", "scope": "all", "on": "2025-02-09"}, "退出日期不能早于今天"),
        ({"scope": "", "on": "2025-03-01"}, "请选择单位：全部、某区县、某行业或填写信用代码"),
        ({"scope": "all", "on": "下个月"}, "日期“下个月”格式不正确"),
    ],
)
def test_a_refused_enrolment_comes_back_with_its_values_and_the_message(
    client: TestClient, db: Session, world: World, form: dict[str, str], message: str
) -> None:
    plan = new_plan(db, world)
    db.commit()
    login(client, "federation_staff")
    response = post_form(client, f"/insurance/plans/{plan.id}/units", form)
    assert response.status_code == 422
    assert message in response.text
    assert f'value="{form["on"]}"' in response.text
    assert enrolled(db, plan, TODAY) == {world.unit_a}


def _amend_form(**changes: str) -> dict[str, object]:
    return {
        "effective_from": "2025-03-01",
        "threshold": "3000",
        "cap": "50000.00",
        "deductible": "0.00",
        "ratio": "100.00",
        "period": "month",
        "day_count": "calendar",
        "min_group_size": "0",
        "eligible_fields": ["policy_self_pay"],
        **changes,
    }


def test_an_amendment_on_the_page_shows_the_changes_then_makes_the_version_once_confirmed(
    client: TestClient, db: Session, world: World
) -> None:
    plan = new_plan(db, world)
    db.commit()
    login(client, "federation_staff")
    path = f"/insurance/plans/{plan.id}/versions"
    shown = post_form(client, path, _amend_form())
    assert shown.status_code == 200
    changes = shown.text.split('data-testid="changes"', 1)[1].split("</table>", 1)[0]
    assert '<tr class="changed"><td data-label="条款">达标日均余额</td>' in changes
    assert changes.count('class="changed"') == 1
    assert "确认：自 2025-03-01 起发布新版本" in shown.text
    assert len(service.versions_of(db, plan)) == 1, "the first answer only shows the changes"
    confirmed = post_form(client, path, {**_amend_form(), "confirm": "yes"})
    assert confirmed.status_code == 303
    version = service.latest_version(db, plan)
    assert (version.version, version.effective_from, version.threshold_fen) == (
        2,
        date(2025, 3, 1),
        300_000,
    )
    assert "计划 YT2025 第2版自 2025-03-01 起生效" in client.get(f"/insurance/plans/{plan.id}").text


def test_unchanged_terms_on_the_page_offer_nothing_to_confirm(
    client: TestClient, db: Session, world: World
) -> None:
    plan = new_plan(db, world)
    db.commit()
    login(client, "federation_staff")
    shown = post_form(client, f"/insurance/plans/{plan.id}/versions", _amend_form(threshold="2000"))
    assert shown.status_code == 422
    assert "条款与第1版相同，无需新版本" in shown.text
    assert 'name="confirm"' not in shown.text


@pytest.mark.parametrize(
    ("form", "message"),
    [
        (_amend_form(effective_from="2025-02-09"), "新版本的生效日期不能早于今天"),
        (_amend_form(threshold="2000"), "条款与第1版相同，无需新版本"),
        (_amend_form(ratio="120"), "赔付比例应在0%至100%之间"),
    ],
)
def test_a_refused_amendment_comes_back_with_its_values_and_the_message(
    client: TestClient, db: Session, world: World, form: dict[str, object], message: str
) -> None:
    plan = new_plan(db, world)
    db.commit()
    login(client, "federation_staff")
    response = post_form(client, f"/insurance/plans/{plan.id}/versions", {**form, "confirm": "yes"})
    assert response.status_code == 422
    assert message in response.text
    assert f'value="{form["effective_from"]}"' in response.text
    assert f'value="{form["ratio"]}"' in response.text
    assert len(service.versions_of(db, plan)) == 1


# The command line

runner = CliRunner()


@pytest.fixture
def roll(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh database at 09:00 on 10 February 2025 (Beijing) with one bank and two units in
    two districts."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("GONGHUI_DATABASE_URL", url)
    monkeypatch.setenv("GONGHUI_STORAGE_DIR", str(tmp_path / "storage"))
    monkeypatch.setenv("GONGHUI_CLOCK_FIXED", "2025-02-10T09:00:00+08:00")
    assert runner.invoke(cli_app, ["db", "upgrade"]).exit_code == 0
    assert (
        runner.invoke(cli_app, ["banks", "add", "--code", "YTB", "--name", "烟台银行"]).exit_code
        == 0
    )
    units = tmp_path / "units.csv"
    units.write_text(
        "单位名称,统一社会信用代码,行业,区县,上级工会\n"
        f"甲公司,{make_credit_code('CLQ0001')},制造业,芝罘区,芝罘区总工会\n"
        f"乙公司,{make_credit_code('CLQ0002')},建筑业,莱山区,莱山区总工会\n"
    )
    imported = runner.invoke(cli_app, ["members", "import", str(units)])
    assert imported.exit_code == 0, imported.output
    return url


def enrolments(url: str) -> list[tuple[object, ...]]:
    engine = create_engine(url)
    with engine.connect() as connection:
        found = connection.execute(
            text(
                "SELECT u.credit_code, p.joined_on, p.left_on FROM insurance_plan_units p "
                "JOIN units u ON u.id = p.unit_id ORDER BY u.credit_code"
            )
        ).all()
    engine.dispose()
    return [tuple(str(value) if value is not None else None for value in row) for row in found]


def create(*extra: str) -> list[str]:
    return [
        "insurance",
        "plan",
        "create",
        "--code",
        "YT",
        "--name",
        "补充医保",
        "--insurer",
        "某保险",
        "--bank",
        "YTB",
        "--effective-from",
        "2025-01-01",
        *extra,
    ]


def test_plan_create_with_all_units_enrols_the_roll(roll: str) -> None:
    result = runner.invoke(cli_app, create("--enroll-all-units"))
    assert result.exit_code == 0, result.output
    assert "2 个单位参加计划 YT" in result.stdout
    assert [(joined, left) for _, joined, left in enrolments(roll)] == [
        ("2025-01-01", None),
        ("2025-01-01", None),
    ]


def test_plan_create_with_all_units_but_no_units_warns_on_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GONGHUI_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    monkeypatch.setenv("GONGHUI_STORAGE_DIR", str(tmp_path / "storage"))
    runner.invoke(cli_app, ["db", "upgrade"])
    runner.invoke(cli_app, ["banks", "add", "--code", "YTB", "--name", "烟台银行"])
    result = runner.invoke(cli_app, create("--enroll-all-units"))
    assert result.exit_code == 0, result.output
    assert "已创建保险计划 YT" in result.stdout
    assert "没有单位新参加计划 YT" in result.stderr
    assert "gonghui insurance plan enroll" in result.stderr
    assert "--plan YT --all-units --from YYYY-MM-DD" in result.stderr


def test_plan_enroll_unenroll_and_amend_from_the_command_line(roll: str) -> None:
    code_a, code_b = make_credit_code("CLQ0001"), make_credit_code("CLQ0002")
    assert runner.invoke(cli_app, create()).exit_code == 0
    by_district = runner.invoke(
        cli_app,
        [
            "insurance",
            "plan",
            "enroll",
            "--plan",
            "YT",
            "--district",
            "莱山区",
            "--from",
            "2025-03-01",
        ],
    )
    assert by_district.exit_code == 0, by_district.output
    assert "1 个单位参加计划 YT" in by_district.stdout
    everyone = runner.invoke(
        cli_app,
        ["insurance", "plan", "enroll", "--plan", "YT", "--all-units", "--from", "2025-02-01"],
    )
    # Both join from 1 February: the unit due on 1 March joins sooner instead.
    assert "2 个单位参加计划 YT" in everyone.stdout
    left = runner.invoke(
        cli_app,
        ["insurance", "plan", "unenroll", "--plan", "YT", "--unit", code_a, "--from", "2025-06-01"],
    )
    assert left.exit_code == 0, left.output
    assert "1 个单位自 2025-06-01 起退出计划 YT" in left.stdout
    assert enrolments(roll) == [
        (code_a, "2025-02-01", "2025-06-01"),
        (code_b, "2025-02-01", None),
    ]
    amended = runner.invoke(
        cli_app,
        [
            "insurance",
            "plan",
            "amend",
            "--plan",
            "YT",
            "--effective-from",
            "2025-03-01",
            "--threshold",
            "3000",
            "--ratio",
            "90",
            "--yes",
        ],
    )
    assert amended.exit_code == 0, amended.output
    assert "计划 YT 第2版自 2025-03-01 起生效" in amended.stdout
    assert "¥3,000.00" in amended.stdout
    engine = create_engine(roll)
    with engine.connect() as connection:
        versions = connection.execute(
            text(
                "SELECT version, threshold_fen, ratio_bp FROM insurance_plan_versions "
                "ORDER BY version"
            )
        ).all()
    engine.dispose()
    assert [tuple(row) for row in versions] == [(1, 200_000, 10_000), (2, 300_000, 9_000)]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["enroll", "--plan", "YT", "--from", "2025-03-01"], "请指定 --all-units"),
        (
            ["enroll", "--plan", "YT", "--all-units", "--from", "3月1日"],
            "参保日期“3月1日”格式不正确",
        ),
        (["enroll", "--plan", "NOPE", "--all-units", "--from", "2025-03-01"], "不存在"),
        (["unenroll", "--plan", "YT", "--unit", "NOPE", "--from", "2025-03-01"], "不存在"),
        (
            ["unenroll", "--plan", "YT", "--unit", "{code_a}", "--from", "2025-02-09"],
            "退出日期不能早于今天",
        ),
        (
            ["amend", "--plan", "YT", "--effective-from", "2025-02-09", "--cap", "1", "--yes"],
            "新版本的生效日期不能早于今天",
        ),
        (
            ["amend", "--plan", "YT", "--effective-from", "2025-03-01", "--yes"],
            "条款与第1版相同",
        ),
    ],
)
def test_plan_commands_refuse_bad_input_in_chinese_and_exit_non_zero(
    roll: str, arguments: list[str], message: str
) -> None:
    assert runner.invoke(cli_app, create("--enroll-all-units")).exit_code == 0
    code_a = make_credit_code("CLQ0001")
    result = runner.invoke(
        cli_app, ["insurance", "plan", *[a.replace("{code_a}", code_a) for a in arguments]]
    )
    assert result.exit_code == 1, result.output
    assert message in result.output


def test_plan_enroll_refuses_a_credit_code_that_names_no_unit(roll: str) -> None:
    # `unenroll` refuses such a code; `enroll` must not report "no unit newly joined" and
    # exit 0, which reads as if the unit were already in.
    assert runner.invoke(cli_app, create()).exit_code == 0
    result = runner.invoke(
        cli_app,
        ["insurance", "plan", "enroll", "--plan", "YT", "--unit", "NOPE", "--from", "2025-03-01"],
    )
    assert result.exit_code == 1
    assert "不存在" in result.output


def test_an_amendment_not_confirmed_makes_no_version(roll: str) -> None:
    assert runner.invoke(cli_app, create()).exit_code == 0
    result = runner.invoke(
        cli_app,
        [
            "insurance",
            "plan",
            "amend",
            "--plan",
            "YT",
            "--effective-from",
            "2025-03-01",
            "--cap",
            "1",
        ],
        input="n\n",
    )
    assert result.exit_code == 1
    assert "已取消" in result.output
    engine = create_engine(roll)
    with engine.connect() as connection:
        count = connection.execute(text("SELECT count(*) FROM insurance_plan_versions")).scalar()
    engine.dispose()
    assert count == 1
