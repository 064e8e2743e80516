"""The retirement pages and API on the shared cast, as of 2025-02-10.

The cast (tests/world.py): member_a, a male production worker born 1980-01-15 in unit_a
(63岁, 2043-01, 36 months' delay); member_b, a woman on a management-technical post born
1972-03-04 in unit_b (原55岁: n=26 → 7 months' delay, 55岁7个月, 2027-10).
"""

from __future__ import annotations

import io
import re

from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy.orm import Session

from gonghui.core.auth import Role
from gonghui.members import accounts
from gonghui.members.models import Member
from tests.captions import captions_of_charts
from tests.conftest import NOW
from tests.world import PASSWORD, SETUP, World, login

PENSION = {
    "base": "10000",
    "index": "1.0",
    "years": "20",
    "balance": "100000",
    "monthly": "800",
    "rate": "2.5",
}


def points(html: str) -> int:
    return len(re.findall(r'<circle class="point"', html))


# --- The public calculator


def test_the_calculator_needs_no_login_and_is_linked_from_the_login_page(
    client: TestClient,
) -> None:
    assert 'href="/retirement"' in client.get("/login").text
    page = client.get("/retirement")
    assert page.status_code == 200
    assert "退休年龄与养老金测算" in page.text
    assert 'data-testid="age-result"' not in page.text


def test_it_shows_the_statutory_month_window_and_minimum_years(client: TestClient) -> None:
    page = client.get("/retirement", params={"category": "male", "birth": "1965-01"})
    assert page.status_code == 200
    assert 'data-testid="retirement-month">2025年2月<' in page.text
    assert "60岁1个月" in page.text
    assert "延迟1个月" in page.text
    assert "最早2025年1月" in page.text
    assert "最晚2028年2月" in page.text
    assert "15年" in page.text
    assert "国家另有规定" in page.text


def test_the_year_and_month_lists_give_the_same_answer_and_stay_chosen(client: TestClient) -> None:
    page = client.get(
        "/retirement", params={"category": "male", "birth_year": "1965", "birth_month": "1"}
    )
    assert page.status_code == 200
    assert 'data-testid="retirement-month">2025年2月<' in page.text
    assert '<option value="1965" selected>1965年</option>' in page.text
    assert '<option value="1" selected>1月</option>' in page.text


def test_the_estimate_charts_every_month_of_the_window_still_ahead(client: TestClient) -> None:
    # Window 2025-01…2028-02; from this month (2025-02) on: 37 months.
    page = client.get("/retirement", params={"category": "male", "birth": "1965-01", **PENSION})
    assert page.status_code == 200
    assert 'data-testid="pension-chart"' in page.text
    assert points(page.text) == 37
    assert "未满最低缴费年限" not in page.text
    assert "逐月明细（37个月）" in page.text


def test_months_short_of_the_minimum_years_are_marked(client: TestClient) -> None:
    # 14 years paid by 2025-02: the 15-year minimum is reached only 12 months later.
    params = {"category": "male", "birth": "1965-01", **PENSION, "years": "14"}
    page = client.get("/retirement", params=params).text
    assert "未满最低缴费年限" in page
    assert len(re.findall(r'<circle class="point"[^>]*fill="#c8161d"', page)) == 12
    assert "缴费年限差1年" in page


def test_optional_provincial_amounts_are_added_only_when_given(client: TestClient) -> None:
    params = {"category": "male", "birth": "1980-01", **PENSION, "transitional": "300.50"}
    page = client.get("/retirement", params=params).text
    assert "合计已含您填写的过渡性养老金" in page
    plain = client.get("/retirement", params={"category": "male", "birth": "1980-01", **PENSION})
    assert "合计已含" not in plain.text


def test_a_bad_birth_month_is_refused_in_chinese(client: TestClient) -> None:
    page = client.get("/retirement", params={"category": "male", "birth": "1980-13"})
    assert page.status_code == 422
    assert "月份必须在1到12之间：13" in page.text


def test_a_half_filled_estimate_names_the_missing_fields(client: TestClient) -> None:
    params = {"category": "male", "birth": "1980-01", "base": "10000", "years": ""}
    page = client.get("/retirement", params=params)
    assert page.status_code == 422
    assert "请填写：已缴费年限、个人账户储存额、每月记入个人账户的缴费、记账利率" in page.text
    assert 'data-testid="retirement-month">2043年1月<' in page.text, "the age part still shows"


# --- 我的退休


def test_a_member_sees_their_own_retirement_prefilled(client: TestClient) -> None:
    login(client, "member")
    page = client.get("/retirement/me")
    assert page.status_code == 200
    assert "男，生产操作岗，1980年1月出生" in page.text
    assert 'data-testid="retirement-month">2043年1月<' in page.text
    assert 'name="birth"' not in page.text, "the birth month comes from the record"


def _sign_in_member_b(client: TestClient, db: Session, world: World) -> None:
    member = db.get(Member, world.member_b)
    accounts.create_user(
        db,
        username="member-b",
        password=PASSWORD,
        role=Role.MEMBER,
        display_name="周秀英",
        member=member,
        actor=SETUP,
        now=NOW,
    )
    db.commit()
    login(client, "member-b")


def test_a_woman_is_placed_by_her_post_and_may_correct_it(
    client: TestClient, db: Session, world: World
) -> None:
    _sign_in_member_b(client, db, world)
    page = client.get("/retirement/me").text
    assert "女职工·管理技术岗（原55周岁）" in page
    assert 'data-testid="retirement-month">2027年10月<' in page
    assert "55岁7个月" in page
    corrected = client.get("/retirement/me", params={"category": "female50"}).text
    assert 'data-testid="retirement-month">2022年3月<' in corrected
    assert "不在延迟范围内" in corrected


# --- The impact report


def test_staff_see_every_unit_in_the_impact_report(client: TestClient) -> None:
    login(client, "federation_staff")
    page = client.get("/retirement/impact")
    assert page.status_code == 200
    assert "烟台甲机械有限公司" in page.text
    assert "烟台乙建设有限公司" in page.text
    assert page.text.count('<rect class="bar"') == 30, "15 years × 2 series"
    assert len(captions_of_charts(page.text)) == 2
    report = client.get("/api/v1/retirement/impact").json()
    assert report["as_of"] == "2025-02"
    total = report["total"]
    assert (total["members"], total["affected"], total["extra_months"]) == (2, 2, 43)
    assert total["extra_months_per_member"] == "21.5"
    retiring = {year["year"]: year["retiring_new"] for year in total["years"]}
    assert retiring[2027] == 1
    assert sum(retiring.values()) == 1, "member_a retires in 2043, past the horizon"


def test_an_officer_sees_only_their_own_unit(client: TestClient, world: World) -> None:
    login(client, "unit_officer")
    page = client.get("/retirement/impact").text
    assert "烟台甲机械有限公司" in page
    assert "烟台乙建设有限公司" not in page
    report = client.get("/api/v1/retirement/impact").json()
    assert [unit["key"] for unit in report["by_unit"]] == [world.unit_a_code]
    assert report["total"]["extra_months"] == 36
    other = client.get("/retirement/impact", params={"unit": world.unit_b_code})
    assert other.status_code == 404
    api_other = client.get("/api/v1/retirement/impact", params={"unit": world.unit_b_code})
    assert api_other.json()["error"]["code"] == "not_found"
    workbook = load_workbook(io.BytesIO(client.get("/retirement/impact.xlsx").content))
    codes = [row[1] for row in workbook["按单位"].iter_rows(min_row=2, values_only=True)]
    assert codes == [world.unit_a_code]


def test_the_report_narrows_to_a_unit_or_an_industry(client: TestClient, world: World) -> None:
    login(client, "federation_staff")
    one = client.get("/api/v1/retirement/impact", params={"unit": world.unit_b_code}).json()
    assert one["scope"] == "烟台乙建设有限公司"
    assert [unit["key"] for unit in one["by_unit"]] == [world.unit_b_code]
    none = client.get("/api/v1/retirement/impact", params={"industry": "教育"}).json()
    assert none["total"]["members"] == 0
    page = client.get("/retirement/impact", params={"industry": "教育"}).text
    assert "暂无数据" in page


def test_the_export_is_a_workbook_with_a_chinese_file_name(client: TestClient) -> None:
    login(client, "admin")
    response = client.get("/retirement/impact.xlsx")
    assert response.status_code == 200
    assert "filename*=UTF-8''" in response.headers["content-disposition"]
    workbook = load_workbook(io.BytesIO(response.content))
    assert "未来12个月退休" in workbook.sheetnames
    overview = dict(workbook["概况"].iter_rows(min_row=2, values_only=True))
    assert overview["在岗会员"] == 2
    assert overview["延长工作月数合计"] == 43


def test_members_and_other_roles_may_not_see_the_impact_report(client: TestClient) -> None:
    assert client.get("/api/v1/retirement/impact").status_code == 401
    login(client, "member")
    assert client.get("/retirement/impact").status_code == 403
    assert client.get("/api/v1/retirement/impact").status_code == 403


# --- The public API


def test_the_age_api_answers_like_the_cli(client: TestClient) -> None:
    answer = client.get(
        "/api/v1/retirement/age", params={"category": "female50", "birth": "1984-11"}
    )
    assert answer.json() == {
        "category": "female50",
        "birth": "1984-11",
        "original_age_months": 600,
        "statutory_age_months": 660,
        "delay_months": 60,
        "retirement_month": "2039-11",
        "earliest_month": "2036-11",
        "latest_month": "2042-11",
        "min_contribution_months": 240,
    }


def test_the_pension_api_answers_like_the_cli(client: TestClient) -> None:
    params = {
        "base": "10000",
        "index": "1.0",
        "contribution_years": "35",
        "account_balance": "200000",
        "age_months": "723",
    }
    assert client.get("/api/v1/retirement/pension", params=params).json() == {
        "divisor": "137.3",
        "basic_pension": "3500.00",
        "account_pension": "1456.66",
        "total": "4956.66",
    }


def test_the_pension_api_takes_contribution_years_as_printed_or_in_years_and_months(
    client: TestClient,
) -> None:
    params = {"base": "10000", "index": "1.0", "account_balance": "200000", "age_months": "720"}
    for years, basic in (("42.58", "4258.00"), ("42年7个月", "4258.33")):
        answer = client.get(
            "/api/v1/retirement/pension", params={**params, "contribution_years": years}
        )
        assert answer.json()["basic_pension"] == basic
    huge = client.get(
        "/api/v1/retirement/pension",
        params={**params, "contribution_years": "35", "account_balance": "1e30"},
    )
    assert huge.status_code == 422
    assert huge.json()["error"]["code"] == "bad_amount"


def test_bad_api_input_is_a_422_with_the_rule_code_and_message(client: TestClient) -> None:
    month = client.get("/api/v1/retirement/age", params={"category": "male", "birth": "1980-13"})
    assert month.status_code == 422
    assert month.json() == {"error": {"code": "bad_month", "message": "月份必须在1到12之间：13"}}
    category = client.get("/api/v1/retirement/age", params={"category": "x", "birth": "1980-01"})
    assert category.json()["error"]["code"] == "unknown_category"
    params = {
        "base": "10000",
        "index": "1.0",
        "contribution_years": "35",
        "account_balance": "100",
        "age_months": "900",
    }
    table = client.get("/api/v1/retirement/pension", params=params)
    assert table.status_code == 422
    assert table.json()["error"]["code"] == "age_outside_table"
    missing = client.get("/api/v1/retirement/age", params={"category": "male"})
    assert missing.status_code == 422
    assert missing.json()["error"]["code"] == "invalid_request"


def test_the_retirement_api_is_in_the_openapi_schema(client: TestClient) -> None:
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert {
        "/api/v1/retirement/age",
        "/api/v1/retirement/pension",
        "/api/v1/retirement/impact",
    } <= set(paths)
    assert not any(path.startswith("/retirement") for path in paths)
