"""The monthly (or quarterly, or yearly) assessment: every card's average daily balance, who
qualifies, and the coverage granted for the following period.

It is set-based from end to end: the roll's facts are streamed once into DuckDB, balances are
summed there in one columnar pass, the rules of `rules.py` are applied there as SQL (tests hold
the two to agreement), per-card results go to a Parquet file, and only the run, its per-bank
pass rates and the new coverage rows come back to the database.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
from sqlalchemy import select
from sqlalchemy.orm import Session

from gonghui.consents import service as consents
from gonghui.consents.rules import Purpose
from gonghui.core import audit, snapshots
from gonghui.core.auth import Actor, Permission
from gonghui.core.clock import business_date
from gonghui.core.db import copy_rows
from gonghui.core.errors import InvalidInput
from gonghui.core.logging import get_logger
from gonghui.core.metrics import ASSESSED_CARDS, ASSESSMENT_SECONDS
from gonghui.insurance import figures, service
from gonghui.insurance.balances import last_days_reported, parts_before, parts_overlapping
from gonghui.insurance.models import AssessmentRun, Coverage, Plan, PlanVersion
from gonghui.insurance.rules import (
    CardFacts,
    Ineligibility,
    Period,
    PeriodKind,
    Terms,
    following_period,
    period_containing,
)
from gonghui.insurance.store import BalanceStore, scan, staged
from gonghui.members import queries as member_queries
from gonghui.members.queries import Bank, CardHolding
from gonghui.members.rules import CardStatus, EmploymentStatus, MembershipStatus

log = get_logger(__name__)


def fen_days_sql(inside: list[Path], before: list[Path], *, one_card: bool = False) -> str:
    """Per card, the sum over the period's days of the end-of-day balance, a day without a
    record carrying the last known balance (parameters: start, end[, card_no]).

    Banks send a row per card per day, so most cards have no gap inside the period: for them
    the sum is a plain aggregate (the last balance carried to the period's end, the one before
    the period carried up to the first row). Only cards with gaps need the ordered, windowed
    computation, which is forty times slower per row.
    """
    card_filter = "AND card_no = $card_no" if one_card else ""
    # Spelt out twice rather than a CTE used twice, which DuckDB would materialise in memory.
    inside_rows = f"""(
        SELECT card_no, on_date, balance_fen FROM {scan(inside)}
        WHERE on_date BETWEEN $start AND $end {card_filter}
    )"""
    return f"""
        WITH carried AS (
            SELECT card_no, arg_max(balance_fen, on_date) AS carried FROM {scan(before)}
            WHERE on_date < $start {card_filter} GROUP BY card_no
        ),
        totals AS (
            SELECT card_no, sum(balance_fen) AS total, count(*) AS n, min(on_date) AS first,
                   max(on_date) AS last, arg_max(balance_fen, on_date) AS last_balance
            FROM {inside_rows} GROUP BY card_no
        ),
        gappy AS (
            SELECT card_no, sum(balance_fen * days) AS fen_days FROM (
                SELECT card_no, balance_fen,
                       date_diff('day', on_date, coalesce(
                           lead(on_date) OVER (PARTITION BY card_no ORDER BY on_date),
                           $end::DATE + 1)) AS days
                FROM {inside_rows} SEMI JOIN (
                    SELECT card_no FROM totals WHERE n <> date_diff('day', first, last) + 1
                ) USING (card_no)
            ) GROUP BY card_no
        )
        SELECT card_no,
               (coalesce(g.fen_days, t.total + t.last_balance * date_diff('day', t.last, $end), 0)
                + coalesce(c.carried, 0)
                  * date_diff('day', $start::DATE, coalesce(t.first, $end::DATE + 1)))::BIGINT
                   AS fen_days
        FROM totals t
        FULL OUTER JOIN carried c USING (card_no)
        LEFT JOIN gappy g USING (card_no)
    """


def _parts(session: Session, store: BalanceStore, period: Period) -> tuple[list[Path], list[Path]]:
    inside = parts_overlapping(session, period.start, period.end)
    before = parts_before(session, period.start)
    return [store.absolute(path) for path in inside], [store.absolute(path) for path in before]


def balance_sums(
    session: Session, store: BalanceStore, period: Period, card_no: str | None = None
) -> dict[str, int]:
    inside, before = _parts(session, store, period)
    parameters: dict[str, object] = {"start": period.start, "end": period.end}
    if card_no is not None:
        parameters["card_no"] = card_no
    with store.analytics() as connection:
        rows = connection.execute(
            fen_days_sql(inside, before, one_card=card_no is not None), parameters
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


# The rules of `decide_card` and `apply_group_minimum`, as SQL over the tables `holdings`
# (HOLDING_COLUMNS plus `unit_enrolled`) and `sums` (card_no, fen_days).
_DECIDE = f"""
    CREATE TEMP TABLE decided AS
    WITH counted AS (
        SELECT h.*, coalesce(s.fen_days, 0) AS fen_days,
               CASE WHEN $calendar OR h.opened_on <= $start THEN $days
                    WHEN h.opened_on > $end THEN 0
                    ELSE date_diff('day', h.opened_on, $end) + 1 END AS days
        FROM holdings h LEFT JOIN sums s USING (card_no)
    ),
    flagged AS (
        SELECT *,
               CASE WHEN days > 0 THEN (2 * fen_days + days) // (2 * days) ELSE 0 END
                   AS average_fen
        FROM counted
    ),
    checked AS (
        SELECT *,
               average_fen < $threshold AS low_balance,
               card_status <> '{CardStatus.ACTIVE.value}' AS card_inactive,
               employment_status <> '{EmploymentStatus.EMPLOYED.value}' AS not_in_service,
               membership_status <> '{MembershipStatus.ACTIVE.value}' AS not_member,
               NOT unit_enrolled AS not_enrolled
        FROM flagged
    ),
    grouped AS (
        SELECT *,
               NOT (low_balance OR card_inactive OR not_in_service OR not_member OR not_enrolled)
                   AS passes
        FROM checked
    ),
    unit_sizes AS (
        SELECT unit_id, count(DISTINCT member_id) AS passing FROM grouped WHERE passes
        GROUP BY unit_id
    )
    SELECT g.*,
           g.passes AND $minimum > 0 AND coalesce(u.passing, 0) < $minimum AS group_too_small,
           concat_ws(',',
               CASE WHEN low_balance THEN '{Ineligibility.BALANCE.value}' END,
               CASE WHEN card_inactive THEN '{Ineligibility.CARD_INACTIVE.value}' END,
               CASE WHEN not_in_service THEN '{Ineligibility.NOT_IN_SERVICE.value}' END,
               CASE WHEN not_member THEN '{Ineligibility.MEMBERSHIP.value}' END,
               CASE WHEN not_enrolled THEN '{Ineligibility.UNIT_NOT_ENROLLED.value}' END,
               CASE WHEN g.passes AND $minimum > 0 AND coalesce(u.passing, 0) < $minimum
                    THEN '{Ineligibility.GROUP_TOO_SMALL.value}' END) AS reasons
    FROM grouped g LEFT JOIN unit_sizes u USING (unit_id)
"""

# A member holding two qualifying cards is covered once, through the fuller card.
_COVERED = """
    SELECT member_id, card_id, unit_id, average_fen FROM decided
    WHERE reasons = ''
    QUALIFY row_number() OVER (PARTITION BY member_id ORDER BY average_fen DESC, card_id) = 1
    ORDER BY member_id
"""


def decide(connection: duckdb.DuckDBPyConnection, period: Period, terms: Terms) -> None:
    connection.execute(
        _DECIDE,
        {
            "calendar": terms.day_count.value == "calendar",
            "start": period.start,
            "end": period.end,
            "days": period.days,
            "threshold": terms.threshold_fen,
            "minimum": terms.min_group_size or 0,
        },
    )


@dataclass(frozen=True)
class AssessmentSummary:
    period: str
    cards_assessed: int
    eligible: int
    ineligible: int
    # Codes of the plan banks whose files did not reach the period's end (assessed anyway).
    banks_missing: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Decided:
    assessed: int
    eligible: int
    by_bank: dict[str, dict[str, int]]
    covered: list[tuple[int, int, int, int]]  # member, card, unit, average


def assess(
    session: Session,
    plan: Plan,
    month: date,
    *,
    actor: Actor,
    now: datetime,
    store: BalanceStore,
    allow_missing_banks: bool = False,
    progress: Callable[[int, int, str], None] | None = None,
) -> AssessmentSummary:
    """Assess the period containing `month` under the plan version in force at its end.

    Only a finished period, and only once every plan bank with cards has sent files reaching
    its last day: a missing day carries the last balance, so a bank that has not reported would
    otherwise be assessed on stale balances. `allow_missing_banks` assesses anyway (a bank's
    outage should not hold back every other bank's members); the audit row names the banks, and
    a re-run once their files arrive adds the cover they then earn.

    `progress(done, total, stage)` hears of each of its four steps as it starts: the work is
    set-based, so it moves by steps, not by cards.
    """
    period, missing = check_assessable(
        session, plan, month, actor=actor, now=now, allow_missing_banks=allow_missing_banks
    )
    started = time.perf_counter()
    version = service.version_on(session, plan, period.end)
    terms = service.terms_of(version)
    results_path = f"assessments/{plan.code}/{period.start:%Y-%m}.parquet"
    step = progress or _silent
    decided = _decide_all(session, plan, period, terms, store, results_path, step)
    step(STEPS - 1, STEPS, "授予保障")
    run = _record_run(session, plan, version, period, decided, results_path, now)
    granted = _grant_coverage(session, plan, version, run, period, terms, decided, now)
    step(STEPS, STEPS, "完成")
    summary = AssessmentSummary(
        period=period.code,
        cards_assessed=decided.assessed,
        eligible=decided.eligible,
        ineligible=decided.assessed - decided.eligible,
        banks_missing=tuple(missing),
    )
    seconds = time.perf_counter() - started
    ASSESSMENT_SECONDS.labels(plan.code).observe(seconds)
    ASSESSED_CARDS.labels("eligible").inc(summary.eligible)
    ASSESSED_CARDS.labels("ineligible").inc(summary.ineligible)
    log.info(
        "insurance.assessed",
        plan=plan.code,
        run=run.id,
        granted=granted,
        seconds=round(seconds, 3),
        actor=actor.username,
        **summary.__dict__,
    )
    audit.record(
        session,
        actor=actor,
        at=now,
        action="insurance.assessed",
        target_type="plan",
        target_id=plan.id,
        after={
            **summary.__dict__,
            "banks_missing": list(summary.banks_missing),
            "coverage_granted": granted,
            "plan_version": version.version,
        },
    )
    return summary


STEPS = 4


def _silent(_done: int, _total: int, _stage: str) -> None:
    """Nobody watches a run from the CLI or the schedule."""


def check_assessable(
    session: Session,
    plan: Plan,
    month: date,
    *,
    actor: Actor,
    now: datetime,
    allow_missing_banks: bool = False,
) -> tuple[Period, dict[str, str]]:
    """The refusals `assess` would give, without its work: what a page checks before it
    queues the assessment as a task, so that the form comes back at once with the reason. The
    period, and the banks assessed without their files reaching its end."""
    actor.require(Permission.INSURANCE_MANAGE)
    period = period_containing(month, service.version_on(session, plan, month).period_kind)
    _require_finished(period, now)
    missing = banks_not_reaching(session, plan, period)
    if missing and not allow_missing_banks:
        raise InvalidInput(
            "balances_incomplete",
            f"以下银行的余额文件尚未报送至 {period.end}，暂不能考核 {_name(period)}："
            + "、".join(missing.values()),
        )
    return period, missing


def _name(period: Period) -> str:
    """A month by its code (2026-12), as the station evaluation names it; longer periods by
    their dates."""
    return (
        period.code if period == period_containing(period.start, PeriodKind.MONTH) else period.label
    )


def _require_finished(period: Period, now: datetime) -> None:
    if period.end >= business_date(now):
        raise InvalidInput("period_open", f"{_name(period)} 尚未结束，期满后才能考核")


def late_banks(session: Session, plan: Plan, period: Period) -> list[tuple[Bank, date | None]]:
    """The banks the period is assessed with (the plan's, in partnership on its first day, with
    cards) whose files stop before its last day, or before the day a bank stopped, each with
    the last day its files reach (None: never sent). A bank with no cards has nothing to
    report. The one rule that the assessment, its scheduled job and the checklist wait on."""
    issuing = member_queries.bank_ids_with_cards(session)
    assessed = service.plan_bank_ids(session, plan, period.start)
    bank_ids = [bank for bank in assessed if bank in issuing]
    reached = last_days_reported(session, bank_ids)
    late: list[tuple[Bank, date | None]] = []
    for bank in member_queries.all_banks(session):
        if bank.id not in bank_ids:
            continue
        due = period.end
        if bank.retired_on is not None:
            due = min(due, bank.retired_on - timedelta(days=1))
        last = reached.get(bank.id)
        if last is None or last < due:
            late.append((bank, last))
    return late


def banks_not_reaching(session: Session, plan: Plan, period: Period) -> dict[str, str]:
    """`late_banks` by code, each named with how far its files reach."""
    return {
        bank.code: f"{bank.name}（{'尚未报送' if last is None else f'已报送至 {last}'}）"
        for bank, last in late_banks(session, plan, period)
    }


def _decide_all(
    session: Session,
    plan: Plan,
    period: Period,
    terms: Terms,
    store: BalanceStore,
    results: str,
    step: Callable[[int, int, str], None],
) -> _Decided:
    step(0, STEPS, "读取会员卡")
    inside, before = _parts(session, store, period)
    enrolled = service.enrolled_unit_ids(session, plan, period.end)
    codes = {bank.id: bank.code for bank in member_queries.all_banks(session)}
    # A member who withdrew the balance-sharing consent before this period began is not
    # assessed from it on (PIPL art. 15; honoured from the next period).
    withdrawn = consents.withdrawn_for_period(session, Purpose.BALANCE_SHARING, period.start)
    rows = (
        row
        for row in member_queries.card_holding_rows(
            session, service.plan_bank_ids(session, plan, period.start)
        )
        if row[3] not in withdrawn
    )
    with store.staging(rows) as path, store.analytics() as connection:
        connection.execute(
            f"CREATE TEMP TABLE holdings AS SELECT *, unit_id IN (SELECT unnest($units)) "
            f"AS unit_enrolled FROM {staged(path, _HOLDING_TYPES)}",
            {"units": sorted(enrolled)},
        )
        step(1, STEPS, "汇总日均余额")
        connection.execute(
            f"CREATE TEMP TABLE sums AS {fen_days_sql(inside, before)}",
            {"start": period.start, "end": period.end},
        )
        step(2, STEPS, "判定资格")
        decide(connection, period, terms)
        store.write_part(
            connection,
            "SELECT card_no, member_id, average_fen, days, reasons = '' AS eligible, reasons "
            "FROM decided ORDER BY card_no",
            results,
        )
        tallies = connection.execute(
            "SELECT bank_id, count(*), count(*) FILTER (WHERE reasons = '') FROM decided "
            "GROUP BY bank_id ORDER BY bank_id"
        ).fetchall()
        covered = connection.execute(_COVERED).fetchall()
    by_bank = {codes[bank]: {"assessed": int(n), "passed": int(ok)} for bank, n, ok in tallies}
    return _Decided(
        assessed=sum(tally["assessed"] for tally in by_bank.values()),
        eligible=sum(tally["passed"] for tally in by_bank.values()),
        by_bank=by_bank,
        covered=[(int(m), int(c), int(u), int(a)) for m, c, u, a in covered],
    )


_HOLDING_TYPES = {
    "card_id": "BIGINT",
    "card_no": "VARCHAR",
    "bank_id": "BIGINT",
    "member_id": "BIGINT",
    "unit_id": "BIGINT",
    "opened_on": "DATE",
    "card_status": "VARCHAR",
    "employment_status": "VARCHAR",
    "membership_status": "VARCHAR",
}


def _record_run(
    session: Session,
    plan: Plan,
    version: PlanVersion,
    period: Period,
    decided: _Decided,
    results_path: str,
    now: datetime,
) -> AssessmentRun:
    run = session.scalars(
        select(AssessmentRun).where(
            AssessmentRun.plan_id == plan.id, AssessmentRun.period_start == period.start
        )
    ).one_or_none()
    values = {
        "plan_version_id": version.id,
        "period_end": period.end,
        "cards_assessed": decided.assessed,
        "eligible": decided.eligible,
        "ineligible": decided.assessed - decided.eligible,
        "by_bank": decided.by_bank,
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
    # The pass rates and coverage on the dashboard change with the run, not ten minutes later.
    snapshots.mark_stale(session, figures.BOARD_NAME)
    return run


_COVERAGE_COLUMNS = [
    "plan_id",
    "plan_version_id",
    "member_id",
    "card_id",
    "unit_id",
    "starts_on",
    "ends_on",
    "average_fen",
    "assessment_run_id",
    "granted_at",
]


def _grant_coverage(
    session: Session,
    plan: Plan,
    version: PlanVersion,
    run: AssessmentRun,
    period: Period,
    terms: Terms,
    decided: _Decided,
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
        (plan.id, version.id, member, card, unit, cover.start, cover.end, average, run.id, now)
        for member, card, unit, average in decided.covered
        if member not in already
    ]
    copy_rows(session, Coverage.__tablename__, _COVERAGE_COLUMNS, rows)
    return len(rows)
