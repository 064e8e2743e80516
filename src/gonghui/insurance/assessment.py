"""The monthly (or quarterly, or yearly) assessment: every card's average daily balance, who
qualifies, and the coverage granted for the following period.

It is set-based from end to end: the roll's facts are copied once into DuckDB, balances are
summed there a range of cards at a time, the rules of `rules.py` are applied there as SQL
(tests hold the two to agreement), per-card results go to a Parquet file, and only the run,
its per-bank pass rates and the new coverage rows come back to the database.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import islice, pairwise
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
from gonghui.insurance import figures, parts, service
from gonghui.insurance.balances import last_days_reported
from gonghui.insurance.models import (
    AssessmentRun,
    AssessmentSnapshot,
    BalancePart,
    Coverage,
    Plan,
    PlanVersion,
)
from gonghui.insurance.rules import (
    BalancePoint,
    CardFacts,
    Ineligibility,
    Period,
    PeriodKind,
    Terms,
    fen_days,
    following_period,
    period_containing,
)
from gonghui.insurance.store import BalanceStore, PartRead, scan, staged
from gonghui.members import queries as member_queries
from gonghui.members.queries import Bank, CardHolding
from gonghui.members.rules import CardStatus, EmploymentStatus, MembershipStatus

log = get_logger(__name__)

# The version of the computation below. A snapshot records it beside the plan version; a
# change to the SQL that could move any figure raises it, and a replay says which it used.
ENGINE_VERSION = 1


@dataclass(frozen=True)
class Dialect:
    """What differs between the engines that run the assessment's SQL: DuckDB on one machine,
    Spark SQL on a cluster. The computation itself is written once, below."""

    marker: str  # named parameters: $name (DuckDB) or :name (Spark)
    days_between: str  # days from {0} to {1}
    int_div: str  # integer division of {0} by {1}, rounding down
    card_key: str  # the key cards are grouped by, from the card number {0}
    card_of_key: str  # the card number back from the key {0}

    def days(self, first: str, last: str) -> str:
        return self.days_between.format(first, last)

    def div(self, dividend: str, divisor: str) -> str:
        return self.int_div.format(dividend, divisor)

    def key(self, card_no: str) -> str:
        return self.card_key.format(card_no)

    def card(self, key: str) -> str:
        return self.card_of_key.format(key)

    def sql(self, text: str) -> str:
        return text.replace("$", self.marker)


# A province's ten million card numbers as a VARCHAR GROUP BY key outgrow DuckDB's memory
# budget (each group holds its string); a fixed-width HUGEINT does not. Card numbers are 16 to
# 19 ASCII digits (`members.imports`), so the number times 100 plus its length is a key that
# gives the number back exactly, leading zeros and all. Spark spills to disk and groups by the
# string itself.
DUCKDB = Dialect(
    "$",
    "date_diff('day', {0}, {1})",
    "({0}) // ({1})",
    "(CAST({0} AS HUGEINT) * 100 + length({0}))",
    "lpad(CAST(({0}) // 100 AS VARCHAR), CAST(({0}) % 100 AS INTEGER), '0')",
)
SPARK = Dialect(":", "datediff({1}, {0})", "({0}) div ({1})", "{0}", "{0}")


def fen_days_sql(
    inside: str,
    before: str,
    *,
    one_card: bool = False,
    card_range: bool = False,
    dialect: Dialect = DUCKDB,
) -> str:
    """Per card, the sum over the period's days of the end-of-day balance, a day without a
    record carrying the last known balance, over two table expressions of balance rows: those
    in the period's parts and those before it (parameters: start, end, after_end; card_no for
    one card; first_card and after_card for the cards in [first_card, after_card)).

    Banks send a row per card per day, so most cards have no gap inside the period: for them
    the sum is a plain aggregate (the last balance carried to the period's end, the one before
    the period carried up to the first row). Only cards with gaps need the ordered, windowed
    computation, which is forty times slower per row.
    """
    d = dialect
    card_filter = ""
    if one_card:
        card_filter = "AND card_no = $card_no"
    elif card_range:
        card_filter = "AND card_no >= $first_card AND card_no < $after_card"
    # Spelt out twice rather than a CTE used twice, which DuckDB would materialise in memory.
    inside_rows = f"""(
        SELECT {d.key("card_no")} AS card_key, on_date, balance_fen FROM {inside} i
        WHERE on_date BETWEEN $start AND $end {card_filter}
    )"""
    following = "coalesce(lead(on_date) OVER (PARTITION BY card_key ORDER BY on_date), $after_end)"
    return d.sql(f"""
        WITH carried AS (
            SELECT {d.key("card_no")} AS card_key, max_by(balance_fen, on_date) AS carried
            FROM {before} b
            WHERE on_date < $start {card_filter} GROUP BY {d.key("card_no")}
        ),
        totals AS (
            SELECT card_key, sum(balance_fen) AS total, count(*) AS n, min(on_date) AS first_on,
                   max(on_date) AS last_on, max_by(balance_fen, on_date) AS last_balance
            FROM {inside_rows} r GROUP BY card_key
        ),
        gappy AS (
            SELECT card_key, sum(balance_fen * days) AS fen_days FROM (
                SELECT card_key, balance_fen,
                       {d.days("on_date", following)} AS days
                FROM {inside_rows} r
                WHERE card_key IN (
                    SELECT card_key FROM totals WHERE n <> {d.days("first_on", "last_on")} + 1
                )
            ) w GROUP BY card_key
        )
        SELECT {d.card("coalesce(t.card_key, c.card_key)")} AS card_no,
               CAST(coalesce(g.fen_days,
                             t.total + t.last_balance * {d.days("t.last_on", "$end")}, 0)
                    + coalesce(c.carried, 0)
                      * {d.days("$start", "coalesce(t.first_on, $after_end)")} AS BIGINT)
                   AS fen_days
        FROM totals t
        FULL OUTER JOIN carried c ON t.card_key = c.card_key
        LEFT JOIN gappy g ON g.card_key = coalesce(t.card_key, c.card_key)
    """)


def period_parameters(period: Period) -> dict[str, object]:
    return {"start": period.start, "end": period.end, "after_end": period.end + timedelta(days=1)}


@dataclass(frozen=True)
class Sources:
    """The parts an assessment reads: those with a day in the period, and those before it
    (where a carried-in balance may come from, however long ago)."""

    inside: list[BalancePart]
    before: list[BalancePart]


def sources_of(session: Session, period: Period) -> Sources:
    return Sources(
        parts.live_parts(session, *parts.overlapping(period.start, period.end)),
        parts.live_parts(session, *parts.before(period.start)),
    )


def balance_sums(
    session: Session, store: BalanceStore, period: Period, card_no: str | None = None
) -> dict[str, int]:
    sources = sources_of(session, period)
    return _sums(
        store,
        parts.reads(store, sources.inside),
        parts.reads(store, sources.before),
        period,
        card_no,
    )


# Where a one-card read first looks for the balance carried into a period: banks report every
# card every day, so the week before nearly always holds it; only when it does not are the
# earlier parts read. (A row in that week is later than anything in a part ending before it.)
RECENT_DAYS = 7


def card_sum(
    session: Session, store: BalanceStore, period: Period, card_no: str, bank_id: int
) -> int:
    """One card's fen-days over `period`, by the reference definition `rules.fen_days` (the
    property tests hold the assessment's SQL to it) over the card's own rows. Only its bank's
    live parts whose card range holds it are opened, and in each (sorted by card) only the row
    groups that may hold it are read: one pass over the period and the week before."""
    recent = period.start - timedelta(days=RECENT_DAYS)
    near = parts.live_parts(
        session, *parts.overlapping(recent, period.end), bank_id=bank_id, card_no=card_no
    )
    query = (
        "SELECT on_date, balance_fen FROM {rows} r WHERE card_no = $card_no "
        "AND on_date BETWEEN $first AND $last ORDER BY on_date DESC"
    )
    with store.reader() as connection:
        points = [
            BalancePoint(on, fen)
            for on, fen in connection.execute(
                query.format(rows=scan(parts.reads(store, near))),
                {"card_no": card_no, "first": recent, "last": period.end},
            ).fetchall()
        ]
        if not points or points[-1].on > period.start:
            older = parts.live_parts(
                session, *parts.before(recent), bank_id=bank_id, card_no=card_no
            )
            carried = connection.execute(
                query.format(rows=scan(parts.reads(store, older))) + " LIMIT 1",
                {"card_no": card_no, "first": date.min, "last": recent - timedelta(days=1)},
            ).fetchall()
            points.extend(BalancePoint(on, fen) for on, fen in carried)
    return fen_days(points, period)


def _sums(
    store: BalanceStore,
    inside: list[PartRead],
    before: list[PartRead],
    period: Period,
    card_no: str | None,
) -> dict[str, int]:
    parameters = period_parameters(period)
    if card_no is not None:
        parameters["card_no"] = card_no
    with store.analytics() as connection:
        rows = connection.execute(
            fen_days_sql(scan(inside), scan(before), one_card=card_no is not None), parameters
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


def decided_sql(dialect: Dialect = DUCKDB) -> str:
    """The rules of `decide_card` and `apply_group_minimum`, as SQL over the tables `holdings`
    (`_HOLDING_TYPES` plus `unit_enrolled`) and `sums` (card_no, fen_days); parameters from
    `decide_parameters`."""
    d = dialect
    return d.sql(f"""
    WITH counted AS (
        SELECT h.*, coalesce(s.fen_days, 0) AS fen_days,
               CASE WHEN $calendar OR h.opened_on <= $start THEN $days
                    WHEN h.opened_on > $end THEN 0
                    ELSE {d.days("h.opened_on", "$end")} + 1 END AS days
        FROM holdings h LEFT JOIN sums s USING (card_no)
    ),
    flagged AS (
        SELECT *,
               CASE WHEN days > 0 THEN {d.div("2 * fen_days + days", "2 * days")} ELSE 0 END
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
    FROM grouped g LEFT JOIN unit_sizes u ON u.unit_id = g.unit_id
    """)


# A member holding two qualifying cards is covered once, through the fuller card.
_COVERED = """
    SELECT member_id, card_id, unit_id, average_fen FROM decided
    WHERE reasons = ''
    QUALIFY row_number() OVER (PARTITION BY member_id ORDER BY average_fen DESC, card_id) = 1
    ORDER BY member_id
"""


def decide_parameters(period: Period, terms: Terms) -> dict[str, object]:
    return {
        "calendar": terms.day_count.value == "calendar",
        "start": period.start,
        "end": period.end,
        "days": period.days,
        "threshold": terms.threshold_fen,
        "minimum": terms.min_group_size or 0,
    }


def decide(connection: duckdb.DuckDBPyConnection, period: Period, terms: Terms) -> None:
    connection.execute(
        f"CREATE TEMP TABLE decided AS {decided_sql()}", decide_parameters(period, terms)
    )


@dataclass(frozen=True)
class AssessmentSummary:
    period: str
    cards_assessed: int
    eligible: int
    ineligible: int
    # Codes of the plan banks whose files did not reach the period's end (assessed anyway).
    banks_missing: tuple[str, ...] = ()
    # What `gonghui insurance assess --replay` takes to recompute this run.
    snapshot: int | None = None


@dataclass(frozen=True)
class _Decided:
    assessed: int
    eligible: int
    by_bank: dict[str, dict[str, int]]


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
    sources = sources_of(session, period)
    files = _RunFiles.new(plan, period)
    step = progress or _silent
    with store.scratch() as scratch:
        covered = scratch / "covered.parquet"
        decided = _decide_all(session, plan, period, terms, store, sources, files, covered, step)
        step(STEPS - 1, STEPS, "授予保障")
        run = _record_run(session, plan, version, period, decided, files.results, now)
        granted = _grant_coverage(
            session, plan, version, run, period, terms, store.rows_of(covered), now
        )
    snapshot = AssessmentSnapshot(
        run_id=run.id,
        plan_version_id=version.id,
        engine_version=ENGINE_VERSION,
        period_start=period.start,
        period_end=period.end,
        inside_parts=[part.id for part in sources.inside],
        before_parts=[part.id for part in sources.before],
        holdings_path=files.holdings,
        results_path=files.results,
        cards_assessed=decided.assessed,
        eligible=decided.eligible,
        taken_at=now,
    )
    session.add(snapshot)
    session.flush()
    step(STEPS, STEPS, "完成")
    summary = AssessmentSummary(
        period=period.code,
        cards_assessed=decided.assessed,
        eligible=decided.eligible,
        ineligible=decided.assessed - decided.eligible,
        banks_missing=tuple(missing),
        snapshot=snapshot.id,
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


@dataclass(frozen=True)
class _RunFiles:
    holdings: str
    results: str

    @classmethod
    def new(cls, plan: Plan, period: Period) -> _RunFiles:
        # Each run its own files: a re-run must not overwrite what an earlier snapshot decided.
        stem = f"assessments/{plan.code}/{period.code}/{secrets.token_hex(6)}"
        return cls(f"{stem}-holdings.parquet", f"{stem}-results.parquet")


def _decide_all(
    session: Session,
    plan: Plan,
    period: Period,
    terms: Terms,
    store: BalanceStore,
    sources: Sources,
    files: _RunFiles,
    covered: Path,
    step: Callable[[int, int, str], None],
) -> _Decided:
    """Decide every card; the members to cover (member, card, unit, average), one row each,
    go to the file `covered`."""
    step(0, STEPS, "读取会员卡")
    enrolled = service.enrolled_unit_ids(session, plan, period.end)
    codes = {bank.id: bank.code for bank in member_queries.all_banks(session)}
    # A member who withdrew the balance-sharing consent before this period began is not
    # assessed from it on (PIPL art. 15; honoured from the next period).
    withdrawn = consents.withdrawn_for_period(session, Purpose.BALANCE_SHARING, period.start)
    with store.staging_file() as path, store.analytics() as connection:
        member_queries.write_card_holdings(
            session, service.plan_bank_ids(session, plan, period.start), path
        )
        connection.execute(
            f"CREATE TEMP TABLE holdings AS SELECT *, unit_id IN (SELECT unnest($units)) "
            f"AS unit_enrolled FROM {staged(path, _HOLDING_TYPES)} "
            "WHERE member_id NOT IN (SELECT unnest($withdrawn))",
            {"units": sorted(enrolled), "withdrawn": sorted(withdrawn)},
        )
        store.write_part(connection, "SELECT * FROM holdings ORDER BY card_no", files.holdings)
        compute(
            connection,
            parts.reads(store, sources.inside),
            parts.reads(store, sources.before),
            period,
            terms,
            step,
        )
        store.write_part(connection, _RESULTS, files.results)
        tallies = connection.execute(
            "SELECT bank_id, count(*), count(*) FILTER (WHERE reasons = '') FROM decided "
            "GROUP BY bank_id ORDER BY bank_id"
        ).fetchall()
        store.save(connection, _COVERED, covered)
    by_bank = {codes[bank]: {"assessed": int(n), "passed": int(ok)} for bank, n, ok in tallies}
    return _Decided(
        assessed=sum(tally["assessed"] for tally in by_bank.values()),
        eligible=sum(tally["passed"] for tally in by_bank.values()),
        by_bank=by_bank,
    )


_RESULTS = (
    "SELECT card_no, member_id, average_fen, days, reasons = '' AS eligible, reasons "
    "FROM decided ORDER BY card_no"
)


def compute(
    connection: duckdb.DuckDBPyConnection,
    inside: list[PartRead],
    before: list[PartRead],
    period: Period,
    terms: Terms,
    step: Callable[[int, int, str], None] | None = None,
) -> None:
    """`sums` and `decided` from the table `holdings` and the given parts."""
    said = step or _silent
    said(1, STEPS, "汇总日均余额")
    sum_balances(connection, inside, before, period)
    said(2, STEPS, "判定资格")
    decide(connection, period, terms)


def sum_balances(
    connection: duckdb.DuckDBPyConnection,
    inside: list[PartRead],
    before: list[PartRead],
    period: Period,
) -> None:
    """The table `sums` (card_no, fen_days) from the given parts, range by range of the cards
    in the table `holdings`."""
    connection.execute("CREATE TEMP TABLE sums (card_no VARCHAR, fen_days BIGINT)")
    sums = fen_days_sql(scan(inside), scan(before), card_range=True)
    for first, after in card_ranges(connection):
        connection.execute(
            f"INSERT INTO sums {sums}",
            {**period_parameters(period), "first_card": first, "after_card": after},
        )


# Cards summed in one aggregate. A hash table of ten million cards outgrows the 2 GB budget
# and spills (155 s for a province's month, measured); four ranges of 2.5 million each fit and
# take 39 s over the same files, each range reading only the row groups that may hold it (the
# parts are sorted by card).
CARDS_PER_RANGE = 2_500_000
# Bounds around every card number: "" sorts before any, "~" after any string of digits.
_FIRST_CARD, _AFTER_LAST_CARD = "", "~"


def card_ranges(connection: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """Ranges [first, after) of card numbers that together hold every string of digits, each
    about CARDS_PER_RANGE of the table `holdings`, cut at a sample's quantiles (the cuts only
    size the work; any cuts give the same sums)."""
    (cards,) = connection.execute("SELECT count(*) FROM holdings").fetchone() or (0,)
    count = -(-int(cards) // CARDS_PER_RANGE)
    cuts: list[str] = []
    if count > 1:
        sample = sorted(
            card
            for (card,) in connection.execute(
                "SELECT card_no FROM holdings USING SAMPLE reservoir(100000 ROWS) REPEATABLE (16)"
            ).fetchall()
        )
        cuts = sorted({sample[len(sample) * k // count] for k in range(1, count)})
    bounds = [_FIRST_CARD, *cuts, _AFTER_LAST_CARD]
    return list(pairwise(bounds))


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


# The columns of `_COVERED`'s rows, as the coverage table names them.
_COVERED_COLUMNS = ["member_id", "card_id", "unit_id", "average_fen"]


def _grant_coverage(
    session: Session,
    plan: Plan,
    version: PlanVersion,
    run: AssessmentRun,
    period: Period,
    terms: Terms,
    covered: Iterable[tuple[object, ...]],
    now: datetime,
) -> int:
    """Cover every qualifying member (`covered`: member, card, unit, average) for the coverage
    period; a re-run adds only the missing. Cover once granted is not withdrawn by a later
    re-run: members were told of it."""
    cover = following_period(period, terms.period_kind, terms.coverage_lag)
    already = set(
        session.scalars(
            select(Coverage.member_id).where(
                Coverage.plan_id == plan.id, Coverage.starts_on == cover.start
            )
        )
    )
    rows = (row for row in covered if row[0] not in already)
    same = {
        "plan_id": plan.id,
        "plan_version_id": version.id,
        "starts_on": cover.start,
        "ends_on": cover.end,
        "assessment_run_id": run.id,
        "granted_at": now,
    }
    granted = 0
    while batch := list(islice(rows, _GRANT_BATCH)):
        copy_rows(session, Coverage.__tablename__, _COVERED_COLUMNS, batch, same=same)
        granted += len(batch)
    return granted


# Coverage rows written at a time: a province's millions stream through, never all in memory.
_GRANT_BATCH = 50_000
