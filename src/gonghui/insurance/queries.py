"""Reads of the insurance module."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Protocol

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from gonghui.core.auth import Actor, Permission, Role
from gonghui.core.clock import business_date
from gonghui.core.errors import NotFound
from gonghui.core.money import format_fen
from gonghui.core.pagination import PAGE_SIZE, Page, paged
from gonghui.insurance import service
from gonghui.insurance.assessment import card_sum, facts_of, late_banks
from gonghui.insurance.claims_rules import ClaimStatus, Clock, statutory_clock
from gonghui.insurance.models import (
    AssessmentRun,
    BalanceImport,
    Claim,
    ClaimDocument,
    Coverage,
    Plan,
)
from gonghui.insurance.rules import (
    CardDecision,
    Ineligibility,
    Period,
    PeriodKind,
    RunningAverage,
    average_daily_balance,
    days_counted,
    decide_card,
    explain_balance,
    period_containing,
    running_average,
    running_average_words,
)
from gonghui.insurance.store import BalanceStore
from gonghui.members import queries as member_queries
from gonghui.members.queries import Member


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
    """One card's average daily balance and eligibility for the period containing `month`:
    the assessment's own decision once the period is assessed (what granted or refused cover),
    else computed the same way from the card's bank's parts alone."""
    holdings = member_queries.card_holdings(
        session, service.plan_bank_ids(session, plan), card_no=card_no.strip()
    )  # a card of the plan's banks, retired ones included (their past periods count)
    if not holdings:
        raise NotFound(f"参加计划 {plan.code} 的会员卡 {card_no}")
    holding = holdings[0]
    version = service.version_on(session, plan, month)
    period = period_containing(month, version.period_kind)
    terms = service.terms_of(service.version_on(session, plan, period.end))
    run = assessment_run_for(session, plan, period.start)
    decided = None if run is None else _assessed(store, run.results_path, holding.card_no)
    if decided is not None:
        return CardStanding(holding.card_no, period, terms.threshold_fen, decided)
    total = card_sum(session, store, period, holding.card_no, holding.bank_id)
    unit = holding.unit_id
    enrolled = {unit} if service.unit_enrolled(session, plan, unit, period.end) else set()
    facts = facts_of(holding, enrolled)
    if holding.bank_id in member_queries.retired_bank_ids(session, period.start):
        # The assessment reads no card of a bank retired by the period's start: for this period
        # the card counts as one no longer in use.
        facts = replace(facts, card_active=False)
    decision = decide_card(facts, total, period, terms)
    return CardStanding(holding.card_no, period, terms.threshold_fen, decision)


def _assessed(store: BalanceStore, results_path: str, card_no: str) -> CardDecision | None:
    """The card's row in a run's results (sorted by card: one row group is read), if any."""
    with store.reader() as connection:
        row = connection.execute(
            "SELECT average_fen, days, reasons FROM read_parquet($path) WHERE card_no = $card",
            {"path": str(store.absolute(results_path)), "card": card_no},
        ).fetchone()
    if row is None:
        return None
    average, days, reasons = row
    return CardDecision(
        int(average), int(days), tuple(Ineligibility(code) for code in reasons.split(",") if code)
    )


@dataclass(frozen=True)
class MonthSoFar:
    """A card's running average for the current month, counting the days that have ended."""

    card_no: str
    month: Period
    through: date | None  # the last day counted (yesterday); None on the month's first day
    days: int
    average_fen: int
    threshold_fen: int
    # The end-of-day balance to hold every day left (today included) so that the month's
    # average reaches the threshold; 0 when it is reached whatever happens.
    needed_daily_fen: int

    @property
    def days_left(self) -> int:
        counted = 0 if self.through is None else (self.through - self.month.start).days + 1
        return self.month.days - counted

    @property
    def explanation(self) -> str:
        threshold = format_fen(self.threshold_fen)
        if self.through is None:
            head = "本月刚开始"
        else:
            day = f"{self.through.month}月{self.through.day}日"
            head = f"本月截至{day}日均余额为{format_fen(self.average_fen)}"
        if self.needed_daily_fen == 0:
            return f"{head}，本月日均已可达到{threshold}"
        return (
            f"{head}；剩余{self.days_left}天每日余额保持{format_fen(self.needed_daily_fen)}"
            f"及以上，本月日均即可达到{threshold}"
        )


def month_so_far(
    session: Session, plan: Plan, card_no: str, today: date, *, store: BalanceStore
) -> MonthSoFar:
    """本月截至昨日日均: the average daily balance from the month's first day to yesterday
    (Beijing), by the plan's rules, and the daily balance still needed to reach the threshold
    on average by the month's end. Today is not counted: its closing balance does not exist yet."""
    holdings = member_queries.card_holdings(
        session, service.plan_bank_ids(session, plan), card_no=card_no.strip()
    )  # a card of the plan's banks, retired ones included (their past periods count)
    if not holdings:
        raise NotFound(f"参加计划 {plan.code} 的会员卡 {card_no}")
    holding = holdings[0]
    month = period_containing(today, PeriodKind.MONTH)
    terms = service.terms_of(service.version_on(session, plan, month.end))
    whole_month = days_counted(month, terms.day_count, holding.opened_on)
    if today == month.start:
        needed = terms.threshold_fen if whole_month else 0
        return MonthSoFar(holding.card_no, month, None, 0, 0, terms.threshold_fen, needed)
    elapsed = Period(month.start, today - timedelta(days=1))
    total = card_sum(session, store, elapsed, holding.card_no, holding.bank_id)
    days = days_counted(elapsed, terms.day_count, holding.opened_on)
    short = terms.threshold_fen * whole_month - total
    left = (month.end - today).days + 1
    return MonthSoFar(
        card_no=holding.card_no,
        month=month,
        through=elapsed.end,
        days=days,
        average_fen=average_daily_balance(total, days),
        threshold_fen=terms.threshold_fen,
        needed_daily_fen=max(0, -(-short // left)),
    )


@dataclass(frozen=True)
class RunningStanding:
    card_no: str
    threshold_fen: int
    running: RunningAverage

    @property
    def words(self) -> str:
        return running_average_words(self.running, self.threshold_fen)


def _fen_days_so_far(
    session: Session, store: BalanceStore, card_no: str, bank_id: int, so_far: Period | None
) -> int:
    """One card's fen-days over the reported days of the running period. The one place the
    home page reads balances: the per-card read of its bank's parts (`card_sum`)."""
    if so_far is None:
        return 0
    return card_sum(session, store, so_far, card_no, bank_id)


def running_standing(
    session: Session, plan: Plan, card_no: str, today: date, *, store: BalanceStore
) -> RunningStanding | None:
    """Where a card stands in the period containing `today`, counted to yesterday (Beijing
    time); None for a card that is not in the plan."""
    holdings = member_queries.card_holdings(
        session, service.plan_bank_ids(session, plan), card_no=card_no.strip()
    )  # a card of the plan's banks, retired ones included (their past periods count)
    if not holdings:
        return None
    holding = holdings[0]
    terms = service.terms_of(service.version_on(session, plan, today))
    period = period_containing(today, terms.period_kind)
    so_far = Period(period.start, today - timedelta(days=1)) if today > period.start else None
    total = _fen_days_so_far(session, store, holding.card_no, holding.bank_id, so_far)
    running = running_average(total, today, holding.opened_on, terms)
    return RunningStanding(holding.card_no, terms.threshold_fen, running)


@dataclass(frozen=True)
class MemberCover:
    """A member's supplementary cover as a page shows it: whether it holds today, and the
    latest periods."""

    covered_today: bool
    periods: list[tuple[date, date]]


def cover_of(session: Session, member: Member, today: date, limit: int = 3) -> MemberCover:
    """The cover of a member the caller has already loaded through its scope, in any plan."""
    periods = [
        (row.starts_on, row.ends_on)
        for row in session.execute(
            select(Coverage.starts_on, Coverage.ends_on)
            .where(Coverage.member_id == member.id)
            .order_by(Coverage.starts_on.desc())
            .limit(limit)
        )
    ]
    return MemberCover(any(start <= today <= end for start, end in periods), periods)


def coverages_of(session: Session, plan: Plan, member_id: int) -> list[Coverage]:
    return list(
        session.scalars(
            select(Coverage)
            .where(Coverage.plan_id == plan.id, Coverage.member_id == member_id)
            .order_by(Coverage.starts_on.desc())
        )
    )


def claims_visible(
    session: Session, actor: Actor, statuses: Sequence[ClaimStatus] = (), page: int = 1
) -> Page[Claim]:
    """Claims in the actor's reach, most urgent first: the oldest complete packet on top."""
    statement = _claims_in_reach(actor, statuses)
    return paged(
        session, statement.order_by(Claim.complete_at.is_(None), Claim.complete_at, Claim.id), page
    )


def _claims_in_reach(actor: Actor, statuses: Sequence[ClaimStatus]) -> Select[Claim]:
    actor.require(Permission.CLAIMS_VIEW)
    statement = select(Claim)
    if actor.role is Role.MEMBER:
        statement = statement.where(Claim.member_id == actor.member_id)
    elif actor.role is Role.UNIT_OFFICER:
        statement = statement.where(Claim.unit_id == actor.unit_id)
    if statuses:
        statement = statement.where(Claim.status.in_(statuses))
    return statement


class _ClockFacts(Protocol):
    """What the clock needs of a claim: the claim itself, or a row of those three columns."""

    @property
    def status(self) -> ClaimStatus: ...
    @property
    def complete_at(self) -> datetime | None: ...
    @property
    def decided_at(self) -> datetime | None: ...


def clock_of(claim: _ClockFacts, today: date) -> Clock | None:
    """The statutory clock running on a claim, counted in Beijing days (as the claim-clock job
    counts them)."""
    return statutory_clock(
        claim.status,
        complete_on=business_date(claim.complete_at) if claim.complete_at else None,
        decided_on=business_date(claim.decided_at) if claim.decided_at else None,
        today=today,
    )


class QueueOrder(StrEnum):
    DEADLINE = "deadline"
    NEWEST = "newest"
    AMOUNT = "amount"

    @property
    def label(self) -> str:
        return {"deadline": "法定时限最近", "newest": "最新申请", "amount": "金额最高"}[self.value]


@dataclass(frozen=True)
class QueueFilter:
    statuses: Sequence[ClaimStatus] = ()
    search: str = ""
    overdue_only: bool = False
    order: QueueOrder = QueueOrder.DEADLINE


def claim_queue(
    session: Session, actor: Actor, wanted: QueueFilter, today: date, page: int = 1
) -> Page[Claim]:
    """Claims in the actor's reach that match the filter: by claim number, member name or
    hospital; overdue only; soonest statutory deadline, newest or largest first."""
    statement = _claims_in_reach(actor, wanted.statuses)
    if text := wanted.search.strip().lstrip("#＃"):
        matches = [
            Claim.hospital.contains(text, autoescape=True),
            Claim.member_id.in_(member_queries.members_named(text)),
        ]
        if text.isdigit() and len(text) <= MAX_CLAIM_NUMBER_DIGITS:
            matches.append(Claim.id == int(text))
        statement = statement.where(or_(*matches))
    if wanted.overdue_only or wanted.order is QueueOrder.DEADLINE:
        return _by_deadline(session, statement, wanted.overdue_only, today, page)
    if wanted.order is QueueOrder.NEWEST:
        return paged(session, statement.order_by(Claim.created_at.desc(), Claim.id.desc()), page)
    amount = func.coalesce(Claim.approved_fen, Claim.estimated_fen)
    return paged(session, statement.order_by(amount.desc(), Claim.id), page)


MAX_CLAIM_NUMBER_DIGITS = 18


def _by_deadline(
    session: Session, statement: Select[Claim], overdue_only: bool, today: date, page: int
) -> Page[Claim]:
    """The soonest deadline first, then claims with no clock running. The two clocks start at
    different moments, so the order is counted here, over the matching claims' few columns."""
    keys = []
    for row in session.execute(
        statement.with_only_columns(Claim.id, Claim.status, Claim.complete_at, Claim.decided_at)
    ):
        clock = clock_of(row, today)
        if overdue_only and not (clock and clock.overdue):
            continue
        keys.append((clock is None, clock.due if clock else date.max, row.id))
    keys.sort()
    page = max(page, 1)
    chosen = [claim_id for *_rest, claim_id in keys[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]]
    loaded = {c.id: c for c in session.scalars(select(Claim).where(Claim.id.in_(chosen)))}
    return Page([loaded[claim_id] for claim_id in chosen], len(keys), page)


def claim_for(session: Session, actor: Actor, claim_id: int) -> Claim:
    """A claim as the actor may see it: their own, their unit's, or all for the insurer and
    the federation."""
    actor.require(Permission.CLAIMS_VIEW)
    statement = select(Claim).where(Claim.id == claim_id)
    if actor.role is Role.MEMBER:
        statement = statement.where(Claim.member_id == actor.member_id)
    elif actor.role is Role.UNIT_OFFICER:
        statement = statement.where(Claim.unit_id == actor.unit_id)
    claim = session.scalars(statement).one_or_none()
    if claim is None:
        raise NotFound("理赔申请")
    return claim


def document_for(session: Session, actor: Actor, document_id: int) -> tuple[ClaimDocument, Claim]:
    document = session.get(ClaimDocument, document_id)
    if document is None:
        raise NotFound("材料")
    return document, claim_for(session, actor, document.claim_id)


def import_history(session: Session, actor: Actor, limit: int = 30) -> list[BalanceImport]:
    actor.require(Permission.BALANCES_IMPORT)
    statement = select(BalanceImport).order_by(BalanceImport.id.desc()).limit(limit)
    if actor.bank_id is not None:
        statement = statement.where(BalanceImport.bank_id == actor.bank_id)
    return list(session.scalars(statement))


def assessment_runs(session: Session, actor: Actor) -> list[AssessmentRun]:
    actor.require(Permission.INSURANCE_FIGURES)
    return list(session.scalars(select(AssessmentRun).order_by(AssessmentRun.period_start.desc())))


def member_names(session: Session, member_ids: list[int]) -> dict[int, str]:
    return member_queries.member_names(session, member_ids)


def banks_short_of(session: Session, plan: Plan, day: date) -> list[int]:
    """The banks whose balance files do not yet reach `day`, the last day of a month, by the
    rule the assessment of that month waits on."""
    month = period_containing(day, PeriodKind.MONTH)
    return [bank.id for bank, _last in late_banks(session, plan, month)]


def assessment_run_for(session: Session, plan: Plan, period_start: date) -> AssessmentRun | None:
    return session.scalars(
        select(AssessmentRun).where(
            AssessmentRun.plan_id == plan.id, AssessmentRun.period_start == period_start
        )
    ).one_or_none()
