"""`gonghui retirement …` as other tools call it: exact JSON, and clear refusals.

Expected answers come from the domain note (办法 附件1–3 examples, the 国发〔2005〕38号 synthetic
checks) and from the rule worked by hand: window = [max(original, statutory − 36), statutory + 36]
months of age; minimum contribution 15 years through 2029, +6 months a year, 20 from 2039.
"""

from __future__ import annotations

import json
from io import BytesIO
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from gonghui.cli import app

runner = CliRunner()


def age(category: str, birth: str) -> dict[str, object]:
    result = runner.invoke(
        app, ["retirement", "age", "--category", category, "--birth", birth, "--json"]
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_age_prints_one_json_object_with_exactly_the_documented_keys() -> None:
    assert age("male", "1965-01") == {
        "category": "male",
        "birth": "1965-01",
        "original_age_months": 720,
        "statutory_age_months": 721,
        "delay_months": 1,
        "retirement_month": "2025-02",
        "earliest_month": "2025-01",
        "latest_month": "2028-02",
        "min_contribution_months": 180,
    }


@pytest.mark.parametrize(
    ("category", "birth", "statutory", "retirement", "earliest", "latest", "minimum"),
    [
        # Examples of the domain note (办法 附件1–3).
        ("male", "1964-12", 720, "2024-12", "2024-12", "2027-12", 180),
        ("male", "1965-05", 722, "2025-07", "2025-05", "2028-07", 180),
        ("female55", "1970-06", 662, "2025-08", "2025-06", "2028-08", 180),
        ("female50", "1975-03", 602, "2025-05", "2025-03", "2028-05", 180),
        ("female50", "1984-11", 660, "2039-11", "2036-11", "2042-11", 240),
        # The men's cap (63) from 1976-09; a year of the rising minimum (2032: 16年6个月).
        ("male", "1976-09", 756, "2039-09", "2036-09", "2042-09", 240),
        ("male", "1971-01", 739, "2032-08", "2031-01", "2035-08", 198),
    ],
)
def test_age_matches_the_published_schedule(
    category: str,
    birth: str,
    statutory: int,
    retirement: str,
    earliest: str,
    latest: str,
    minimum: int,
) -> None:
    answer = age(category, birth)
    assert answer["statutory_age_months"] == statutory
    assert answer["delay_months"] == statutory - answer["original_age_months"]
    assert (answer["retirement_month"], answer["earliest_month"], answer["latest_month"]) == (
        retirement,
        earliest,
        latest,
    )
    assert answer["min_contribution_months"] == minimum


def test_age_without_json_prints_a_chinese_summary() -> None:
    result = runner.invoke(app, ["retirement", "age", "--category", "male", "--birth", "1980-01"])
    assert result.exit_code == 0
    for text_ in ("2043年1月", "63岁", "2040年1月", "2046年1月", "20年（按2043年）"):
        assert text_ in result.output


def pension(*, balance: str = "200000", age_months: str = "720", years: str = "35") -> list[str]:
    return [
        "retirement",
        "pension",
        "--base",
        "10000",
        "--index",
        "1.0",
        "--contribution-years",
        years,
        f"--account-balance={balance}",
        "--age-months",
        age_months,
        "--json",
    ]


@pytest.mark.parametrize(
    ("age_months", "divisor", "account", "total"),
    [
        # 国发〔2005〕38号 synthetic checks: C=10000, I=1.0, N=35 → 基础 3500.00.
        ("720", "139.0", "1438.85", "4938.85"),
        ("723", "137.3", "1456.66", "4956.66"),
        # 50岁1个月 → 194.6: 200000 / 194.6 = 1027.749…; 55岁1个月 → 169.5: 1179.941…
        ("601", "194.6", "1027.75", "4527.75"),
        ("661", "169.5", "1179.94", "4679.94"),
    ],
)
def test_pension_prints_the_divisor_and_yuan_strings(
    age_months: str, divisor: str, account: str, total: str
) -> None:
    result = runner.invoke(app, pension(age_months=age_months))
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {
        "divisor": divisor,
        "basic_pension": "3500.00",
        "account_pension": account,
        "total": total,
    }


@pytest.mark.parametrize(
    ("years", "basic"),
    [
        # The 待遇核定表 prints N as decimals; the formula uses the printed figure:
        # 10000 × (1 + 1.0) / 2 × 42.58 × 1% = 4258.00 (not 511 months' 4258.33).
        ("42.58", "4258.00"),
        ("31.5833", "3158.33"),
        # Years and months are exact: 379 / 12 years → 3158.333… → 3158.33.
        ("31年7个月", "3158.33"),
        ("42年7个月", "4258.33"),
    ],
)
def test_pension_takes_contribution_years_as_the_forms_print_them(years: str, basic: str) -> None:
    result = runner.invoke(app, pension(years=years))
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["basic_pension"] == basic


def test_pension_without_json_prints_yuan_as_people_read_it() -> None:
    arguments = pension()[:-1]
    result = runner.invoke(app, arguments)
    assert result.exit_code == 0
    assert "¥4,938.85" in result.output
    assert "60岁退休" in result.output


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["age", "--category", "male", "--birth", "1980-13", "--json"], "月份必须在1到12之间：13"),
        (["age", "--category", "female60", "--birth", "1980-01"], "未知的人员类别"),
        (["age", "--category", "male", "--birth", "1980/01"], "年月格式应为 YYYY-MM"),
        (pension(balance="-100")[1:], "个人账户储存额不能为负数"),
        (pension(age_months="900")[1:], "退休年龄75岁0个月不在计发月数表"),
        (pension(age_months="479")[1:], "不在计发月数表"),
        (pension(age_months="六十岁")[1:], "退休年龄应为整数个月"),
        (pension(balance="1.234")[1:], "个人账户储存额最多两位小数：1.234"),
        (pension(balance="1e30")[1:], "个人账户储存额“1e30”格式不正确"),
        (pension(years="31年12个月")[1:], "缴费年限的月数应为 0 至 11：31年12个月"),
        (pension(years="1e1")[1:], "缴费年限应为年数（如 35、31.5833）或年月（如 31年7个月）：1e1"),
        (pension(age_months="9" * 30)[1:], "退休年龄应为整数个月（0–1200）"),
    ],
    ids=[
        "month-13",
        "unknown-category",
        "bad-month-form",
        "negative-balance",
        "age-above-table",
        "age-below-table",
        "age-not-a-number",
        "three-decimals",
        "exponent",
        "twelve-months",
        "years-exponent",
        "age-past-its-bound",
    ],
)
def test_bad_input_exits_non_zero_with_a_chinese_message(
    arguments: list[str], message: str
) -> None:
    result = runner.invoke(app, ["retirement", *arguments])
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output


# --- The impact report against a database


@pytest.fixture
def federation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("GONGHUI_DATABASE_URL", url)
    monkeypatch.setenv("GONGHUI_CLOCK_FIXED", "2025-02-10T09:00:00+08:00")
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(app, ["demo", "load", "--members", "120"]).exit_code == 0
    return url


def first_unit(url: str) -> tuple[str, str]:
    engine = create_engine(url)
    with engine.connect() as connection:
        row = connection.execute(
            text("select credit_code, name from units order by id limit 1")
        ).one()
    engine.dispose()
    return row[0], row[1]


def test_impact_prints_the_years_and_writes_the_workbook(federation: str, tmp_path: Path) -> None:
    out = tmp_path / "影响.xlsx"
    result = runner.invoke(app, ["retirement", "impact", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "自2025年2月起" in result.output
    assert "2039" in result.output
    workbook = load_workbook(BytesIO(out.read_bytes()))
    assert workbook.sheetnames == [
        "概况",
        "逐年",
        "按单位",
        "按行业",
        "单位逐年",
        "行业逐年",
        "未来12个月退休",
    ]
    years = [row[0] for row in workbook["逐年"].iter_rows(min_row=2, values_only=True)]
    assert years == list(range(2025, 2040))


def test_impact_for_one_unit(federation: str) -> None:
    code, name = first_unit(federation)
    result = runner.invoke(app, ["retirement", "impact", "--unit", code])
    assert result.exit_code == 0, result.output
    assert name in result.output


def test_impact_refuses_an_unknown_unit_and_a_wrong_file_name(federation: str) -> None:
    unknown = runner.invoke(app, ["retirement", "impact", "--unit", "91370602MA3C00000X"])
    assert unknown.exit_code == 1
    assert "单位不存在或您无权查看" in unknown.output
    wrong = runner.invoke(app, ["retirement", "impact", "--out", "report.csv"])
    assert wrong.exit_code == 1
    assert ".xlsx" in wrong.output
