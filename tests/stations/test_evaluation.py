"""The evaluation run on the database: facts gathered, scored and carded in SQL, the same
answers as the pure rules, history appended, reproducible, not repeated."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from sqlalchemy import literal, select
from sqlalchemy.orm import Session

from gonghui.core.errors import Conflict, InvalidInput
from gonghui.stations import evaluation
from gonghui.stations.models import Position, RuleSetVersion, Score, StatusChange, Visit
from gonghui.stations.operations import record_activity
from gonghui.stations.rules import Card, PositionStatus, VisitorKind
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
from tests.conftest import NOW
from tests.stations.helpers import STAFF, position
from tests.stations.test_rules import facts_strategy

MID_JANUARY = datetime(2025, 1, 15, 4, 0, tzinfo=UTC)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(facts=facts_strategy())
def test_the_sql_scoring_gives_the_same_answers_as_the_python_rules(
    db: Session, facts: Facts
) -> None:
    rules = RuleSet(rating_share_pct=35, usage_target_per_day=4)
    columns = {name: literal(getattr(facts, name)) for name in FACT_NAMES}
    aspects = aspect_columns(columns, rules)
    total = total_column(aspects, rules)
    row = db.execute(select(*aspects.values(), total, passed_column(aspects, total, rules))).one()
    expected = score(facts, rules)
    assert list(row[:5]) == [expected.aspects[a] for a in Aspect]
    assert row[5] == expected.total
    assert bool(row[6]) is expected.passed


def _visits(db: Session, position_id: int, count: int) -> None:
    db.add_all(
        Visit(
            position_id=position_id,
            kind=VisitorKind.VISITOR,
            member_id=None,
            person_key=f"p{i}",
            phone_masked=None,
            occupation="快递员",
            visited_at=MID_JANUARY + timedelta(minutes=i),
            token_issued_at=MID_JANUARY,
        )
        for i in range(count)
    )


def _yellow(db: Session, code: str, deadline: date) -> Position:
    found = position(db, code)
    found.status, found.card_deadline = PositionStatus.YELLOW, deadline
    return found


def test_a_run_scores_every_open_position_and_gives_the_cards_it_earns(db: Session) -> None:
    busy = position(db, "BUSY", amenity_mask=2047)
    idle = position(db, "IDLE")
    failed_again = _yellow(db, "AGAIN", date(2025, 1, 20))
    rectifying = _yellow(db, "RECT", date(2025, 3, 1))
    closed = position(db, "SHUT")
    closed.status = PositionStatus.CLOSED
    _visits(db, busy.id, 186)  # six a day over January's 31 days: full marks for usage
    for day in (5, 12, 19):
        record_activity(
            db,
            busy,
            held_on=date(2025, 1, day),
            kind="读书分享",
            title="读书会",
            attendance=20,
            actor=STAFF,
            now=NOW,
        )
    db.flush()
    summary = evaluation.evaluate(db, "2025-01", actor=STAFF, now=NOW)
    assert (summary.evaluated, summary.green, summary.yellow, summary.red) == (4, 1, 2, 1)
    scores = {row.position_id: row for row in db.scalars(select(Score))}
    assert closed.id not in scores
    # Worked out by hand: 84 on four aspects and the neutral 60 for the unrated environment.
    assert scores[busy.id].total == 80
    assert scores[busy.id].card is Card.GREEN
    assert scores[idle.id].total == 38
    assert scores[idle.id].card is Card.YELLOW
    assert scores[idle.id].deadline == date(2025, 3, 12)  # decided 2025-02-10, 30 days
    assert scores[failed_again.id].card is Card.RED
    assert scores[rectifying.id].card is Card.YELLOW
    assert scores[rectifying.id].deadline == date(2025, 3, 1)
    statuses = {row[0]: row[1] for row in db.execute(select(Position.id, Position.status))}
    assert statuses[idle.id] is PositionStatus.YELLOW
    assert statuses[failed_again.id] is PositionStatus.RED
    assert statuses[rectifying.id] is PositionStatus.YELLOW
    moved = db.scalars(select(StatusChange).where(StatusChange.run_id == summary.run_id)).all()
    assert sorted((m.position_id, m.to_status) for m in moved) == sorted(
        [(idle.id, PositionStatus.YELLOW), (failed_again.id, PositionStatus.RED)]
    )
    version = db.scalars(select(RuleSetVersion)).one()
    assert all(evaluation.rescore(row, version) for row in scores.values())


def test_a_period_is_evaluated_once_and_only_once_it_has_ended(db: Session) -> None:
    position(db, "ONCE")
    evaluation.evaluate(db, "2025-01", actor=STAFF, now=NOW)
    with pytest.raises(Conflict, match="已考核"):
        evaluation.evaluate(db, "2025-01", actor=STAFF, now=NOW)
    with pytest.raises(InvalidInput, match="不能再考核更早的期间"):
        evaluation.evaluate(db, "2024-12", actor=STAFF, now=NOW)
    with pytest.raises(InvalidInput, match="尚未结束"):
        evaluation.evaluate(db, "2025-02", actor=STAFF, now=NOW)
    with pytest.raises(InvalidInput, match="格式不正确"):
        evaluation.evaluate(db, "一月", actor=STAFF, now=NOW)


def test_a_score_row_cannot_be_changed_after_the_run(db: Session) -> None:
    position(db, "FIXED")
    evaluation.evaluate(db, "2025-01", actor=STAFF, now=NOW)
    row = db.scalars(select(Score)).one()
    row.total = 99
    with pytest.raises(Exception, match="append-only"):
        db.flush()
