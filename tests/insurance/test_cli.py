"""`gonghui insurance …` on a fresh SQLite file, as the operators run it."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from gonghui.cli import app
from tests.insurance import bank_rules
from tests.insurance.test_edges import PERIOD_OPEN

runner = CliRunner()


@pytest.fixture
def federation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """A small demo federation (which has its own plan) and a second plan "YT"; returns (card
    number, bank code) of every employed member's card."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("GONGHUI_DATABASE_URL", url)
    monkeypatch.setenv("GONGHUI_STORAGE_DIR", str(tmp_path / "storage"))
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(app, ["demo", "load", "--members", "40"]).exit_code == 0
    created = runner.invoke(
        app,
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
            "YTB",
            "--bank",
            "QLB",
            "--effective-from",
            "2024-01-01",
            "--enroll-all-units",
        ],
    )
    assert created.exit_code == 0, created.output
    engine = create_engine(url)
    with engine.connect() as connection:
        cards = connection.execute(
            text(
                "SELECT c.card_no, b.code FROM cards c JOIN banks b ON b.id = c.bank_id "
                "JOIN members m ON m.id = c.member_id WHERE m.employment_status = 'employed' "
                "ORDER BY c.id"
            )
        ).all()
    engine.dispose()
    return [(card_no, code) for card_no, code in cards]


def test_import_assess_and_ask_a_cards_standing(
    federation: list[tuple[str, str]], tmp_path: Path
) -> None:
    ytb = [card for card, bank in federation if bank == "YTB"][:3]
    file = tmp_path / "ytb-2025-01.csv"
    # Card 1: 2,500 all month; card 2: 1,000; card 3: nothing before the 17th, then 6,200.
    file.write_text(
        "卡号,日期,日终余额\n"
        f"{ytb[0]},2024-12-31,2500.00\n{ytb[1]},2025-01-01,1000.00\n{ytb[2]},2025-01-17,6200.00\n",
        encoding="gbk",
    )
    imported = runner.invoke(app, ["insurance", "import-balances", str(file), "--bank", "YTB"])
    assert imported.exit_code == 0, imported.output
    assessed = runner.invoke(
        app, ["insurance", "assess", "--period", "2025-01", "--plan", "YT", "--json"]
    )
    summary = json.loads(assessed.stdout)
    assert summary == {
        "period": "2025-01",
        "cards_assessed": summary["cards_assessed"],
        "eligible": 2,
        "ineligible": summary["cards_assessed"] - 2,
        "banks_missing": [],
        "snapshot": summary["snapshot"],
    }
    again = runner.invoke(
        app, ["insurance", "assess", "--period", "2025-01", "--plan", "YT", "--json"]
    )
    # The same figures; the run records its own snapshot of what it read (replayable).
    rerun = json.loads(again.stdout)
    assert rerun["snapshot"] != summary["snapshot"]
    assert rerun | {"snapshot": None} == summary | {"snapshot": None}
    standing = runner.invoke(
        app,
        ["insurance", "balance", "--card", ytb[1], "--period", "2025-01", "--plan", "YT", "--json"],
    )
    assert json.loads(standing.stdout) == {
        "average_daily_balance": "1000.00",
        "days": 31,
        "eligible": False,
    }
    words = runner.invoke(
        app, ["insurance", "balance", "--card", ytb[2], "--period", "2025-01", "--plan", "YT"]
    )
    assert "您2025年1月日均余额为¥3,000.00，已达到¥2,000.00" in words.output


def test_a_bad_balance_file_exits_non_zero_with_its_lines(
    federation: list[tuple[str, str]], tmp_path: Path
) -> None:
    qlb = next(card for card, bank in federation if bank == "QLB")
    file = tmp_path / "bad.csv"
    file.write_text(f"卡号,日期,日终余额\n{qlb},2025-01-01,10.00\n123,2025-01-01,1\n")
    result = runner.invoke(app, ["insurance", "import-balances", str(file), "--bank", "YTB"])
    assert result.exit_code == 1
    assert f"第2行：卡号 {qlb} 不是本行（烟台银行）已登记的会员卡" in result.output
    assert "第3行：卡号 123 不是本行（烟台银行）已登记的会员卡" in result.output


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["assess", "--period", "2025-13"], "应为 YYYY-MM"),
        (["assess", "--period", "2025-01"], "存在多个保险计划"),
        (["assess", "--period", "2025-01", "--plan", "NOPE"], "不存在"),
        (["balance", "--card", "0000", "--period", "2025-01", "--plan", "YT"], "不存在"),
        (["import-balances", "{file}", "--bank", "ZZZ"], "银行代码 ZZZ 不存在"),
    ],
)
def test_bad_input_exits_non_zero_in_chinese(
    federation: list[tuple[str, str]], tmp_path: Path, arguments: list[str], message: str
) -> None:
    file = tmp_path / "x.csv"
    file.write_text("卡号,日期,日终余额\n")
    result = runner.invoke(app, ["insurance", *[a.replace("{file}", str(file)) for a in arguments]])
    assert result.exit_code == 1
    assert message in result.output


def test_the_trial_calculation_from_the_command_line(
    federation: list[tuple[str, str]], tmp_path: Path
) -> None:
    card = federation[0][0]
    # A member the demo's own plan covers, on the first day of their cover.
    engine = create_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    with engine.connect() as connection:
        covered_card, plan_code, starts_on = connection.execute(
            text(
                "SELECT c.card_no, p.code, v.starts_on FROM insurance_coverages v "
                "JOIN cards c ON c.id = v.card_id JOIN insurance_plans p ON p.id = v.plan_id "
                "ORDER BY v.id LIMIT 1"
            )
        ).one()
    engine.dispose()
    result = runner.invoke(
        app,
        ["insurance", "estimate", "--card", covered_card, "--admission", str(starts_on),
         "--eligible-amount", "100", "--plan", plan_code, "--json"],
    )  # fmt: skip
    answer = json.loads(result.stdout)
    assert (answer["covered"], answer["payable"]) == (True, "100.00")
    assert Decimal(answer["remaining_before"]) - Decimal(answer["remaining_after"]) == 100
    # A stay no cover includes (plan YT has assessed nobody yet): the trial says why and
    # promises nothing, where it used to promise the whole cap.
    uncovered = runner.invoke(
        app,
        ["insurance", "estimate", "--card", card, "--admission", "2025-03-02",
         "--eligible-amount", "60000", "--plan", "YT", "--json"],
    )  # fmt: skip
    answer = json.loads(uncovered.stdout)
    assert (answer["covered"], answer["payable"]) == (False, "0.00")
    assert "该会员" in answer["not_covered_reason"]
    bad = runner.invoke(
        app,
        [
            "insurance",
            "estimate",
            "--card",
            card,
            "--admission",
            "2025-13-01",
            "--eligible-amount",
            "1",
            "--plan",
            "YT",
        ],
    )
    assert bad.exit_code == 1
    assert "入院日期“2025-13-01”不存在" in bad.output


def _flat(output: str) -> str:
    """The console wraps long lines; compare without the whitespace."""
    return "".join(output.split())


def test_the_command_line_refuses_a_bank_file_line_for_line_as_the_page_and_api_do(
    federation: list[tuple[str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GONGHUI_CLOCK_FIXED", bank_rules.CLOCK)
    card = next(card for card, bank in federation if bank == "YTB")
    file = tmp_path / "ytb.csv"
    file.write_text(bank_rules.csv_text(card), encoding="gbk")
    result = runner.invoke(app, ["insurance", "import-balances", str(file), "--bank", "YTB"])
    assert result.exit_code == 1
    for line in [*bank_rules.expected(), bank_rules.HEADLINE]:
        assert _flat(line) in _flat(result.output)


def _last_reported(tmp_path: Path) -> str:
    engine = create_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    with engine.connect() as connection:
        last = connection.execute(
            text("SELECT max(last_date) FROM insurance_balance_imports")
        ).scalar_one()
    engine.dispose()
    return str(last)[:10]


def test_the_command_line_refuses_an_unfinished_or_unreported_month_as_the_page_and_api_do(
    federation: list[tuple[str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GONGHUI_CLOCK_FIXED", bank_rules.CLOCK)
    command = ["insurance", "assess", "--plan", "YT", "--period"]
    unfinished = runner.invoke(app, [*command, "2025-02"])
    assert unfinished.exit_code == 1
    assert _flat(PERIOD_OPEN) in _flat(unfinished.output)
    # Months after the demo's files end: both banks are late.
    monkeypatch.setenv("GONGHUI_CLOCK_FIXED", "2030-03-10T09:00:00+08:00")
    reached = _last_reported(tmp_path)
    late = runner.invoke(app, [*command, "2030-01"])
    assert late.exit_code == 1
    assert _flat(
        "以下银行的余额文件尚未报送至 2030-01-31，暂不能考核 2030-01："
        f"烟台银行（已报送至 {reached}）、齐鲁银行（已报送至 {reached}）"
    ) in _flat(late.output)
    anyway = runner.invoke(app, [*command, "2030-01", "--allow-missing-banks", "--json"])
    assert anyway.exit_code == 0, anyway.output
    assert json.loads(anyway.stdout)["banks_missing"] == ["YTB", "QLB"]
