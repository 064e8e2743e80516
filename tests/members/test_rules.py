from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gonghui.core import inputs
from gonghui.members.rules import (
    InvalidValue,
    MembershipStatus,
    Sex,
    check_membership_transition,
    id_check_character,
    parse_card_no,
    parse_credit_code,
    parse_employment_status,
    parse_id_number,
    parse_mobile,
    parse_post_type,
    uscc_check_character,
)

TODAY = date(2025, 2, 10)


def test_it_accepts_the_standards_own_example_id_number() -> None:
    # GB 11643-1999, appendix example: 11010519491231002X, a woman born 1949-12-31.
    parsed = parse_id_number("11010519491231002x", today=TODAY)
    assert parsed.value == "11010519491231002X"
    assert parsed.birth_date == date(1949, 12, 31)
    assert parsed.sex is Sex.FEMALE


def test_it_derives_a_man_from_an_odd_sequence_digit() -> None:
    first17 = "37060219800115131"
    parsed = parse_id_number(first17 + id_check_character(first17), today=TODAY)
    assert parsed.sex is Sex.MALE
    assert parsed.birth_date == date(1980, 1, 15)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("11010519491231002", "18位"),
        ("110105194912310021", "校验位"),
        ("990105194912310029", "地区码"),
        ("110105194902300022", "出生日期不存在"),
        ("110105203001010027", "不合理"),
        ("11010519491231002Y", "18位"),
    ],
)
def test_it_refuses_bad_id_numbers_with_the_reason(value: str, reason: str) -> None:
    with pytest.raises(InvalidValue, match=reason):
        parse_id_number(value, today=TODAY)


@given(st.dates(min_value=date(1930, 1, 1), max_value=TODAY), st.integers(0, 999))
def test_every_id_number_with_its_check_character_is_accepted(birth: date, sequence: int) -> None:
    first17 = f"370602{birth:%Y%m%d}{sequence:03d}"
    parsed = parse_id_number(first17 + id_check_character(first17), today=TODAY)
    assert parsed.birth_date == birth
    assert parsed.sex is (Sex.MALE if sequence % 2 else Sex.FEMALE)


@given(st.dates(min_value=date(1930, 1, 1), max_value=TODAY), st.integers(0, 999), st.data())
def test_any_single_wrong_check_character_is_refused(
    birth: date, sequence: int, data: st.DataObject
) -> None:
    first17 = f"370602{birth:%Y%m%d}{sequence:03d}"
    wrong = data.draw(
        st.sampled_from([c for c in "0123456789X" if c != id_check_character(first17)])
    )
    with pytest.raises(InvalidValue, match="校验位"):
        parse_id_number(first17 + wrong, today=TODAY)


def test_credit_code_weights_are_the_standards_powers_of_three_modulo_31() -> None:
    # GB 32100-2015 weights each position i by 3^i mod 31; check the table against that rule.
    assert tuple(pow(3, i, 31) for i in range(17)) == inputs._USCC_WEIGHTS


def test_it_accepts_a_credit_code_with_the_right_check_character() -> None:
    # 91350100M000100Y4 is a sample often used to illustrate the code; its check character
    # by hand: sum(value * weight) = 1640, 1640 mod 31 = 28, 31 - 28 = 3.
    assert uscc_check_character("91350100M000100Y4") == "3"
    assert parse_credit_code("91350100m000100y43") == "91350100M000100Y43"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("91350100M000100Y44", "校验位"),
        ("91350100M000100Y4", "18位"),
        ("91350100M0001O0Y43", "18位"),
    ],
)
def test_it_refuses_bad_credit_codes(value: str, reason: str) -> None:
    with pytest.raises(InvalidValue, match=reason):
        parse_credit_code(value)


@pytest.mark.parametrize("value", ["13800138000", "+86 138-0013-8000", "19912345678"])
def test_it_accepts_mainland_mobiles(value: str) -> None:
    assert parse_mobile(value) == value.replace("+86", "").replace(" ", "").replace("-", "")


@pytest.mark.parametrize("value", ["12800138000", "1380013800", "0535-6612345", ""])
def test_it_refuses_what_is_not_a_mainland_mobile(value: str) -> None:
    with pytest.raises(InvalidValue, match="11位"):
        parse_mobile(value)


def test_it_reads_post_and_employment_labels_in_chinese() -> None:
    assert parse_post_type("生产操作岗").value == "production"
    assert parse_employment_status("返聘").value == "rehired"
    with pytest.raises(InvalidValue, match="管理技术岗、生产操作岗"):
        parse_post_type("工人")


def test_a_withdrawn_member_cannot_be_made_active_again_by_a_status_flip() -> None:
    check_membership_transition(MembershipStatus.ACTIVE, MembershipStatus.WITHDRAWN)
    with pytest.raises(InvalidValue, match="已退会"):
        check_membership_transition(MembershipStatus.WITHDRAWN, MembershipStatus.ACTIVE)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("6222 0202 0011 2233 445", "6222020200112233445"), ("0012345678901234", "0012345678901234")],
)
def test_it_accepts_bank_card_numbers_of_16_to_19_digits(value: str, expected: str) -> None:
    assert parse_card_no(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        "622202020011223",
        "62220202001122334455",
        "622202020011223A",
        "６２２２０２０２００１１２２３３４５",
    ],
)
def test_it_refuses_what_is_not_a_bank_card_number(value: str) -> None:
    with pytest.raises(InvalidValue, match="卡号应为16至19位数字"):
        parse_card_no(value)
