"""The evaluation of every open position over a period, set-based in SQL end to end.

One INSERT … SELECT gathers each position's facts (visits, head counts, activities, ratings,
amenities, complaints) in grouped subqueries, scores them with the formulas of `scoring.py`
rendered as SQL, and decides the card with the state machine of `rules.card_step`, also as
SQL; two more statements append the status history and move the positions. Nothing loops over
positions in Python, so 200,000 positions take seconds, and the same SQL runs on SQLite and
PostgreSQL. Each score row keeps its facts, so `rescore` reproduces it from the row and the
run's rule-set version alone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Integer,
    String,
    and_,
    case,
    cast,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.orm import Session

from gonghui.core import audit, snapshots
from gonghui.core.auth import Actor, Permission
from gonghui.core.clock import business_date
from gonghui.core.db import UTCDateTime
from gonghui.core.errors import Conflict, InvalidInput
from gonghui.core.logging import get_logger
from gonghui.core.metrics import EVALUATED_CARDS, EVALUATION_SECONDS
from gonghui.stations.models import (
    Activity,
    Complaint,
    EvaluationRun,
    HeadCount,
    Position,
    Rating,
    RuleSetVersion,
    Score,
    StatusChange,
    Visit,
)
from gonghui.stations.periods import Period, parse_period
from gonghui.stations.rules import Amenity, Card, ComplaintStatus, PositionStatus
from gonghui.stations.scoring import (
    FACT_NAMES,
    Aspect,
    Facts,
    RuleSet,
    aspect_columns,
    passed_column,
    score,
    total_column,
)
from gonghui.stations.service import DASHBOARD_BOARD

log = get_logger(__name__)
ACTIVE, YELLOW, RED = (PositionStatus.ACTIVE.value, PositionStatus.YELLOW.value, "red")
REASONS = {
    YELLOW: "考核未达标，亮黄牌，限期整改",
    RED: "整改期满考核仍未达标，亮红牌，取消阵地资格",
    ACTIVE: "整改后考核达标，撤销黄牌",
}


@dataclass(frozen=True)
class RunSummary:
    run_id: int
    period: str
    evaluated: int
    green: int
    yellow: int
    red: int


def _label(actor: Actor) -> str:
    return f"{actor.username}({actor.display_name})"


def current_rule_set(session: Session, *, actor: Actor, now: datetime) -> RuleSetVersion:
    """The latest version; the defaults become version 1 the first time one is needed."""
    latest = session.scalars(select(RuleSetVersion).order_by(RuleSetVersion.version.desc())).first()
    return latest or publish_rule_set(session, RuleSet(), "默认规则", actor=actor, now=now)


def publish_rule_set(
    session: Session, rules: RuleSet, note: str, *, actor: Actor, now: datetime
) -> RuleSetVersion:
    actor.require(Permission.STATIONS_MANAGE)
    if problems := rules.problems():
        raise InvalidInput("bad_rules", "；".join(problems))
    number = (session.scalar(select(func.max(RuleSetVersion.version))) or 0) + 1
    version = RuleSetVersion(
        version=number,
        values=rules.as_dict(),
        note=note.strip()[:200] or f"第{number}版",
        created_at=now,
        created_by=_label(actor),
    )
    session.add(version)
    session.flush()
    audit.record(
        session,
        actor=actor,
        at=now,
        action="station.rules_published",
        target_type="station_rules",
        target_id=version.id,
        after=rules.as_dict(),
    )
    return version


def _days_between(session: Session, early: Any, late: Any) -> ColumnElement[int]:
    # Date arithmetic is the one thing the two databases spell differently.
    if session.get_bind().dialect.name == "postgresql":
        return cast(late - early, Integer)
    return cast(func.julianday(late) - func.julianday(early), Integer)


def _grouped(statement: Any, name: str) -> Any:
    return statement.subquery(name)


def _fact_sources(period: Period) -> dict[str, Any]:
    first, after = period.instants
    scans = select(Visit.position_id, func.count().label("n")).where(
        Visit.visited_at >= first, Visit.visited_at < after
    )
    counted = select(HeadCount.position_id, func.sum(HeadCount.people).label("n")).where(
        HeadCount.on_date.between(period.start, period.end)
    )
    activities = select(Activity.position_id, func.count().label("n")).where(
        Activity.held_on.between(period.start, period.end)
    )
    ratings = select(
        Rating.position_id,
        func.count().label("n"),
        *(func.sum(getattr(Rating, a.value)).label(a.value) for a in Aspect),
    ).where(Rating.rated_at >= first, Rating.rated_at < after)
    closed = case((Complaint.status == ComplaintStatus.CLOSED, 1), else_=0)
    complaints = select(
        Complaint.position_id, func.count().label("n"), func.sum(closed).label("closed")
    ).where(Complaint.received_at >= first, Complaint.received_at < after)
    return {
        "scans": _grouped(scans.group_by(Visit.position_id), "scans"),
        "counted": _grouped(counted.group_by(HeadCount.position_id), "counted"),
        "activities": _grouped(activities.group_by(Activity.position_id), "activities"),
        "ratings": _grouped(ratings.group_by(Rating.position_id), "ratings"),
        "complaints": _grouped(complaints.group_by(Complaint.position_id), "complaints"),
    }


def _facts(session: Session, period: Period) -> Any:
    """One row per position evaluated: its status and deadline, and the `Facts` fields."""
    s = _fact_sources(period)
    amenities: ColumnElement[int] = literal(0)
    for bit in Amenity:
        amenities = amenities + case((Position.amenity_mask.op("&")(bit.value) != 0, 1), else_=0)
    since = case((Position.opened_on > period.start, Position.opened_on), else_=period.start)
    zero = literal(0)
    columns = {
        "open_days": _days_between(session, since, literal(period.end, Date)) + 1,
        "scans": func.coalesce(s["scans"].c.n, zero),
        "counted": func.coalesce(s["counted"].c.n, zero),
        "activities": func.coalesce(s["activities"].c.n, zero),
        "ratings": func.coalesce(s["ratings"].c.n, zero),
        **{f"rating_{a.value}": func.coalesce(s["ratings"].c[a.value], zero) for a in Aspect},
        "amenities": amenities,
        "complaints": func.coalesce(s["complaints"].c.n, zero),
        "complaints_closed": func.coalesce(s["complaints"].c.closed, zero),
    }
    statement = select(
        Position.id.label("position_id"),
        Position.status.label("status"),
        Position.card_deadline.label("card_deadline"),
        *(columns[name].label(name) for name in FACT_NAMES),
    ).where(Position.status.in_([ACTIVE, YELLOW]), Position.opened_on <= period.end)
    for name, source in s.items():
        statement = statement.outerjoin(source, source.c.position_id == Position.id)
        del name
    return statement.subquery("facts")


def _scored(session: Session, period: Period, rules: RuleSet) -> Any:
    facts = _facts(session, period)
    aspects = aspect_columns({name: facts.c[name] for name in FACT_NAMES}, rules)
    inner = select(
        *facts.c,
        *(column.label(f"score_{aspect.value}") for aspect, column in aspects.items()),
    ).subquery("aspects")
    named: dict[Aspect, Any] = {aspect: inner.c[f"score_{aspect.value}"] for aspect in Aspect}
    total = total_column(named, rules)
    return select(
        *inner.c, total.label("total"), passed_column(named, total, rules).label("passed")
    ).subquery("scored")


def _card_columns(scored: Any, period: Period, new_deadline: date) -> dict[str, Any]:
    """`rules.card_step` as SQL: the same four cases, in the same order."""
    status, passed, deadline = scored.c.status, scored.c.passed, scored.c.card_deadline
    in_rectification = and_(
        status == YELLOW, deadline.is_not(None), deadline > literal(period.end, Date)
    )
    after = case(
        (and_(status == ACTIVE, passed), ACTIVE),
        (status == ACTIVE, YELLOW),
        (in_rectification, YELLOW),
        (passed, ACTIVE),
        else_=RED,
    )
    card = case((after == ACTIVE, Card.GREEN.value), (after == YELLOW, YELLOW), else_=RED)
    new = case(
        (and_(status == ACTIVE, ~passed), literal(new_deadline, Date)),
        (in_rectification, deadline),
        else_=literal(None, Date),
    )
    return {"status_after": after, "card": card, "deadline": new}


SCORE_COLUMNS = (
    "position_id",
    *FACT_NAMES,
    *(f"score_{aspect.value}" for aspect in Aspect),
    "total",
    "passed",
    "status_before",
)


def check_evaluable(session: Session, period_text: str, *, actor: Actor, now: datetime) -> Period:
    """The refusals `evaluate` would give, without its work: what a page or the API checks
    before it queues the evaluation as a task, so that the refusal comes back at once."""
    actor.require(Permission.STATIONS_MANAGE)
    try:
        period = parse_period(period_text)
    except ValueError as error:
        raise InvalidInput("bad_period", str(error)) from None
    today = business_date(now)
    if period.end >= today:
        raise InvalidInput("period_open", f"{period.label} 尚未结束，期满后才能考核")
    taken = select(EvaluationRun.id).where(
        EvaluationRun.period_start == period.start, EvaluationRun.period_end == period.end
    )
    if session.scalars(taken).first() is not None:
        raise Conflict("already_evaluated", f"{period.label} 已考核；考核结果与红黄牌不重复生成")
    latest = session.scalar(select(func.max(EvaluationRun.period_end)))
    if latest is not None and period.end <= latest:
        # Cards follow one another in time: an older period judged now would undo newer ones.
        raise InvalidInput("period_behind", f"已考核至 {latest}，不能再考核更早的期间")
    return period


def evaluate(session: Session, period_text: str, *, actor: Actor, now: datetime) -> RunSummary:
    """Score every open position over a finished period and give the cards it earns."""
    period = check_evaluable(session, period_text, actor=actor, now=now)
    today = business_date(now)
    started = time.perf_counter()
    version = current_rule_set(session, actor=actor, now=now)
    rules = RuleSet.from_dict(version.values)
    run = EvaluationRun(
        period_label=period.label,
        period_start=period.start,
        period_end=period.end,
        rule_set_id=version.id,
        decided_on=today,
        evaluated=0,
        green=0,
        yellow=0,
        red=0,
        run_at=now,
        actor_label=_label(actor),
    )
    session.add(run)
    session.flush()
    _insert_scores(session, run, period, rules, today + timedelta(days=rules.rectification_days))
    _apply_cards(session, run, actor=actor, now=now)
    counts: dict[Card, int] = dict(
        session.execute(
            select(Score.card, func.count()).where(Score.run_id == run.id).group_by(Score.card)
        ).all()
    )
    run.green, run.yellow, run.red = (counts.get(card, 0) for card in Card)
    run.evaluated = run.green + run.yellow + run.red
    summary = RunSummary(run.id, period.label, run.evaluated, run.green, run.yellow, run.red)
    # Cards and the scoreboard change with the run: the dashboard shows it on its next view.
    snapshots.mark_stale(session, DASHBOARD_BOARD)
    audit.record(
        session,
        actor=actor,
        at=now,
        action="station.evaluated",
        target_type="station_run",
        target_id=run.id,
        after={"period": period.label, "rules": version.version, **_counts(summary)},
    )
    seconds = time.perf_counter() - started
    EVALUATION_SECONDS.labels("year" if "-" not in period.label else "month").observe(seconds)
    for card in Card:
        EVALUATED_CARDS.labels(card.value).inc(counts.get(card, 0))
    log.info(
        "stations.evaluated",
        run=run.id,
        period=period.label,
        rules=version.version,
        evaluated=summary.evaluated,
        green=summary.green,
        yellow=summary.yellow,
        red=summary.red,
        seconds=round(seconds, 3),
        actor=actor.username,
    )
    return summary


def _counts(summary: RunSummary) -> dict[str, int]:
    return {"evaluated": summary.evaluated, "green": summary.green}


def _insert_scores(
    session: Session, run: EvaluationRun, period: Period, rules: RuleSet, new_deadline: date
) -> None:
    scored = _scored(session, period, rules)
    cards = _card_columns(scored, period, new_deadline)
    source = select(
        literal(run.id).label("run_id"),
        *(scored.c[name] for name in SCORE_COLUMNS if name != "status_before"),
        scored.c.status.label("status_before"),
        *(column.label(name) for name, column in cards.items()),
    )
    names = ["run_id", *SCORE_COLUMNS, *cards]
    session.execute(insert(Score).from_select(names, source))


HISTORY_COLUMNS = [
    *("position_id", "from_status", "to_status", "deadline", "reason", "run_id", "at"),
    "actor_label",
]


def _apply_cards(session: Session, run: EvaluationRun, *, actor: Actor, now: datetime) -> None:
    changed = and_(Score.run_id == run.id, Score.status_before != Score.status_after)
    reason = case(
        *((Score.status_after == status, text) for status, text in REASONS.items()),
        else_="考核结果",
    )
    session.execute(
        insert(StatusChange).from_select(
            HISTORY_COLUMNS,
            select(
                Score.position_id,
                Score.status_before,
                Score.status_after,
                Score.deadline,
                cast(reason, String),
                Score.run_id,
                literal(now, UTCDateTime()),
                literal(_label(actor)),
            ).where(changed),
        )
    )
    mine = select(Score).where(Score.run_id == run.id, Score.position_id == Position.id)
    session.execute(
        update(Position)
        .where(Position.id.in_(select(Score.position_id).where(changed)))
        .values(
            status=mine.with_only_columns(Score.status_after).scalar_subquery(),
            card_deadline=mine.with_only_columns(Score.deadline).scalar_subquery(),
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    session.expire_all()


def facts_of(row: Score) -> Facts:
    return Facts(**{name: getattr(row, name) for name in FACT_NAMES})


def rescore(row: Score, version: RuleSetVersion) -> bool:
    """Whether the recorded score follows from its recorded facts and its rule-set version."""
    again = score(facts_of(row), RuleSet.from_dict(version.values))
    recorded = {aspect: getattr(row, f"score_{aspect.value}") for aspect in Aspect}
    return again.aspects == recorded and again.total == row.total and again.passed == row.passed
