"""The first day without the demo: the setup checklist (on /setup and the staff home) and what
`gonghui db upgrade` says it did."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from gonghui import readiness
from gonghui.cli import app as cli_app
from gonghui.core.auth import Role
from gonghui.core.clock import FixedClock
from gonghui.core.db import make_engine
from gonghui.core.migrate import UpgradeOutcome, alembic_config, upgrade
from gonghui.core.settings import Settings
from gonghui.core.storage import ContentStore
from gonghui.insurance import service as insurance_service
from gonghui.insurance.balances import Source, import_balances
from gonghui.insurance.store import BalanceStore
from gonghui.members import accounts, banks
from gonghui.members.models import Bank
from gonghui.stations.evaluation import publish_rule_set
from gonghui.stations.scoring import RuleSet
from tests.conftest import NOW, app_on
from tests.insurance.scenario import new_plan
from tests.world import PASSWORD, SECURITY_SETUP, SETUP, World, login

TODAY = date(2025, 2, 10)  # NOW in Beijing
REAL_KEYS = {"secret_key": SecretStr("s" * 40), "data_key": SecretStr("d" * 40)}


def steps(db: Session, settings: Settings) -> dict[str, readiness.Step]:
    return {step.key: step for step in readiness.checklist(db, settings, TODAY).steps}


def bank_of(db: Session, bank_id: int) -> Bank:
    bank = db.get(Bank, bank_id)
    assert bank is not None
    return bank


def balances_through_january(db: Session, store: BalanceStore, bank_id: int, card: str) -> None:
    import_balances(
        db,
        f"卡号,日期,日终余额\n{card},2025-01-31,100.00\n".encode(),
        bank=bank_of(db, bank_id),
        filename=f"{bank_id}.csv",
        source=Source.CLI,
        actor=SETUP,
        now=NOW,
        store=store,
    )


def finish_setup(db: Session, world: World, store: BalanceStore) -> None:
    """Everything the checklist asks for that lives in the database."""
    plan = new_plan(db, world)
    insurance_service.enroll_units(db, plan, [world.unit_b], TODAY, actor=SETUP, now=NOW)
    balances_through_january(db, store, world.bank_ytb, world.card_a)
    balances_through_january(db, store, world.bank_qlb, world.card_b)
    publish_rule_set(db, RuleSet(), "试行规则", actor=SETUP, now=NOW)
    accounts.create_user(
        db,
        username="admin2",
        password=PASSWORD,
        role=Role.ADMIN,
        display_name="第二管理员",
        actor=SECURITY_SETUP,
        now=NOW,
    )


# The checklist


def test_a_new_database_has_every_step_to_do_but_the_seeded_wallet_regions(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    engine = make_engine(url)
    with engine.begin() as connection:
        command.upgrade(alembic_config(url, connection), "heads")
    try:
        with Session(engine) as db:
            checklist = readiness.checklist(db, Settings(database_url=url), TODAY)
    finally:
        engine.dispose()
    assert [(step.key, step.done) for step in checklist.steps] == [
        ("banks", False),
        ("roll", False),
        ("plan", False),
        ("station_rules", False),
        ("wallet_regions", True),
        ("keys", False),
        ("second_admin", False),
    ]
    assert (checklist.complete, checklist.remaining) == (False, 6)
    details = {step.key: step.detail for step in checklist.steps}
    assert details["banks"] == "尚无合作银行：会员卡导入和保险计划都需要先登记银行"
    assert details["roll"] == "名册为空：下载模板填写后导入"
    assert details["second_admin"].startswith("现有 0 名系统管理员")


def test_the_bank_step_names_the_banks_still_in_partnership(
    db: Session, settings: Settings, world: World
) -> None:
    assert steps(db, settings)["banks"].detail == "合作中：烟台银行、齐鲁银行"
    banks.retire_bank(db, bank_of(db, world.bank_qlb), actor=SETUP, now=NOW)
    assert steps(db, settings)["banks"].detail == "合作中：烟台银行"
    banks.retire_bank(db, bank_of(db, world.bank_ytb), actor=SETUP, now=NOW)
    assert not steps(db, settings)["banks"].done


def test_a_plan_is_not_enough_until_every_unit_is_enrolled(
    db: Session, settings: Settings, world: World
) -> None:
    plan = new_plan(db, world)
    found = steps(db, settings)
    assert (found["plan"].done, found["plan"].detail) == (True, "YT2025")
    assert (found["enrolment"].done, found["enrolment"].detail) == (
        False,
        "已参保 1 个单位，另有 1 个单位尚未参加任何计划",
    )
    assert found["enrolment"].link == f"/insurance/plans/{plan.id}"
    # Joining next month does not count today.
    insurance_service.enroll_units(db, plan, [world.unit_b], date(2025, 3, 1), actor=SETUP, now=NOW)
    assert not steps(db, settings)["enrolment"].done
    # Enrolled from today instead: the spell planned for March starts today.
    insurance_service.enroll_units(db, plan, [world.unit_b], TODAY, actor=SETUP, now=NOW)
    assert steps(db, settings)["enrolment"].done


def test_enrolling_every_unit_completes_the_enrolment_step(
    db: Session, settings: Settings, world: World
) -> None:
    plan = new_plan(db, world)
    insurance_service.enroll_units(db, plan, [world.unit_b], TODAY, actor=SETUP, now=NOW)
    found = steps(db, settings)["enrolment"]
    assert (found.done, found.detail) == (True, "已参保 2 个单位")


def test_the_balance_step_names_the_banks_short_of_last_month(
    db: Session, settings: Settings, world: World, store: BalanceStore
) -> None:
    new_plan(db, world)
    step = steps(db, settings)["balances"]
    assert step.title == "银行报送上月（2025-01）日终余额"
    assert (step.done, step.detail) == (False, "尚未报送到 2025-01-31：烟台银行、齐鲁银行")
    balances_through_january(db, store, world.bank_ytb, world.card_a)
    assert steps(db, settings)["balances"].detail == "尚未报送到 2025-01-31：齐鲁银行"
    balances_through_january(db, store, world.bank_qlb, world.card_b)
    step = steps(db, settings)["balances"]
    assert (step.done, step.detail) == (True, "各合作银行已报送")


def test_publishing_station_rules_real_keys_and_a_second_admin_complete_the_list(
    db: Session, settings: Settings, world: World, store: BalanceStore
) -> None:
    finish_setup(db, world, store)
    assert [key for key, step in steps(db, settings).items() if not step.done] == ["keys"]
    real = settings.model_copy(update=REAL_KEYS)
    checklist = readiness.checklist(db, real, TODAY)
    assert (checklist.complete, checklist.remaining) == (True, 0)
    details = {step.key: step.detail for step in checklist.steps}
    assert (details["station_rules"], details["keys"], details["second_admin"]) == (
        "已发布",
        "已设置",
        "现有 2 名系统管理员",
    )


def test_a_development_data_key_alone_keeps_the_key_step_open(
    db: Session, settings: Settings
) -> None:
    half = settings.model_copy(update={"secret_key": REAL_KEYS["secret_key"]})
    assert not steps(db, half)["keys"].done


# The pages


def marks(page: str) -> dict[str, str]:
    """Step key → "done" or "todo", as the page marks them."""
    return {
        key: state for state, key in re.findall(r'<li class="(done|todo)" data-step="(\w+)">', page)
    }


def test_staff_see_what_is_left_on_their_home_page_and_on_setup(client: TestClient) -> None:
    login(client, "federation_staff")
    home = client.get("/home").text
    assert "正式运行前还有 4 项设置" in home
    assert marks(home) == {
        "banks": "done",
        "roll": "done",
        "plan": "todo",
        "station_rules": "todo",
        "wallet_regions": "done",
        "keys": "todo",
        "second_admin": "todo",
    }
    setup = client.get("/setup")
    assert setup.status_code == 200
    assert "正式运行前还有 <strong>4</strong> 项待完成" in setup.text
    assert marks(setup.text) == marks(home)
    assert '<a href="/insurance/plans">建立补充医保计划</a>' in setup.text
    assert "GONGHUI_DATA_KEY" in setup.text


def test_a_step_the_viewer_cannot_do_names_who_does_it_instead_of_a_link(
    client: TestClient,
) -> None:
    """Staff may not manage users or open wallet regions: the checklist says who does, and
    every step it links opens for them."""
    login(client, "federation_staff")
    home = client.get("/home").text
    assert '设置第二名系统管理员<span class="muted">（由系统管理员办理）</span>' in home
    assert '开通医保钱包统筹区<span class="muted">（由医保经办或系统管理员办理）</span>' in home
    steps = re.findall(r'<li class="(?:done|todo)" data-step="\w+">(.*?)</li>', home, re.DOTALL)
    links = [link for step in steps for link in re.findall(r'<a href="([^"]+)"', step)]
    assert "/admin/users" not in links
    assert "/insurance/plans" in links
    for link in links:
        assert client.get(link).status_code == 200, link
    client.cookies.clear()
    login(client, "admin")
    admin_home = client.get("/home").text
    assert '<a href="/admin/users">设置第二名系统管理员</a>' in admin_home
    assert '<a href="/wallet/regions">开通医保钱包统筹区</a>' in admin_home


def test_the_admin_sees_the_checklist_and_a_member_does_not(client: TestClient) -> None:
    login(client, "admin")
    assert 'data-testid="setup"' in client.get("/home").text
    client.cookies.clear()
    login(client, "member")
    assert 'data-testid="setup"' not in client.get("/home").text
    assert client.get("/setup").status_code == 403


@pytest.fixture
def ready_client(
    settings: Settings,
    engine: Engine,
    sessions: sessionmaker[Session],
    clock: FixedClock,
    store: BalanceStore,
    documents: ContentStore,
) -> Iterator[TestClient]:
    """The app run with real keys (the shared `app` has the development ones)."""
    app = app_on(settings.model_copy(update=REAL_KEYS), engine, sessions, clock, store, documents)
    with TestClient(app) as client:
        yield client


def test_once_everything_is_done_the_home_page_drops_the_checklist(
    ready_client: TestClient, db: Session, world: World, store: BalanceStore
) -> None:
    finish_setup(db, world, store)
    db.commit()
    login(ready_client, "federation_staff")
    assert 'data-testid="setup"' not in ready_client.get("/home").text
    setup = ready_client.get("/setup").text
    assert "各项设置均已完成" in setup
    assert set(marks(setup).values()) == {"done"}


# db upgrade

runner = CliRunner()


def head_and_previous(url: str) -> tuple[str, str]:
    script = ScriptDirectory.from_config(alembic_config(url))
    head = script.get_revision(script.get_current_head())
    assert head is not None
    previous = head.down_revision
    assert isinstance(previous, str)
    return head.revision, previous


def test_db_upgrade_says_it_created_the_database_then_that_nothing_was_needed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    head, _ = head_and_previous(url)
    monkeypatch.setenv("GONGHUI_DATABASE_URL", url)
    created = runner.invoke(cli_app, ["db", "upgrade"])
    assert created.exit_code == 0, created.output
    assert created.stdout.strip() == f"已创建数据库（版本 {head}）"
    again = runner.invoke(cli_app, ["db", "upgrade"])
    assert again.exit_code == 0, again.output
    assert again.stdout.strip() == f"数据库已是最新版本（{head}），无需升级"


def test_db_upgrade_says_from_which_version_it_upgraded(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    head, previous = head_and_previous(url)
    engine = make_engine(url)
    with engine.begin() as connection:
        command.upgrade(alembic_config(url, connection), previous)
    engine.dispose()
    outcome = upgrade(Settings(database_url=url))
    assert outcome == UpgradeOutcome((previous,), (head,))
    assert outcome.message == f"数据库已从版本 {previous} 升级到 {head}"


@pytest.mark.parametrize(
    ("before", "after", "message"),
    [
        ((), ("b",), "已创建数据库（版本 b）"),
        (("b",), ("b",), "数据库已是最新版本（b），无需升级"),
        (("a",), ("b",), "数据库已从版本 a 升级到 b"),
        (("a", "x"), ("b", "y"), "数据库已从版本 a、x 升级到 b、y"),
    ],
)
def test_the_upgrade_message_says_what_was_done(
    before: tuple[str, ...], after: tuple[str, ...], message: str
) -> None:
    assert UpgradeOutcome(before, after).message == message
