"""The monthly (or quarterly, or yearly) assessment: every card's average daily balance, who
qualifies, and the coverage granted for the following period.

The balances are summed by DuckDB in one columnar pass; the decisions per card are the pure
rules of `rules.py`; the database receives the run, its per-bank pass rates and the coverage.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from gonghui.core import audit
from gonghui.core.auth import Actor, Permission
from gonghui.insurance import service
from gonghui.insurance.balances import committed_parts
from gonghui.insurance.models import AssessmentRun, Coverage, Plan, PlanVersion
from gonghui.insurance.rules import (
    CardDecision,
    CardFacts,
    Ineligibility,
    Period,
    Terms,
    apply_group_minimum,
    decide_card,
    following_period,
    period_containing,
)
from gonghui.insurance.store import BalanceStore, scan
from gonghui.members import queries as member_queries
from gonghui.members.queries import CardHolding
from gonghui.members.rules import CardStatus, EmploymentStatus, MembershipStatus


def fen_days_sql(paths: list[Path], *, one_card: bool = False) -> str:
    """Per card: the sum over the period's days of the end-of-day balance, carrying the last
    known balance over days without a record (parameters: start, end[, card_no])."""
    card_filter = "AND card_no = $card_no" if one_card else ""
    return f"""
        WITH known AS (
            SELECT card_no, on_date, balance_fen FROM {scan(paths)}
            WHERE on_date <= $end {card_filter}
        ),
        points AS (
            SELECT card_no, $start::DATE AS on_date, arg_max(balance_fen, on_date) AS balance_fen,
                   0 AS rank
            FROM known WHERE on_date < $start GROUP BY card_no
            UNION ALL
            SELECT card_no, on_date, balance_fen, 1 AS rank FROM known WHERE on_date >= $start
        ),
        segments AS (
            SELECT card_no, balance_fen,
                   date_diff('day', on_date,
                             coalesce(lead(on_date) OVER w, $end::DATE + 1)) AS days
            FROM points
            WINDOW w AS (PARTITION BY card_no ORDER BY on_date, rank)
        )
        SELECT card_no, sum(balance_fen * days)::BIGINT AS fen_days FROM segments GROUP BY card_no
    """


def balance_sums(
    session: Session, store: BalanceStore, period: Period, card_no: str | None = None
) -> dict[str, int]:
    paths = [store.absolute(path) for path in committed_parts(session, period.end)]
    parameters: dict[str, object] = {"start": period.start, "end": period.end}
    if card_no is not None:
        parameters["card_no"] = card_no
    with duckdb.connect() as connection:
        rows = connection.execute(
            fen_days_sql(paths, one_card=card_no is not None), parameters
        ).fetchall()
    return {str(card): int(total) for card, total in rows}


def facts_of(holding: CardHolding, enrolled: set[int]) -> CardFacts:
    return CardFacts(
        opened_on=holding.opened_on,
        card_active=holding.card_status is CardStatus.ACTIVE,
        in_service=holding.employment_status is EmploymentStatus.EMPLOYED,
        member_active=holding.membership_status is MembershipStatus.ACTIVE,
        unit_enrolled=holding.unit_id in enrolled,
    )


@dataclass(frozen=True)
class AssessmentSummary:
    period: str
    cards_assessed: int
    eligible: int
    ineligible: int


@dataclass
class _Outcome:
    decisions: list[tuple[CardHolding, CardDecision]]
    covered: dict[int, tuple[CardHolding, CardDecision]]


def assess(
    session: Session,
    plan: Plan,
    month: date,
    *,
    actor: Actor,
    now: datetime,
    store: BalanceStore,
) -> AssessmentSummary:
    """Assess the period containing `month` under the plan version in force at its end."""
    actor.require(Permission.INSURANCE_MANAGE)
    first_guess = service.version_on(session, plan, month)
    period = period_containing(month, first_guess.period_kind)
    version = service.version_on(session, plan, period.end)
    terms = service.terms_of(version)
    outcome = _decide_all(session, plan, period, terms, store)
    run = _record_run(session, plan, version, period, outcome, store=store, now=now)
    granted = _grant_coverage(session, plan, version, run, period, terms, outcome, now)
    summary = AssessmentSummary(
        period=period.code,
        cards_assessed=len(outcome.decisions),
        eligible=sum(decision.eligible for _, decision in outcome.decisions),
        ineligible=sum(not decision.eligible for _, decision in outcome.decisions),
    )
    audit.record(
        session,
        actor=actor,
        at=now,
        action="insurance.assessed",
        target_type="plan",
        target_id=plan.id,
        after={**summary.__dict__, "coverage_granted": granted, "plan_version": version.version},
    )
    return summary


def _decide_all(
    session: Session, plan: Plan, period: Period, terms: Terms, store: BalanceStore
) -> _Outcome:
    holdings = member_queries.card_holdings(session, service.plan_bank_ids(session, plan))
    enrolled = service.enrolled_unit_ids(session, plan)
    sums = balance_sums(session, store, period)
    decisions = [
        (
            holding,
            decide_card(facts_of(holding, enrolled), sums.get(holding.card_no, 0), period, terms),
        )
        for holding in holdings
    ]
    passing: dict[int, set[int]] = defaultdict(set)
    for holding, decision in decisions:
        if decision.eligible:
            passing[holding.unit_id].add(holding.member_id)
    too_small = apply_group_minimum(passing, terms.min_group_size)
    if too_small:
        decisions = [
            (holding, _with_reason(decision, Ineligibility.GROUP_TOO_SMALL))
            if decision.eligible and holding.unit_id in too_small
            else (holding, decision)
            for holding, decision in decisions
        ]
    covered: dict[int, tuple[CardHolding, CardDecision]] = {}
    for holding, decision in decisions:
        best = covered.get(holding.member_id)
        # A member holding two qualifying cards is covered once, through the fuller card.
        if decision.eligible and (best is None or decision.average_fen > best[1].average_fen):
            covered[holding.member_id] = (holding, decision)
    return _Outcome(decisions, covered)


def _with_reason(decision: CardDecision, reason: Ineligibility) -> CardDecision:
    return CardDecision(decision.average_fen, decision.days, (*decision.reasons, reason))


def _record_run(
    session: Session,
    plan: Plan,
    version: PlanVersion,
    period: Period,
    outcome: _Outcome,
    *,
    store: BalanceStore,
    now: datetime,
) -> AssessmentRun:
    by_bank: dict[str, dict[str, int]] = {}
    codes = {bank.id: bank.code for bank in member_queries.all_banks(session)}
    for holding, decision in outcome.decisions:
        tally = by_bank.setdefault(codes[holding.bank_id], {"assessed": 0, "passed": 0})
        tally["assessed"] += 1
        tally["passed"] += decision.eligible
    results_path = f"assessments/{plan.code}/{period.code}.parquet"
    _write_results(store, results_path, outcome)
    run = session.scalars(
        select(AssessmentRun).where(
            AssessmentRun.plan_id == plan.id, AssessmentRun.period_start == period.start
        )
    ).one_or_none()
    eligible = sum(decision.eligible for _, decision in outcome.decisions)
    values = {
        "plan_version_id": version.id,
        "period_end": period.end,
        "cards_assessed": len(outcome.decisions),
        "eligible": eligible,
        "ineligible": len(outcome.decisions) - eligible,
        "by_bank": by_bank,
        "results_path": results_path,
        "run_at": now,
    }
    if run is None:
        run = AssessmentRun(plan_id=plan.id, period_start=period.start, runs=1, **values)
        session.add(run)
    else:
        for key, value in values.items():
            setattr(run, key, value)
        run.runs += 1
    session.flush()
    return run


def _write_results(store: BalanceStore, relative: str, outcome: _Outcome) -> None:
    rows = (
        (
            holding.card_no,
            holding.member_id,
            decision.average_fen,
            decision.days,
            decision.eligible,
            ",".join(reason.value for reason in decision.reasons),
        )
        for holding, decision in outcome.decisions
    )
    with store.staging(rows) as staged, duckdb.connect() as connection:
        store.write_part(
            connection,
            f"SELECT * FROM read_csv('{staged}', header=false, columns={{'card_no': 'VARCHAR', "
            "'member_id': 'BIGINT', 'average_fen': 'BIGINT', 'days': 'INTEGER', "
            "'eligible': 'BOOLEAN', 'reasons': 'VARCHAR'})",
            relative,
        )


def _grant_coverage(
    session: Session,
    plan: Plan,
    version: PlanVersion,
    run: AssessmentRun,
    period: Period,
    terms: Terms,
    outcome: _Outcome,
    now: datetime,
) -> int:
    """Cover every qualifying member for the coverage period; a re-run adds only the missing.
    Cover once granted is not withdrawn by a later re-run: members were told of it."""
    cover = following_period(period, terms.period_kind, terms.coverage_lag)
    already = set(
        session.scalars(
            select(Coverage.member_id).where(
                Coverage.plan_id == plan.id, Coverage.starts_on == cover.start
            )
        )
    )
    rows = [
        {
            "plan_id": plan.id,
            "plan_version_id": version.id,
            "member_id": member_id,
            "card_id": holding.card_id,
            "unit_id": holding.unit_id,
            "starts_on": cover.start,
            "ends_on": cover.end,
            "average_fen": decision.average_fen,
            "assessment_run_id": run.id,
            "granted_at": now,
        }
        for member_id, (holding, decision) in sorted(outcome.covered.items())
        if member_id not in already
    ]
    for start in range(0, len(rows), 5000):
        session.execute(insert(Coverage), rows[start : start + 5000])
    return len(rows)
