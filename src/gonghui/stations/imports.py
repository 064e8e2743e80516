"""Positions from the published XLSX (or CSV) template: every row checked first, any bad line
rejects the whole file, each reported as 第N行."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from gonghui.core.auth import Actor, Permission
from gonghui.core.errors import ImportRejected, LineError
from gonghui.core.tabular import missing_columns, read_table, write_xlsx
from gonghui.stations.records import HEADERS, REQUIRED, PositionRecord, read_position
from gonghui.stations.service import save_position


@dataclass(frozen=True)
class ImportReport:
    rows: int
    created: int
    updated: int

    @property
    def summary(self) -> str:
        return f"共{self.rows}行：新建{self.created}个阵地，更新{self.updated}个"


def template() -> bytes:
    example = (
        "YT-0001",
        "芝罘区融合型职工服务阵地",
        "职工之家、工会驿站、职工书屋",
        "烟台市芝罘区南大街100号",
        "芝罘区",
        "37.5393",
        "121.3987",
        "08:00-20:00",
        "否",
        "芝罘区总工会",
        "王芳",
        "13800000000",
        "冷热饮水、微波炉、桌椅、手机充电、无线网络、图书",
        "120",
        "24",
        "4",
        "是",
        "否",
        "2023-05-01",
    )
    return write_xlsx("阵地", HEADERS, [example], text_columns=("负责人电话", "阵地编号"))


def import_positions(
    session: Session, content: bytes, *, actor: Actor, now: datetime
) -> ImportReport:
    actor.require(Permission.STATIONS_MANAGE)
    table = read_table(content)
    if problems := missing_columns(table, REQUIRED):
        raise ImportRejected(problems)
    errors: list[LineError] = []
    records: list[PositionRecord] = []
    seen: dict[str, int] = {}
    for row in table.rows:
        try:
            record = read_position(row.values)
        except ValueError as error:
            errors.append(LineError(row.line, str(error)))
            continue
        if record.code in seen:
            errors.append(
                LineError(row.line, f"阵地编号 {record.code} 与第{seen[record.code]}行重复")
            )
            continue
        seen[record.code] = row.line
        records.append(record)
    if not table.rows:
        errors.append(LineError(0, "文件中没有阵地"))
    if errors:
        raise ImportRejected(errors)
    created = 0
    for record in records:
        _position, new = save_position(session, record, actor=actor, now=now)
        created += new
    return ImportReport(len(records), created, len(records) - created)
