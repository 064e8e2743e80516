"""Reads of the insurance module."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from gonghui.core.errors import NotFound
from gonghui.insurance import service
from gonghui.insurance.assessment import balance_sums, facts_of
from gonghui.insurance.models import Plan
from gonghui.insurance.rules import (
    CardDecision,
    Period,
    decide_card,
    explain_balance,
    period_containing,
)
from gonghui.insurance.store import BalanceStore
from gonghui.members import queries as member_queries


@dataclass(frozen=True)
class CardStanding:
    card_no: str
    period: Period
    threshold_fen: int
    decision: CardDecision

    @property
    def explanation(self) -> str:
        words = explain_balance(self.period, self.decision.average_fen, self.threshold_fen)
        others = [reason.label for reason in self.decision.reasons if reason.value != "balance"]
        return words + ("；另：" + "、".join(others) if others else "")


def card_standing(
    session: Session, plan: Plan, card_no: str, month: date, *, store: BalanceStore
) -> CardStanding:
    """One card's average daily balance and eligibility for the period containing `month`,
    computed the same way as the batch assessment."""
    holdings = member_queries.card_holdings(
        session, service.plan_bank_ids(session, plan), card_no=card_no.strip()
    )
    if not holdings:
        raise NotFound(f"参加计划 {plan.code} 的会员卡 {card_no}")
    holding = holdings[0]
    version = service.version_on(session, plan, month)
    period = period_containing(month, version.period_kind)
    terms = service.terms_of(service.version_on(session, plan, period.end))
    total = balance_sums(session, store, period, card_no=holding.card_no).get(holding.card_no, 0)
    enrolled = service.enrolled_unit_ids(session, plan)
    decision = decide_card(facts_of(holding, enrolled), total, period, terms)
    return CardStanding(holding.card_no, period, terms.threshold_fen, decision)
