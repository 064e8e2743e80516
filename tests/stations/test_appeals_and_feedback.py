"""Appeals against a card; complaints with their call-back."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gonghui.core.errors import Conflict, InvalidInput
from gonghui.stations import appeals, evaluation
from gonghui.stations.feedback import file_complaint, handle_complaint
from gonghui.stations.models import Score, StatusChange
from gonghui.stations.rules import ComplaintStatus, PositionStatus
from tests.conftest import NOW
from tests.stations.helpers import STAFF, position


def test_a_granted_appeal_withdraws_the_yellow_card_with_a_history_row(db: Session) -> None:
    found = position(db, "APPEAL")
    evaluation.evaluate(db, "2025-01", actor=STAFF, now=NOW)
    row = db.scalars(select(Score)).one()
    assert found.status is PositionStatus.YELLOW
    appeal = appeals.file_appeal(db, row, "一月闭馆装修，未开放", actor=STAFF, now=NOW)
    with pytest.raises(Conflict):
        appeals.file_appeal(db, row, "再次申诉", actor=STAFF, now=NOW)
    appeals.decide_appeal(db, appeal, grant=True, note="核实装修停业", actor=STAFF, now=NOW)
    db.flush()
    assert found.status is PositionStatus.ACTIVE
    assert found.card_deadline is None
    last = db.scalars(select(StatusChange).order_by(StatusChange.id.desc())).first()
    assert last is not None
    assert last.reason.startswith("申诉成立，撤销黄牌")
    with pytest.raises(InvalidInput, match="已处理"):
        appeals.decide_appeal(db, appeal, grant=False, note="x", actor=STAFF, now=NOW)


def test_an_appeal_is_refused_after_fifteen_days(db: Session) -> None:
    position(db, "LATE")
    evaluation.evaluate(db, "2025-01", actor=STAFF, now=NOW)
    row = db.scalars(select(Score)).one()
    with pytest.raises(InvalidInput, match="15日内"):
        appeals.file_appeal(db, row, "理由", actor=STAFF, now=NOW + timedelta(days=16))
    assert row.deadline == date(2025, 3, 12)


def test_a_real_name_complaint_is_called_back_then_closed(db: Session) -> None:
    found = position(db, "CALL")
    complaint = file_complaint(
        db, found, "饮水机坏了一周", now=NOW, contact_name="张三", contact_phone="13912345678"
    )
    assert complaint.real_name
    with pytest.raises(InvalidInput, match="须先回访"):
        handle_complaint(db, complaint, ComplaintStatus.CLOSED, "已修", actor=STAFF, now=NOW)
    handle_complaint(db, complaint, ComplaintStatus.CALLED_BACK, "电话回访", actor=STAFF, now=NOW)
    handle_complaint(db, complaint, ComplaintStatus.CLOSED, "已更换饮水机", actor=STAFF, now=NOW)
    assert complaint.status is ComplaintStatus.CLOSED
    with pytest.raises(InvalidInput, match="手机号"):
        file_complaint(db, found, "内容", now=NOW, contact_name="李四", contact_phone="123")
