"""The federation's figures: the four the seed reports, with their trends.

- 参保单位 (participating units): units with at least one member ever covered;
- 累计赠送保险人次 (person-times insured): one per member per plan (calendar) year covered;
- 办结理赔案件 (claims concluded): claims paid or rejected — concluded either way;
- 赔付金额 (yuan paid): the sum of paid claims.

The dashboard shows them from a snapshot (`core.snapshots`): one scope, the federation's, since
every role that may see the dashboard sees all of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, distinct, extract, func, select
from sqlalchemy.orm import Session, sessionmaker

from gonghui.core.auth import Actor, Permission
from gonghui.core.errors import NotFound
from gonghui.core.money import Fen
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
    months: list[str]
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
    del now  # the figures count everything recorded so far
    if scope != EVERYTHING:
        raise NotFound("范围")
    return Dashboard(_headline(session), _trends(session))


BOARD = Board(BOARD_NAME, Dashboard, _dashboard)


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


def _by_month(session: Session, statement: Select[Any, Any, Any]) -> dict[str, int]:
    return {
        f"{int(year):04d}-{int(month):02d}": int(value or 0)
        for year, month, value in session.execute(statement)
    }


def trends(session: Session, actor: Actor) -> Trends:
    actor.require(Permission.INSURANCE_DASHBOARD)
    return _trends(session)


def _trends(session: Session) -> Trends:
    covered = _by_month(
        session,
        select(
            extract("year", Coverage.starts_on), extract("month", Coverage.starts_on), func.count()
        ).group_by(extract("year", Coverage.starts_on), extract("month", Coverage.starts_on)),
    )
    paid_at_month = (extract("year", Claim.paid_at), extract("month", Claim.paid_at))
    paid = _by_month(
        session,
        select(*paid_at_month, func.sum(Claim.approved_fen))
        .where(Claim.status == ClaimStatus.PAID)
        .group_by(*paid_at_month),
    )
    counted = _by_month(
        session,
        select(*paid_at_month, func.count())
        .where(Claim.status == ClaimStatus.PAID)
        .group_by(*paid_at_month),
    )
    months = sorted(set(covered) | set(paid))
    return Trends(
        months=months,
        covered_by_month=[covered.get(month, 0) for month in months],
        paid_by_month=[paid.get(month, 0) for month in months],
        claims_by_month=[counted.get(month, 0) for month in months],
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
