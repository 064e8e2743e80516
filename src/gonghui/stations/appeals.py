"""Appeals against a card, and their decision."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from gonghui.core import audit
from gonghui.core.auth import Actor, Permission
from gonghui.core.clock import business_date
from gonghui.core.errors import Conflict, InvalidInput, NotFound
from gonghui.stations import queries, service
from gonghui.stations.models import Appeal, EvaluationRun, RuleSetVersion, Score
from gonghui.stations.rules import APPEAL_DAYS, AppealStatus, Card, PositionStatus
from gonghui.stations.scoring import RuleSet


def file_appeal(
    session: Session, row: Score, reason: str, *, actor: Actor, now: datetime
) -> Appeal:
    """Within APPEAL_DAYS of the run, against a card the run gave, while it still stands."""
    service.require_operator(actor)
    position = queries.position_for(session, actor, row.position_id)
    run = session.get(EvaluationRun, row.run_id)
    if run is None:
        raise NotFound("考核")
    if row.card is Card.GREEN or row.status_before == row.status_after:
        raise InvalidInput("nothing_to_appeal", "该考核结果未新亮红黄牌，无需申诉")
    if business_date(now) > run.decided_on + timedelta(days=APPEAL_DAYS):
        raise InvalidInput("appeal_late", f"申诉须在考核后{APPEAL_DAYS}日内提出")
    if position.status is not row.status_after:
        raise InvalidInput("card_changed", "阵地状态已变更，不能再就此次考核申诉")
    if not reason.strip():
        raise InvalidInput("reason_required", "请填写申诉理由")
    if session.scalars(select(Appeal.id).where(Appeal.score_id == row.id)).first():
        raise Conflict("appeal_exists", "已就此次考核提出过申诉")
    appeal = Appeal(
        score_id=row.id,
        position_id=row.position_id,
        reason=reason.strip()[:1000],
        status=AppealStatus.PENDING,
        filed_at=now,
        filed_by=f"{actor.username}({actor.display_name})",
    )
    session.add(appeal)
    session.flush()
    audit.record(
        session,
        actor=actor,
        at=now,
        action="station.appeal_filed",
        target_type="station_appeal",
        target_id=appeal.id,
        after={"score": row.id},
    )
    return appeal


def decide_appeal(
    session: Session, appeal: Appeal, *, grant: bool, note: str, actor: Actor, now: datetime
) -> None:
    """Granted, the card is withdrawn: back to where the run found the position (a red card
    withdrawn leaves a yellow one with a fresh rectification period)."""
    actor.require(Permission.STATIONS_MANAGE)
    if appeal.status is not AppealStatus.PENDING:
        raise InvalidInput("appeal_decided", "该申诉已处理")
    if not note.strip():
        raise InvalidInput("note_required", "请填写处理意见")
    appeal.status = AppealStatus.GRANTED if grant else AppealStatus.DISMISSED
    appeal.decided_at, appeal.decided_by = now, f"{actor.username}({actor.display_name})"
    appeal.decision_note = note.strip()[:500]
    if grant:
        row = session.get(Score, appeal.score_id)
        run = session.get(EvaluationRun, row.run_id) if row else None
        version = session.get(RuleSetVersion, run.rule_set_id) if run else None
        if row is None or version is None:
            raise NotFound("考核结果")
        position = queries.position_for(session, actor, row.position_id)
        back = row.status_before
        deadline = None
        if back is PositionStatus.YELLOW:
            days = RuleSet.from_dict(version.values).rectification_days
            deadline = business_date(now) + timedelta(days=days)
        service.change_status(
            session,
            position,
            back,
            f"申诉成立，撤销{row.card.label}：{appeal.decision_note}",
            actor=actor,
            now=now,
            deadline=deadline,
            check=False,
        )
    audit.record(
        session,
        actor=actor,
        at=now,
        action="station.appeal_decided",
        target_type="station_appeal",
        target_id=appeal.id,
        after={"status": appeal.status.value},
    )
