"""Partner banks: registered with their card prefixes, renamed, retired; what retirement stops
(new cards, API tokens, later balances) and what it keeps (cards already on the roll)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from gonghui.cli import app as cli_app
from gonghui.core.audit import AuditEntry
from gonghui.core.auth import Actor, Role
from gonghui.core.clock import FixedClock
from gonghui.core.errors import Conflict, Forbidden, ImportRejected, InvalidInput
from gonghui.core.pii import IdentityVault
from gonghui.insurance.balances import Source, import_balances
from gonghui.insurance.store import BalanceStore
from gonghui.members import accounts, banks
from gonghui.members.imports import import_file
from gonghui.members.models import Bank, Card
from gonghui.members.service import Outcome
from tests.conftest import NOW
from tests.world import SECURITY_SETUP, SETUP, World, login, make_credit_code, make_id, post_form

CARD_HEADER = "卡号,身份证号,发卡银行,开卡日期\n"
TODAY = date(2025, 2, 10)  # NOW in Beijing


def bank_of(db: Session, bank_id: int) -> Bank:
    bank = db.get(Bank, bank_id)
    assert bank is not None
    return bank


def audit_actions(db: Session, target_id: int) -> list[str]:
    return list(
        db.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.target_type == "bank", AuditEntry.target_id == str(target_id))
            .order_by(AuditEntry.id)
        )
    )


def register(db: Session, code: str, name: str, prefixes: list[str]) -> Bank:
    return banks.register_bank(db, code=code, name=name, prefixes=prefixes, actor=SETUP, now=NOW)


# The service


def test_it_registers_a_bank_with_its_prefixes_and_audits_it(db: Session) -> None:
    bank = register(db, " whb ", "威海银行", ["623456", "62345799", "623456"])
    assert (bank.code, bank.name, bank.retired_on) == ("WHB", "威海银行", None)
    view = next(view for view in banks.bank_views(db) if view.id == bank.id)
    assert (view.prefixes, view.active) == (("623456", "62345799"), True)
    assert audit_actions(db, bank.id) == ["bank.registered"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("622311, 622312", ["622311", "622312"]),
        ("622312、622311，622313;622314；622315", [f"62231{n}" for n in range(1, 6)]),
        ("  622311\n622311 ", ["622311"]),
        ("", []),
    ],
)
def test_prefixes_are_read_whatever_separates_them(text: str, expected: list[str]) -> None:
    assert banks.parse_prefixes(text) == expected


@pytest.mark.parametrize("bad", ["622", "62231100001", "6223a1", "62-2311"])
def test_it_refuses_a_prefix_that_is_not_four_to_ten_digits(bad: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        banks.parse_prefixes(f"622311 {bad}")
    assert refused.value.code == "bad_prefix"
    assert refused.value.message == f"卡号前缀应为4至10位数字：{bad}"


def test_a_prefix_typed_in_full_width_digits_is_not_kept_as_it_is() -> None:
    # A Chinese input method types ６２２３１１; kept as typed, it would match no card number
    # (every new card of the bank refused) and clash with no other bank's 622311. Refusing it
    # or reading it as 622311 are both right.
    try:
        parsed = banks.parse_prefixes("６２２３１１")
    except InvalidInput:
        return
    assert parsed == ["622311"]


@pytest.mark.parametrize("prefix", ["622311", "62231188", "6223"])
def test_it_refuses_a_prefix_that_equals_extends_or_is_extended_by_another_banks(
    db: Session, prefix: str
) -> None:
    register(db, "WHB", "威海银行", ["622311"])
    with pytest.raises(Conflict) as refused:
        register(db, "RZB", "日照银行", ["625000", prefix])
    assert refused.value.code == "prefix_taken"
    assert "威海银行的 622311 重叠" in refused.value.message


@pytest.mark.parametrize(
    ("code", "name", "refusal"),
    [
        ("YTB", "另一家银行", "bank_exists"),
        ("ytb", "另一家银行", "bank_exists"),
        ("ZZB", "烟台银行", "bank_name_taken"),
        ("1AB", "新银行", "bad_bank_code"),
        ("Y", "新银行", "bad_bank_code"),
        ("ZZB", "  ", "name_required"),
        ("ZZB", "银" * 65, "name_too_long"),
    ],
)
def test_it_refuses_a_taken_or_malformed_code_or_name(
    db: Session, world: World, code: str, name: str, refusal: str
) -> None:
    with pytest.raises((Conflict, InvalidInput)) as refused:
        register(db, code, name, [])
    assert refused.value.code == refusal


def test_a_bank_may_not_be_registered_without_the_right(db: Session) -> None:
    officer = Actor(user_id=None, username="o", role=Role.UNIT_OFFICER, display_name="o")
    with pytest.raises(Forbidden):
        banks.register_bank(db, code="WHB", name="威海银行", actor=officer, now=NOW)


def test_renaming_keeps_the_banks_own_prefixes_and_an_unchanged_save_is_not_audited(
    db: Session,
) -> None:
    bank = register(db, "WHB", "威海银行", ["622311", "622312"])
    banks.update_bank(
        db, bank, name="威海市商业银行", prefixes=["622312", "622311"], actor=SETUP, now=NOW
    )
    banks.update_bank(
        db, bank, name="威海市商业银行", prefixes=["622311", "622312"], actor=SETUP, now=NOW
    )
    assert bank.name == "威海市商业银行"
    assert banks.prefixes_of(db, bank.id) == ("622311", "622312")
    assert audit_actions(db, bank.id) == ["bank.registered", "bank.updated"]
    entry = db.scalars(
        select(AuditEntry).where(AuditEntry.action == "bank.updated").order_by(AuditEntry.id.desc())
    ).first()
    assert entry is not None
    assert (entry.before, entry.after) == (
        {"name": "威海银行", "prefixes": ["622311", "622312"]},
        {"name": "威海市商业银行", "prefixes": ["622311", "622312"]},
    )


def test_new_prefixes_replace_the_old_ones_which_become_free_for_another_bank(
    db: Session,
) -> None:
    bank = register(db, "WHB", "威海银行", ["622311"])
    banks.update_bank(db, bank, name=bank.name, prefixes=["622399"], actor=SETUP, now=NOW)
    other = register(db, "RZB", "日照银行", ["622311"])
    assert banks.prefixes_of(db, bank.id) == ("622399",)
    assert banks.prefixes_of(db, other.id) == ("622311",)
    with pytest.raises(Conflict):
        banks.update_bank(db, bank, name=bank.name, prefixes=["6223110"], actor=SETUP, now=NOW)


def test_it_refuses_a_rename_to_another_banks_name(db: Session, world: World) -> None:
    with pytest.raises(Conflict) as refused:
        banks.update_bank(
            db, bank_of(db, world.bank_qlb), name="烟台银行", prefixes=[], actor=SETUP, now=NOW
        )
    assert refused.value.message == "银行名称“烟台银行”已存在"


def test_a_bank_retires_from_today_or_a_later_day_once(db: Session, world: World) -> None:
    qlb, ytb = bank_of(db, world.bank_qlb), bank_of(db, world.bank_ytb)
    banks.retire_bank(db, qlb, actor=SETUP, now=NOW)
    banks.retire_bank(db, ytb, date(2025, 6, 30), actor=SETUP, now=NOW)
    assert (qlb.retired_on, ytb.retired_on) == (TODAY, date(2025, 6, 30))
    assert banks.is_retired(qlb, TODAY)
    assert not banks.is_retired(ytb, date(2025, 6, 29))
    assert banks.is_retired(ytb, date(2025, 6, 30))
    assert audit_actions(db, qlb.id)[-1] == "bank.retired"
    with pytest.raises(Conflict) as twice:
        banks.retire_bank(db, qlb, date(2025, 3, 1), actor=SETUP, now=NOW)
    assert twice.value.message == "齐鲁银行已于 2025-02-10 停止合作"


def test_it_refuses_to_retire_a_bank_from_a_past_day(db: Session, world: World) -> None:
    qlb = bank_of(db, world.bank_qlb)
    with pytest.raises(InvalidInput) as refused:
        banks.retire_bank(db, qlb, date(2025, 2, 9), actor=SETUP, now=NOW)
    assert refused.value.code == "bad_retire_date"
    assert qlb.retired_on is None


# Card imports


def import_cards(db: Session, vault: IdentityVault, lines: list[str]) -> dict[Outcome, int]:
    return import_file(
        db, (CARD_HEADER + "\n".join(lines) + "\n").encode(), actor=SETUP, now=NOW, vault=vault
    ).counts


def refused_lines(db: Session, vault: IdentityVault, lines: list[str]) -> list[str]:
    with pytest.raises(ImportRejected) as refused:
        import_cards(db, vault, lines)
    db.rollback()
    return [str(line) for line in refused.value.errors]


def test_it_refuses_a_new_card_of_a_retired_bank(
    db: Session, vault: IdentityVault, world: World
) -> None:
    banks.retire_bank(db, bank_of(db, world.bank_qlb), actor=SETUP, now=NOW)
    db.commit()
    assert refused_lines(
        db, vault, [f"6231680000000009991,{world.member_b_id_number},齐鲁银行,2025-01-02"]
    ) == ["第2行：发卡银行“齐鲁银行”已于 2025-02-10 停止合作，不再登记新卡"]


def test_a_bank_retiring_on_a_later_day_still_takes_new_cards_today(
    db: Session, vault: IdentityVault, world: World
) -> None:
    banks.retire_bank(db, bank_of(db, world.bank_qlb), date(2025, 2, 11), actor=SETUP, now=NOW)
    counts = import_cards(
        db, vault, [f"6231680000000009991,{world.member_b_id_number},QLB,20250102"]
    )
    assert counts[Outcome.CREATED] == 1


def test_it_refuses_a_new_card_outside_the_banks_prefixes(
    db: Session, vault: IdentityVault, world: World
) -> None:
    ytb = bank_of(db, world.bank_ytb)
    banks.update_bank(db, ytb, name=ytb.name, prefixes=["622311", "622312"], actor=SETUP, now=NOW)
    db.commit()
    assert refused_lines(
        db,
        vault,
        [
            f"6223120000000009991,{world.member_a_id_number},烟台银行,2025-01-02",  # fine
            f"6231680000000009992,{world.member_a_id_number},烟台银行,2025-01-02",
        ],
    ) == ["第3行：卡号不在烟台银行的会员卡号段内（卡号前缀：622311、622312）"]


def test_cards_already_on_the_roll_import_again_after_retirement_and_new_prefixes(
    db: Session, vault: IdentityVault, world: World
) -> None:
    qlb, ytb = bank_of(db, world.bank_qlb), bank_of(db, world.bank_ytb)
    banks.update_bank(db, ytb, name=ytb.name, prefixes=["999999"], actor=SETUP, now=NOW)
    banks.retire_bank(db, qlb, actor=SETUP, now=NOW)
    counts = import_cards(
        db,
        vault,
        [
            f"{world.card_a},{world.member_a_id_number},烟台银行,2020-05-01",
            f"{world.card_b},{world.member_b_id_number},齐鲁银行,2021-06-01",
        ],
    )
    assert counts[Outcome.CREATED] == 0
    assert db.scalar(select(func.count()).select_from(Card)) == 2


def test_a_new_card_of_a_bank_without_prefixes_is_not_checked_against_any(
    db: Session, vault: IdentityVault, world: World
) -> None:
    counts = import_cards(db, vault, [f"1234567890123456,{make_id(sequence='131')},YTB,2025-01-02"])
    assert counts[Outcome.CREATED] == 1


# API tokens and balance files


def test_a_retired_banks_api_token_stops_on_the_retirement_day(
    app: FastAPI, client: TestClient, db: Session, world: World
) -> None:
    ytb = bank_of(db, world.bank_ytb)
    clear, _token = accounts.issue_api_token(db, ytb, "日终余额推送", actor=SECURITY_SETUP, now=NOW)
    banks.retire_bank(db, ytb, date(2025, 3, 1), actor=SETUP, now=NOW)
    db.commit()
    headers = {"Authorization": f"Bearer {clear}"}
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    # 23:59 on 28 February in Beijing: still in partnership.
    app.state.clock = FixedClock(datetime(2025, 2, 28, 15, 59, tzinfo=UTC))
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    app.state.clock = FixedClock(datetime(2025, 2, 28, 16, 0, tzinfo=UTC))
    refused = client.get("/api/v1/me", headers=headers)
    assert refused.status_code == 401
    assert refused.json()["error"]["message"] == "该银行已停止合作，API 令牌已失效"


def balances(db: Session, store: BalanceStore, bank: Bank, lines: list[str]) -> None:
    import_balances(
        db,
        ("卡号,日期,日终余额\n" + "\n".join(lines) + "\n").encode(),
        bank=bank,
        filename="b.csv",
        source=Source.CLI,
        actor=SETUP,
        now=NOW,
        store=store,
    )


def test_a_retired_banks_balances_from_its_retirement_day_on_are_refused(
    db: Session, store: BalanceStore, world: World
) -> None:
    qlb = bank_of(db, world.bank_qlb)
    banks.retire_bank(db, qlb, actor=SETUP, now=NOW)
    with pytest.raises(ImportRejected) as refused:
        balances(
            db,
            store,
            qlb,
            [f"{world.card_b},2025-02-09,100.00", f"{world.card_b},2025-02-10,100.00"],
        )
    assert [str(line) for line in refused.value.errors] == [
        "第3行：齐鲁银行自 2025-02-10 起已停止合作，不接收此后的余额"
    ]
    balances(db, store, qlb, [f"{world.card_b},2025-02-09,100.00"])


# The page


def test_staff_register_a_bank_and_see_it_listed(client: TestClient) -> None:
    login(client, "federation_staff")
    response = post_form(
        client, "/admin/banks", {"code": "whb", "name": "威海银行", "prefixes": "623456，623457"}
    )
    assert response.status_code == 303
    page = client.get("/admin/banks").text
    assert "已登记合作银行 威海银行（WHB）" in page
    assert "623456、623457" in page


@pytest.mark.parametrize(
    ("form", "status", "message"),
    [
        ({"code": "WHB", "name": "威海银行", "prefixes": "622"}, 422, "卡号前缀应为4至10位数字"),
        ({"code": "YTB", "name": "威海银行", "prefixes": ""}, 409, "银行代码 YTB 已存在"),
        (
            {"code": "WHB", "name": "威海银行", "prefixes": "6223110 777777"},
            409,
            "卡号前缀已属于其他银行",
        ),
    ],
)
def test_a_refused_registration_comes_back_with_its_values_and_the_message(
    client: TestClient, db: Session, world: World, form: dict[str, str], status: int, message: str
) -> None:
    ytb = bank_of(db, world.bank_ytb)
    banks.update_bank(db, ytb, name=ytb.name, prefixes=["622311"], actor=SETUP, now=NOW)
    db.commit()
    login(client, "federation_staff")
    response = post_form(client, "/admin/banks", form)
    assert response.status_code == status
    assert message in response.text
    for value in form.values():
        assert f'value="{value}"' in response.text
    assert db.scalar(select(func.count()).select_from(Bank)) == 2


def test_a_refused_edit_comes_back_open_with_its_values(
    client: TestClient, db: Session, world: World
) -> None:
    login(client, "federation_staff")
    response = post_form(
        client, f"/admin/banks/{world.bank_qlb}", {"name": "烟台银行", "prefixes": "623168"}
    )
    assert response.status_code == 409
    assert "银行名称“烟台银行”已存在" in response.text
    assert 'value="623168"' in response.text
    assert bank_of(db, world.bank_qlb).name == "齐鲁银行"


def test_staff_rename_a_bank_and_set_its_prefixes_on_the_page(
    client: TestClient, db: Session, world: World
) -> None:
    login(client, "federation_staff")
    response = post_form(
        client, f"/admin/banks/{world.bank_qlb}", {"name": "齐鲁银行股份", "prefixes": "623168"}
    )
    assert response.status_code == 303
    db.expire_all()
    assert bank_of(db, world.bank_qlb).name == "齐鲁银行股份"
    assert banks.prefixes_of(db, world.bank_qlb) == ("623168",)


def test_retiring_on_the_page_needs_the_confirmation(
    client: TestClient, db: Session, world: World
) -> None:
    login(client, "federation_staff")
    refused = post_form(client, f"/admin/banks/{world.bank_qlb}/retire", {})
    assert refused.status_code == 422
    assert "请勾选确认后再停止合作" in refused.text
    done = post_form(client, f"/admin/banks/{world.bank_qlb}/retire", {"confirm": "yes"})
    assert done.status_code == 303
    page = client.get("/admin/banks").text
    assert "自 2025-02-10 起停止合作" in page
    db.expire_all()
    assert bank_of(db, world.bank_qlb).retired_on == TODAY


def test_a_bank_operator_may_not_manage_banks(client: TestClient) -> None:
    login(client, "bank_operator")
    assert client.get("/admin/banks").status_code == 403


# The command line

runner = CliRunner()


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("GONGHUI_DATABASE_URL", url)
    monkeypatch.setenv("GONGHUI_CLOCK_FIXED", "2025-02-10T09:00:00+08:00")
    assert runner.invoke(cli_app, ["db", "upgrade"]).exit_code == 0
    return url


def rows(url: str, sql: str) -> list[tuple[object, ...]]:
    engine = create_engine(url)
    with engine.connect() as connection:
        found = [tuple(row) for row in connection.execute(text(sql))]
    engine.dispose()
    return found


def test_banks_add_update_retire_and_list_from_the_command_line(database: str) -> None:
    added = runner.invoke(
        cli_app,
        [
            "banks",
            "add",
            "--code",
            "whb",
            "--name",
            "威海银行",
            "--prefix",
            "623456",
            "--prefix",
            "623457",
        ],
    )
    assert added.exit_code == 0, added.output
    assert "已登记合作银行 威海银行（WHB）" in added.output
    renamed = runner.invoke(
        cli_app, ["banks", "update", "--code", "WHB", "--name", "威海市商业银行"]
    )
    assert renamed.exit_code == 0, renamed.output
    assert "已更新 WHB：威海市商业银行" in renamed.output
    assert rows(database, "select prefix from bank_card_prefixes order by prefix") == [
        ("623456",),
        ("623457",),
    ], "a rename without --prefix keeps the prefixes"
    reprefixed = runner.invoke(cli_app, ["banks", "update", "--code", "WHB", "--prefix", "623999"])
    assert reprefixed.exit_code == 0, reprefixed.output
    assert rows(database, "select prefix from bank_card_prefixes") == [("623999",)]
    retired = runner.invoke(cli_app, ["banks", "retire", "--code", "WHB", "--on", "2025-03-01"])
    assert retired.exit_code == 0, retired.output
    assert "威海市商业银行自 2025-03-01 起停止合作" in retired.output
    listed = runner.invoke(cli_app, ["banks", "list"])
    assert listed.exit_code == 0
    assert "威海市商业银行" in listed.output
    assert "自 2025-03-01 起停止合作" in listed.output


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ["banks", "add", "--code", "ZZB", "--name", "某银行", "--prefix", "12"],
            "卡号前缀应为4至10位数字",
        ),
        (["banks", "add", "--code", "WHB", "--name", "另一家"], "银行代码 WHB 已存在"),
        (["banks", "update", "--code", "NOPE", "--name", "某银行"], "银行代码 NOPE 不存在"),
        (["banks", "retire", "--code", "WHB", "--on", "2025-02-09"], "停止合作日期不能早于今天"),
        (["banks", "retire", "--code", "WHB", "--on", "3/1"], "停止合作日期“3/1”格式不正确"),
    ],
)
def test_bank_commands_refuse_bad_input_in_chinese_and_exit_non_zero(
    database: str, arguments: list[str], message: str
) -> None:
    assert (
        runner.invoke(cli_app, ["banks", "add", "--code", "WHB", "--name", "威海银行"]).exit_code
        == 0
    )
    result = runner.invoke(cli_app, arguments)
    assert result.exit_code == 1
    assert message in result.output


@pytest.fixture
def cli_roll(database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Bank QLB, to retire on 1 March 2025, with one card on the roll; returns its number."""
    monkeypatch.setenv("GONGHUI_STORAGE_DIR", str(tmp_path / "storage"))
    code = make_credit_code("CLQ0001")
    files = {
        "units.csv": "单位名称,统一社会信用代码,行业,区县,上级工会\n"
        f"甲公司,{code},制造业,芝罘区,芝罘区总工会\n",
        "members.csv": "姓名,身份证号,手机号,统一社会信用代码,岗位类型,在职状态\n"
        f"甲,{make_id(sequence='101')},13700000001,{code},生产操作岗,在职\n",
        "cards.csv": f"{CARD_HEADER}6231680000000000101,{make_id(sequence='101')},QLB,2024-01-02\n",
    }
    assert (
        runner.invoke(cli_app, ["banks", "add", "--code", "QLB", "--name", "齐鲁银行"]).exit_code
        == 0
    )
    for name, content in files.items():
        (tmp_path / name).write_text(content)
        imported = runner.invoke(cli_app, ["members", "import", str(tmp_path / name)])
        assert imported.exit_code == 0, imported.output
    retired = runner.invoke(cli_app, ["banks", "retire", "--code", "QLB", "--on", "2025-03-01"])
    assert retired.exit_code == 0, retired.output
    return "6231680000000000101"


def test_the_balances_a_bank_sent_before_it_retires_import_from_the_command_line(
    cli_roll: str, tmp_path: Path
) -> None:
    # The service takes a retiring bank's rows dated before its retirement (the web page does
    # too); the command must not refuse the whole bank from the day its retirement is set.
    file = tmp_path / "qlb.csv"
    file.write_text(f"卡号,日期,日终余额\n{cli_roll},2025-02-09,100.00\n")
    result = runner.invoke(cli_app, ["insurance", "import-balances", str(file), "--bank", "QLB"])
    assert result.exit_code == 0, result.output


def test_a_plan_starting_before_a_banks_retirement_may_name_it_from_the_command_line(
    cli_roll: str,
) -> None:
    result = runner.invoke(
        cli_app,
        [
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
            "QLB",
            "--effective-from",
            "2025-02-10",
        ],
    )
    assert result.exit_code == 0, result.output
