"""The federation's figures: the four the seed reports, with their trends.

- 参保单位 (participating units): units with at least one member ever covered;
- 累计赠送保险人次 (person-times insured): one per member per plan (calendar) year covered;
- 办结理赔案件 (claims concluded): claims paid or rejected — concluded either way;
- 赔付金额 (yuan paid): the sum of paid claims.

The four are totals to the moment they were counted. Their monthly series run by Beijing
calendar month, from the first month with a cover or a payment to the last month that has ended:
the current month is not shown until it ends.

The dashboard shows them from a snapshot (`core.snapshots`): one scope, the federation's, since
every role that may see the dashboard sees all of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import distinct, extract, func, select
from sqlalchemy.orm import Session, sessionmaker

from gonghui.core.auth import Actor, Permission
from gonghui.core.clock import business_date, business_midnight, full_months, month_of
from gonghui.core.errors import NotFound
from gonghui.core.money import Fen
from gonghui.core.monthly import by_month, month_bounds
from gonghui.core.snapshots import EVERYTHING, Board, Snapshot
from gonghui.insurance.claims_rules import ClaimStatus
from gonghui.insurance.models import AssessmentRun, Claim, Coverage
from gonghui.members import queries as member_queries

CONCLUDED = (ClaimStatus.PAID, ClaimStatus.REJECTED)


@dataclass(frozen=True)
class Headline:
    participating_units: int
    person_times: int
    claims_concluded: int
    paid_fen: Fen


@dataclass(frozen=True)
class Trends:
    months: list[str]  # YYYY-MM, every month that has ended since the first with figures
    covered_by_month: list[int]
    paid_by_month: list[Fen]
    claims_by_month: list[int]
    by_unit: list[tuple[str, int, Fen]]
    pass_rates: list[tuple[str, str, int, int]]  # period, bank, assessed, passed


@dataclass(frozen=True)
class Dashboard:
    head: Headline
    trend: Trends


BOARD_NAME = "insurance"


def _dashboard(session: Session, scope: str, now: datetime) -> Dashboard:
    if scope != EVERYTHING:
        raise NotFound("范围")
    return Dashboard(_headline(session), _trends(session, business_date(now)))


BOARD = Board(BOARD_NAME, Dashboard, _dashboard, period_of=month_of)


def dashboard(
    session: Session, factory: sessionmaker[Session], actor: Actor, now: datetime
) -> Snapshot[Dashboard]:
    """The dashboard's figures as the last job (or the first view) computed them."""
    actor.require(Permission.INSURANCE_DASHBOARD)
    return BOARD.view(session, factory, EVERYTHING, now)


def refresh_dashboard(session: Session, actor: Actor, now: datetime) -> Snapshot[Dashboard]:
    """立即更新: the figures counted again now."""
    actor.require(Permission.INSURANCE_DASHBOARD)
    return BOARD.refresh_in(session, EVERYTHING, now)


def headline(session: Session, actor: Actor) -> Headline:
    actor.require(Permission.INSURANCE_DASHBOARD)
    return _headline(session)


def _headline(session: Session) -> Headline:
    person_times = select(
        Coverage.member_id, extract("year", Coverage.starts_on).label("year")
    ).distinct()
    return Headline(
        participating_units=session.scalar(select(func.count(distinct(Coverage.unit_id)))) or 0,
        person_times=session.scalar(select(func.count()).select_from(person_times.subquery())) or 0,
        claims_concluded=session.scalar(select(func.count()).where(Claim.status.in_(CONCLUDED)))
        or 0,
        paid_fen=session.scalar(
            select(func.coalesce(func.sum(Claim.approved_fen), 0)).where(
                Claim.status == ClaimStatus.PAID
            )
        )
        or 0,
    )


def trends(session: Session, actor: Actor, today: date) -> Trends:
    actor.require(Permission.INSURANCE_DASHBOARD)
    return _trends(session, today)


def _trend_months(session: Session, today: date) -> list[date]:
    """The first days of the months from the first with a cover or a payment to the last that
    has ended by `today`, and of today's month, where they end."""
    ends = month_of(today)
    first_cover = session.scalar(select(func.min(Coverage.starts_on)))
    first_paid = session.scalar(
        select(func.min(Claim.paid_at)).where(
            Claim.status == ClaimStatus.PAID, Claim.paid_at < business_midnight(ends)
        )
    )
    firsts = [day for day in (first_cover,) if day is not None]
    if first_paid is not None:
        firsts.append(business_date(first_paid))
    if not firsts or min(firsts) >= ends:
        return []
    first = min(firsts)
    return full_months(today, (ends.year - first.year) * 12 + ends.month - first.month)


def _trends(session: Session, today: date) -> Trends:
    months = _trend_months(session, today)
    covered = by_month(session, Coverage.starts_on, month_bounds(months, instants=False), [])
    # Paid in a Beijing month: a claim paid at 17:00 UTC on 31 March was paid on 1 April.
    paid = by_month(
        session,
        Claim.paid_at,
        month_bounds(months, instants=True),
        [Claim.approved_fen],
        Claim.status == ClaimStatus.PAID,
    )
    shown = range(len(months) - 1)
    return Trends(
        months=[f"{months[index]:%Y-%m}" for index in shown],
        covered_by_month=[int(covered.get(index, (0,))[0]) for index in shown],
        paid_by_month=[int(paid.get(index, (0, 0))[1]) for index in shown],
        claims_by_month=[int(paid.get(index, (0, 0))[0]) for index in shown],
        by_unit=_by_unit(session),
        pass_rates=_pass_rates(session),
    )


def _by_unit(session: Session, limit: int = 10) -> list[tuple[str, int, Fen]]:
    covered = dict(
        session.execute(
            select(Coverage.unit_id, func.count(distinct(Coverage.member_id))).group_by(
                Coverage.unit_id
            )
        ).all()
    )
    paid = dict(
        session.execute(
            select(Claim.unit_id, func.sum(Claim.approved_fen))
            .where(Claim.status == ClaimStatus.PAID)
            .group_by(Claim.unit_id)
        ).all()
    )
    top = sorted(covered, key=lambda unit: (-covered[unit], unit))[:limit]
    names = member_queries.unit_names(session, top)
    return [
        (names.get(unit, str(unit)), int(covered[unit]), int(paid.get(unit) or 0)) for unit in top
    ]


def _pass_rates(session: Session) -> list[tuple[str, str, int, int]]:
    names = member_queries.bank_names(session)
    return [
        (f"{run.period_start:%Y-%m}", names.get(code, code), tally["assessed"], tally["passed"])
        for run in session.scalars(select(AssessmentRun).order_by(AssessmentRun.period_start))
        for code, tally in sorted(run.by_bank.items())
    ]
