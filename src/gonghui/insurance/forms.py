"""Reading the claim form: every field checked, every problem reported together in Chinese."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from gonghui.core.errors import InvalidInput
from gonghui.core.inputs import InputError, parse_amount, parse_date, whole_number_or_none
from gonghui.insurance.claims import Settlement
from gonghui.insurance.claims_rules import Hospitalisation

MONEY_FIELDS = {
    "total": "医疗费用总额",
    "fund_paid": "统筹基金支付",
    "policy_self_pay": "政策范围内个人自付",
    "class_b_self_pay": "乙类先行自付",
    "fully_self_paid": "全自费",
}

# A short line beside each bill field, in the member's words (the terms of the 医保结算单).
MONEY_HELP = {
    "total": "结算单上本次住院的全部医疗费用",
    "fund_paid": "基本医保统筹基金已替您支付的部分，这部分不再赔付",
    "policy_self_pay": "医保目录内按规定由个人负担的部分，补充医保主要赔付这一项",
    "class_b_self_pay": "乙类药品和诊疗项目先按比例由个人支付的部分，没有可不填",
    "fully_self_paid": "医保目录外、全部由个人支付的费用，没有可不填",
}


@dataclass(frozen=True)
class ClaimForm:
    stay: Hospitalisation
    invoice_no: str
    settlement: Settlement
    card_id: int


def _date(value: str, label: str, problems: list[str]) -> date | None:
    try:
        return parse_date(value, label)
    except InputError as error:
        problems.append(str(error))
        return None


def _fen(value: str, label: str, problems: list[str], *, required: bool) -> int:
    if not value.strip():
        if required:
            problems.append(f"请填写{label}")
        return 0
    try:
        return parse_amount(value, label)
    except InputError as error:
        problems.append(str(error))
        return 0


def read_claim_form(fields: dict[str, str]) -> ClaimForm:
    problems: list[str] = []
    admitted = _date(fields.get("admitted_on", ""), "入院日期", problems)
    discharged = _date(fields.get("discharged_on", ""), "出院日期", problems)
    amounts = {
        name: _fen(
            fields.get(name, ""), label, problems, required=name in {"total", "policy_self_pay"}
        )
        for name, label in MONEY_FIELDS.items()
    }
    card = fields.get("card_id", "")
    if whole_number_or_none(card) is None:
        problems.append("请选择收款会员卡")
    if problems or admitted is None or discharged is None:
        raise InvalidInput("bad_claim", "；".join(problems))
    return ClaimForm(
        stay=Hospitalisation(
            fields.get("hospital", ""), admitted, discharged, fields.get("diagnosis", "")
        ),
        invoice_no=fields.get("invoice_no", ""),
        settlement=Settlement(
            total_fen=amounts["total"],
            fund_paid_fen=amounts["fund_paid"],
            policy_self_pay_fen=amounts["policy_self_pay"],
            class_b_self_pay_fen=amounts["class_b_self_pay"],
            fully_self_paid_fen=amounts["fully_self_paid"],
        ),
        card_id=int(card),
    )
