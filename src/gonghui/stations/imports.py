"""Positions from the published XLSX (or CSV) template: every row checked first, any bad line
rejects the whole file, each reported as 第N行."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from gonghui.core.auth import Actor, Permission
from gonghui.core.errors import ImportRejected, LineError
from gonghui.core.metrics import import_refused, imported
from gonghui.core.tabular import Column, Table, missing_columns, read_table, write_template
from gonghui.stations.records import MAX_STARS, REQUIRED, PositionRecord, read_position
from gonghui.stations.rules import AMENITY_LABELS, TYPE_LABELS
from gonghui.stations.service import save_position


@dataclass(frozen=True)
class ImportReport:
    rows: int
    created: int
    updated: int

    @property
    def summary(self) -> str:
        return f"共{self.rows}行：新建{self.created}个阵地，更新{self.updated}个"


_TYPES = "、".join(TYPE_LABELS.values())
_AMENITIES = "、".join(AMENITY_LABELS.values())
_YES_NO = ("是", "否")
COLUMNS = (
    Column("阵地编号", "本市唯一编号；再次导入同一编号即更新该阵地", "YT-0001", text=True),
    Column("阵地名称", "阵地全称", "芝罘区融合型职工服务阵地"),
    Column("阵地类型", f"可填多个，用顿号分隔：{_TYPES}", "职工之家、工会驿站、职工书屋"),
    Column("地址", "详细地址，供职工导航", "烟台市芝罘区南大街100号"),
    Column("区县", "所在区县（市）", "芝罘区"),
    Column("纬度", "十进制度数，如 37.5393（可在地图上取点）", "37.5393"),
    Column("经度", "十进制度数，如 121.3987", "121.3987"),
    Column("开放时间", "如 08:00-20:00；24小时开放的也请填写", "08:00-20:00"),
    Column("24小时开放", "是 或 否", "否", choices=_YES_NO),
    Column("运营单位", "负责运营的工会或单位", "芝罘区总工会"),
    Column("负责人", "阵地负责人姓名", "王芳"),
    Column("负责人电话", "11位手机号码", "13800000000", text=True),
    Column("设施", f"可填多个，用顿号分隔：{_AMENITIES}", "冷热饮水、微波炉、桌椅、手机充电",
           required=False),
    Column("面积（平方米）", "整数", "120", required=False),
    Column("座位数", "整数", "24", required=False),
    Column("星级", f"0至{MAX_STARS}的整数", "4", required=False),
    Column("最美驿站", "是 或 否", "是", required=False, choices=_YES_NO),
    Column("智能化/全周期", "是 或 否", "否", required=False, choices=_YES_NO),
    Column("建成日期", "格式 2023-05-01", "2023-05-01"),
)  # fmt: skip


def template() -> bytes:
    """The published positions template: the sheet to fill, its notes with an example row."""
    return write_template("阵地", COLUMNS)


def import_positions(
    session: Session, content: bytes, *, actor: Actor, now: datetime
) -> ImportReport:
    actor.require(Permission.STATIONS_MANAGE)
    try:
        records = _checked(read_table(content))
    except ImportRejected as refused:
        import_refused("stations", refused.total, actor=actor.username)
        raise
    created = 0
    for record in records:
        _position, new = save_position(session, record, actor=actor, now=now)
        created += new
    imported("stations", len(records), created=created, actor=actor.username)
    return ImportReport(len(records), created, len(records) - created)


def _checked(table: Table) -> list[PositionRecord]:
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
    return records
