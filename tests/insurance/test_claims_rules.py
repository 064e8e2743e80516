from datetime import date

import pytest

from gonghui.insurance.claims_rules import (
    ClaimRuleError,
    ClaimStatus,
    DocumentKind,
    Hospitalisation,
    adjudicate,
    check_hospitalisation,
    check_transition,
    field_notes,
    missing_documents,
    missing_notice,
    not_covered_reason,
    statutory_clock,
    time_barred,
    whose,
)
from gonghui.insurance.rules import Terms

FIELDS = {"policy_self_pay": 1_234_567, "class_b_self_pay": 200_000, "fully_self_paid": 50_000}


def test_the_default_plan_pays_the_personal_share_within_the_policy_scope() -> None:
    result = adjudicate(FIELDS, Terms(), used_this_year_fen=0)
    assert (result.eligible_fen, result.payable_fen) == (1_234_567, 1_234_567)
    assert (result.remaining_before_fen, result.remaining_after_fen) == (5_000_000, 3_765_433)
    assert result.lines[0].label == "政策范围内个人自付"
    assert result.lines[-1].amount_fen == 1_234_567


def test_ratio_and_deductible_apply_in_that_order_and_round_half_up_once() -> None:
    terms = Terms(
        ratio_bp=8_500,
        deductible_fen=50_000,
        eligible_fields=("policy_self_pay", "class_b_self_pay"),
    )
    result = adjudicate(FIELDS, terms, used_this_year_fen=0)
    # (12,345.67 + 2,000.00) × 85% = 12,193.8195 → 12,193.82; − 500.00 = 11,693.82.
    assert result.eligible_fen == 1_434_567
    assert result.payable_fen == 1_169_382
    assert [line.amount_fen for line in result.lines][3:5] == [1_219_382, 1_169_382]


def test_the_remaining_annual_limit_caps_the_payment() -> None:
    result = adjudicate(FIELDS, Terms(), used_this_year_fen=4_500_000)
    assert (result.payable_fen, result.remaining_after_fen) == (500_000, 0)
    exhausted = adjudicate(FIELDS, Terms(), used_this_year_fen=5_000_000)
    assert exhausted.payable_fen == 0


def test_a_deductible_larger_than_the_claim_pays_nothing_rather_than_negative() -> None:
    assert adjudicate({"policy_self_pay": 10_000}, Terms(deductible_fen=50_000), 0).payable_fen == 0


def test_every_missing_document_is_named_in_one_notice() -> None:
    missing = missing_documents([DocumentKind.INVOICE, DocumentKind.ID_CARD])
    assert missing == [
        DocumentKind.BANK_CARD,
        DocumentKind.FEE_LIST,
        DocumentKind.DISCHARGE_SUMMARY,
        DocumentKind.SETTLEMENT_SHEET,
    ]
    assert (
        missing_notice(missing)
        == "请一次性补充以下材料：收款银行卡、费用清单、出院小结、医保结算单"
    )


def test_the_decision_clock_runs_30_days_from_a_complete_packet() -> None:
    clock = statutory_clock(
        ClaimStatus.UNDER_REVIEW,
        complete_on=date(2025, 1, 10),
        decided_on=None,
        today=date(2025, 2, 10),
    )
    assert clock is not None
    assert (clock.due, clock.days_left, clock.overdue) == (date(2025, 2, 9), -1, True)


def test_the_payment_clock_runs_10_days_from_the_agreement() -> None:
    clock = statutory_clock(
        ClaimStatus.APPROVED, complete_on=None, decided_on=date(2025, 2, 5), today=date(2025, 2, 10)
    )
    assert clock is not None
    assert (clock.label, clock.days_left) == ("赔付时限", 5)
    assert (
        statutory_clock(
            ClaimStatus.PAID, complete_on=None, decided_on=date(2025, 2, 5), today=date(2025, 2, 10)
        )
        is None
    )


@pytest.mark.parametrize(
    ("discharged", "today", "barred"),
    [
        (date(2023, 2, 10), date(2025, 2, 10), False),
        (date(2023, 2, 9), date(2025, 2, 10), True),
        (date(2024, 2, 29), date(2026, 2, 28), False),
        (date(2024, 2, 29), date(2026, 3, 1), True),
    ],
)
def test_claims_two_years_after_discharge_are_time_barred(
    discharged: date, today: date, barred: bool
) -> None:
    assert time_barred(discharged, today) is barred


def test_a_paid_claim_cannot_be_withdrawn() -> None:
    check_transition(ClaimStatus.UNDER_REVIEW, ClaimStatus.WITHDRAWN)
    with pytest.raises(ClaimRuleError, match="不能从“已赔付”变为“已撤回”"):
        check_transition(ClaimStatus.PAID, ClaimStatus.WITHDRAWN)


def test_a_stay_must_be_over_before_it_is_claimed() -> None:
    stay = Hospitalisation("烟台市立医院", date(2025, 2, 3), date(2025, 2, 1), "")
    assert check_hospitalisation(stay, date(2025, 2, 10)) == [
        "请填写诊断",
        "出院日期不能早于入院日期",
    ]
    future = Hospitalisation("烟台市立医院", date(2025, 2, 3), date(2025, 2, 12), "肺炎")
    assert check_hospitalisation(future, date(2025, 2, 10)) == [
        "出院日期不能晚于今天（请出院后再申请）"
    ]


@pytest.mark.parametrize(
    ("eligible_fields", "counted"),
    [
        (("policy_self_pay",), {"政策范围内个人自付"}),
        (("policy_self_pay", "class_b_self_pay"), {"政策范围内个人自付", "乙类先行自付"}),
        (
            ("policy_self_pay", "class_b_self_pay", "fully_self_paid"),
            {"政策范围内个人自付", "乙类先行自付", "全自费"},
        ),
    ],
)
def test_the_trial_marks_each_bill_figure_as_the_plan_counts_it(
    eligible_fields: tuple[str, ...], counted: set[str]
) -> None:
    notes = field_notes({**FIELDS, "fund_paid": 900_000}, Terms(eligible_fields=eligible_fields))
    assert {note.label for note in notes if note.counted} == counted
    # The fund's share is never counted: basic insurance has paid it.
    fund = next(note for note in notes if note.label == "统筹基金支付")
    assert (fund.amount_fen, fund.counted) == (900_000, False)
    assert all(note.why.endswith("不计入") for note in notes if not note.counted)


def test_why_nothing_is_payable_is_told_to_whoever_files() -> None:
    member = not_covered_reason(date(2026, 11, 10), whose(oneself=True), None)
    assert member.startswith("入院日期 2026-11-10 不在您的补充医保保障期内，本次没有可赔付金额。")
    assert member.endswith("您的会员卡尚未考核达标，还没有保障期。")
    officer = not_covered_reason(
        date(2026, 11, 10), whose(oneself=False), (date(2026, 9, 1), date(2026, 9, 30))
    )
    assert "不在该会员的补充医保保障期内" in officer
    assert officer.endswith("该会员的最近一期保障期为 2026-09-01 至 2026-09-30。")
