"""一卡一计划 end to end in a real browser, as the seed describes it: the bank sends balances,
the federation assesses, the member claims online with zero legwork, the insurer pays, and the
federation's four figures move."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gonghui.members.models import Card, Member, User
from tests.browser.conftest import PHONE, LiveServer, screen, sign_in

pytestmark = pytest.mark.browser
DESKTOP = {"width": 1280, "height": 900}
PDF = b"%PDF-1.4\n% claim document\n"
PNG = b"\x89PNG\r\n\x1a\n demo image"


def figures(browser: Any, server: LiveServer) -> dict[str, Decimal]:
    page = sign_in(browser, server, "staff", DESKTOP)
    page.goto(server.url + "/insurance/dashboard")
    read = {
        name: Decimal(re.sub(r"[^\d.]", "", page.get_by_test_id(name).inner_text()))
        for name in ("units", "person-times", "claims-concluded", "paid")
    }
    page.close()
    return read


def persona_card(server: LiveServer) -> str:
    with Session(server.engine) as session:
        return (
            session.scalars(
                select(Card.card_no)
                .join(Member, Member.id == Card.member_id)
                .join(User, User.member_id == Member.id)
                .where(User.username == "member")
            ).first()
            or ""
        )


def bank_sends_february(browser: Any, server: LiveServer, tmp_path: Path) -> None:
    """The bank sends the rest of February: the member kept 9,000 yuan from the 11th."""
    card = persona_card(server)
    balances = tmp_path / "烟台银行-2025-02.csv"
    rows = "".join(f"{card},2025-02-{day:02d},9000.00\n" for day in range(11, 29))
    balances.write_text("卡号,日期,日终余额\n" + rows, encoding="gbk")
    bank = sign_in(browser, server, "bank", DESKTOP)
    bank.goto(server.url + "/insurance/balances")
    bank.get_by_label("选择余额文件").set_input_files(str(balances))
    bank.get_by_role("button", name="上传").click()
    assert "新增18行" in bank.get_by_role("status").inner_text()
    bank.close()


def federation_assesses_february(browser: Any, server: LiveServer) -> None:
    """Issue 11's acceptance: the assessment started from its page runs on the worker, and
    its page's bar moves to the result without a reload."""
    staff = sign_in(browser, server, "staff", DESKTOP)
    staff.goto(server.url + "/insurance/assessments")
    staff.get_by_label("考核月份").fill("2025-02")
    staff.get_by_role("button", name="运行考核").click()
    # Only 烟台银行 sent the rest of February: the page says who is late and keeps the month.
    refusal = staff.get_by_test_id("assessment-error").inner_text()
    assert "齐鲁银行（已报送至" in refusal
    assert staff.get_by_label("考核月份").input_value() == "2025-02"
    staff.get_by_label("有银行未报送至期末时仍然考核").check()
    assert server.worker is not None
    with server.worker.held():
        staff.get_by_role("button", name="运行考核").click()
        staff.wait_for_url("**/jobs/tasks/*")
        assert staff.get_by_test_id("task-status").inner_text() == "排队中"
        assert staff.get_by_test_id("task-percent").inner_text() == "0%"
        # What the bar shows, sampled in the page itself: a reload would lose the samples.
        staff.evaluate(
            """() => {
                const bar = document.querySelector('[data-testid="task-bar"]');
                window.seen = [];
                setInterval(() => window.seen.push(bar.value / bar.max), 20);
            }"""
        )
    staff.get_by_test_id("task-result").wait_for(state="visible", timeout=30_000)
    assert staff.get_by_test_id("task-status").inner_text() == "已完成"
    assert staff.get_by_test_id("task-percent").inner_text() == "100%"
    assert "2025-02 考核完成" in staff.get_by_test_id("task-summary").inner_text()
    assert "QLB 的余额未报送至期末" in staff.get_by_test_id("task-summary").inner_text()
    seen = staff.evaluate("() => window.seen")
    assert seen[0] == 0
    assert seen[-1] == 1
    assert seen == sorted(seen)  # never backwards
    # On a phone the page fits the screen: no sideways scrolling, the bar within it.
    staff.set_viewport_size(PHONE)
    staff.reload()
    assert staff.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    bar = staff.get_by_test_id("task-bar").bounding_box()
    assert bar is not None
    assert bar["x"] >= 0
    assert bar["x"] + bar["width"] <= PHONE["width"]
    staff.get_by_test_id("task-link").click()
    staff.wait_for_url("**/insurance/assessments")
    assert "2025-02" in staff.get_by_test_id("runs").inner_text()
    staff.close()


def member_claims_on_a_phone(browser: Any, server: LiveServer, tmp_path: Path) -> str:
    member = sign_in(browser, server, "member", PHONE)
    # Medical documents are sensitive personal information: the member agrees to their
    # processing, on its own, before the first claim (PIPL art. 29).
    member.goto(server.url + "/me/consents")
    member.get_by_test_id("consent-medical_documents").get_by_role("button", name="同意").click()
    assert "已同意" in member.get_by_test_id("consent-medical_documents").inner_text()
    member.goto(server.url + "/insurance/me")
    assert member.get_by_test_id("cover-status").inner_text() == "本月已获赠补充住院医疗保险"
    member.get_by_role("link", name="申请理赔").click()
    for label, value in (
        ("医院", "烟台毓璜顶医院"),
        ("入院日期", "2025-03-01"),
        ("出院日期", "2025-03-04"),
        ("诊断", "急性阑尾炎"),
        ("发票号码", "3706202503040001"),
        ("医疗费用总额（元）", "18000.00"),
        ("统筹基金支付（元）", "10500.00"),
        ("政策范围内个人自付（元）", "5230.40"),
    ):
        member.get_by_label(label).fill(value)
    member.get_by_role("button", name="试算").click()
    assert "本次预计可赔付 ¥5,230.40" in member.get_by_test_id("estimate").inner_text()
    member.get_by_role("button", name="保存申请").click()
    assert "请一次性补充以下材料" in member.get_by_test_id("missing").inner_text()
    # Every document in one upload, two pages of the fee list among them.
    kinds = ["id_card", "bank_card", "invoice", "fee_list", "discharge_summary", "settlement_sheet"]
    upload = member.get_by_test_id("upload")
    for number, kind in enumerate(kinds):
        pages = 2 if kind == "fee_list" else 1
        chosen = []
        for part in range(pages):
            document = tmp_path / f"doc{number}-{part}.{'pdf' if number % 2 else 'png'}"
            document.write_bytes((PDF if number % 2 else PNG) + bytes([number, part]))
            chosen.append(str(document))
        upload.locator(f'input[name="file_{kind}"]').set_input_files(chosen)
    upload.get_by_role("button", name="上传", exact=True).click()
    assert "已上传 7 个文件" in member.get_by_role("status").inner_text()
    assert member.get_by_test_id("missing").count() == 0
    screen(member, "claim")
    member.get_by_role("button", name="提交申请").click()
    assert member.get_by_test_id("claim-status").inner_text() == "审核中"
    assert "保险公司：材料齐全后30日内作出核定" in member.get_by_test_id("next-step").inner_text()
    url: str = member.url
    member.close()
    return url


def adjuster_approves_and_pays(browser: Any, server: LiveServer, claim_url: str) -> None:
    adjuster = sign_in(browser, server, "adjuster", DESKTOP)
    adjuster.goto(server.url + "/insurance/claims")
    assert claim_url.rsplit("/", 1)[1] in adjuster.get_by_test_id("claim-queue").inner_text()
    adjuster.goto(claim_url)
    adjuster.get_by_label("结论").select_option(label="全额核准")
    adjuster.get_by_role("button", name="提交核定").click()
    assert adjuster.get_by_test_id("claim-status").inner_text() == "已核准"
    assert adjuster.get_by_test_id("claim-amount").inner_text() == "¥5,230.40"
    adjuster.get_by_label("支付流水号").fill("YTB2025030600001")
    adjuster.get_by_role("button", name="确认已支付").click()
    assert adjuster.get_by_test_id("claim-status").inner_text() == "已赔付"
    adjuster.close()


def test_balances_to_cover_to_a_paid_claim_moves_the_four_figures(
    browser: Any, live_server: LiveServer, tmp_path: Path
) -> None:
    before = figures(browser, live_server)
    bank_sends_february(browser, live_server, tmp_path)
    federation_assesses_february(browser, live_server)
    claim_url = member_claims_on_a_phone(browser, live_server, tmp_path)
    adjuster_approves_and_pays(browser, live_server, claim_url)
    after = figures(browser, live_server)
    assert after["claims-concluded"] == before["claims-concluded"] + 1
    assert after["paid"] == before["paid"] + Decimal("5230.40")
    assert after["person-times"] >= before["person-times"] + 1
    assert after["units"] >= before["units"]
