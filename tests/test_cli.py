"""The `gonghui` command on a fresh SQLite file, as an operator would run it."""

from __future__ import annotations

from pathlib import Path

import pytest
import uvicorn
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from gonghui.cli import app
from gonghui.core.auth import Role
from gonghui.members.demo import DEMO_PASSWORD
from tests.world import make_credit_code, make_id

runner = CliRunner()


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("GONGHUI_DATABASE_URL", url)
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    return url


def scalar(url: str, sql: str) -> object:
    engine = create_engine(url)
    with engine.connect() as connection:
        value = connection.execute(text(sql)).scalar()
    engine.dispose()
    return value


def test_demo_load_builds_a_federation_with_a_login_per_role(database: str) -> None:
    result = runner.invoke(app, ["demo", "load", "--members", "400"])
    assert result.exit_code == 0, result.output
    assert "officer" in result.output
    assert DEMO_PASSWORD in result.output
    assert scalar(database, "select count(*) from members") == 400
    # One persona per role, the wallet's `relative` (insured) included.
    assert scalar(database, "select count(distinct role) from users") == len(Role)
    assert scalar(database, "select count(distinct bank_id) from cards") == 2
    again = runner.invoke(app, ["demo", "load", "--if-empty"])
    assert again.exit_code == 0
    assert "跳过" in again.output
    refused = runner.invoke(app, ["demo", "load"])
    assert refused.exit_code == 1


def test_demo_data_is_the_same_for_the_same_seed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = []
    for run in ("one", "two"):
        url = f"sqlite:///{tmp_path / run}.db"
        monkeypatch.setenv("GONGHUI_DATABASE_URL", url)
        runner.invoke(app, ["db", "upgrade"])
        assert runner.invoke(app, ["demo", "load", "--members", "50", "--seed", "7"]).exit_code == 0
        names.append(
            scalar(url, "select group_concat(name || id_masked || phone, ',') from members")
        )
    assert names[0] == names[1]


def test_an_import_with_bad_lines_exits_non_zero_and_lists_them(
    database: str, tmp_path: Path
) -> None:
    units = tmp_path / "units.csv"
    code = make_credit_code("CLQ0001")
    units.write_text(
        f"单位名称,统一社会信用代码,行业,区县,上级工会\n测试单位,{code},制造业,芝罘区,芝罘区总工会\n"
    )
    assert runner.invoke(app, ["members", "import", str(units)]).exit_code == 0
    members = tmp_path / "members.csv"
    members.write_text(
        "姓名,身份证号,手机号,统一社会信用代码,岗位类型,在职状态\n"
        f"甲,{make_id(sequence='101')},13700000001,{code},生产操作岗,在职\n"
        f"乙,{make_id(sequence='101')},13700000002,{code},生产操作岗,在职\n"
        f"丙,{make_id(sequence='103')},13700000003,{code},生产操作岗,离职\n",
        encoding="gbk",
    )
    result = runner.invoke(app, ["members", "import", str(members)])
    assert result.exit_code == 1
    assert "第3行：身份证号与第2行重复" in result.output
    assert "第4行：在职状态“离职”不正确" in result.output
    assert scalar(database, "select count(*) from members") == 0


def test_export_writes_a_workbook_that_imports_back(database: str, tmp_path: Path) -> None:
    runner.invoke(app, ["demo", "load", "--members", "60"])
    out = tmp_path / "members.xlsx"
    assert runner.invoke(app, ["members", "export", str(out)]).exit_code == 0
    back = runner.invoke(app, ["members", "import", str(out)])
    assert back.exit_code == 0, back.output
    assert "新增0，更新0，未变60" in back.output


def test_users_create_makes_a_login(database: str) -> None:
    runner.invoke(app, ["demo", "load", "--members", "20"])
    result = runner.invoke(
        app,
        ["users", "create", "--username", "yt-bank", "--role", "bank_operator", "--bank", "YTB"],
        input="long-password-1\nlong-password-1\n",
    )
    assert result.exit_code == 0, result.output
    missing_bank = runner.invoke(
        app,
        [
            "users",
            "create",
            "--username",
            "x",
            "--role",
            "bank_operator",
            "--password",
            "long-password-1",
        ],
    )
    assert missing_bank.exit_code == 1
    assert "必须指定所属银行" in missing_bank.output


def test_users_create_opens_an_administrators_account_and_reset_2fa_clears_it(
    database: str,
) -> None:
    result = runner.invoke(
        app,
        ["users", "create", "--username", "sec2", "--role", "security_admin",
         "--password", "Strong-pass-1"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "首次登录须修改初始密码" in result.output
    assert scalar(database, "select role from users where username = 'sec2'") == "security_admin"
    weak = runner.invoke(
        app,
        ["users", "create", "--username", "aud2", "--role", "audit_admin",
         "--password", "weakpassword"],
    )  # fmt: skip
    assert weak.exit_code == 1
    assert "至少三类" in weak.output
    unknown = runner.invoke(app, ["users", "reset-2fa", "--username", "nobody"])
    assert unknown.exit_code == 1
    assert "用户 nobody 不存在" in unknown.output
    reset = runner.invoke(app, ["users", "reset-2fa", "--username", "sec2"])
    assert reset.exit_code == 0, reset.output
    assert scalar(database, "select count(*) from audit_log where action = 'auth.2fa_reset'") == 1


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ["fund", "--insured", "1", "--amount", "99999999999999999", "--key", "k"],
            "划入金额超出上限",
        ),
        (["fund", "--insured", "1", "--amount", "1e3", "--key", "k"], "划入金额“1e3”格式不正确"),
        (
            ["fund", "--insured", "1", "--amount", "2500,00", "--key", "k"],
            "划入金额“2500,00”格式不正确",
        ),
        (["settlement", "--month", "2025-1"], "月份“2025-1”格式不正确"),
        (["settlement", "--month", "2099-01"], "2099-01尚未结束，清算只列已结束的月份"),
        (["open-region", "370600", "--on", "2025-02-30"], "开通日期“2025-02-30”不存在"),
    ],
    ids=["past-the-bound", "exponent", "comma-decimal", "month", "month-not-ended", "date"],
)
def test_wallet_commands_refuse_bad_input_with_a_message_not_a_traceback(
    database: str, arguments: list[str], message: str
) -> None:
    result = runner.invoke(app, ["wallet", *arguments])
    assert result.exit_code == 1
    assert message in "".join(result.output.split())
    assert "Traceback" not in result.output


def test_bad_configuration_exits_with_a_clear_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GONGHUI_DATABASE_URL", "oracle://nowhere")
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 2
    assert "配置不正确" in result.output


def test_serve_leaves_proxy_headers_to_the_app_and_sends_no_server_header(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """uvicorn's own X-Forwarded-For handling believes any peer on loopback, and its
    `server: uvicorn` header tells a scanner what runs here."""
    seen: dict[str, object] = {}
    monkeypatch.setattr(uvicorn, "run", lambda _app, **options: seen.update(options))
    # Multiprocess metrics would switch this test process's figures to files for good.
    monkeypatch.setattr("gonghui.cli.use_multiprocess", lambda _settings: None)
    result = runner.invoke(app, ["serve"])
    assert result.exit_code == 0, result.output
    assert seen["proxy_headers"] is False
    assert seen["server_header"] is False
