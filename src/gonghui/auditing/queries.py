"""The audit administrator's search over the log: by person, action, target and time."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from gonghui.core.audit import AuditEntry
from gonghui.core.auth import Actor, Permission
from gonghui.core.clock import BUSINESS_TZ, beijing
from gonghui.core.inputs import InputError, parse_date
from gonghui.core.pagination import Page, paged

MAX_TEXT = 64
# An export is one file a person opens: bounded, and the search narrows it further.
MAX_EXPORT_ROWS = 50_000


@dataclass(frozen=True)
class AuditSearch:
    person: str = ""
    action: str = ""
    target: str = ""
    since: date | None = None
    until: date | None = None

    def query_string(self) -> dict[str, str]:
        return {
            "person": self.person,
            "action": self.action,
            "target": self.target,
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
        }


@dataclass
class SearchForm:
    """What the person typed, kept as typed, and the messages beside the fields."""

    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)


def parse_search(values: dict[str, str]) -> tuple[AuditSearch | None, SearchForm]:
    form = SearchForm({name: (values.get(name) or "").strip() for name in FIELDS})
    for name in ("person", "action", "target"):
        if len(form.values[name]) > MAX_TEXT:
            form.errors[name] = f"最多 {MAX_TEXT} 个字"
    days: dict[str, date | None] = {}
    for name, label in (("since", "开始日期"), ("until", "结束日期")):
        try:
            days[name] = parse_date(form.values[name], label) if form.values[name] else None
        except InputError as error:
            form.errors[name] = str(error)
    since, until = days.get("since"), days.get("until")
    if since and until and since > until:
        form.errors["until"] = "结束日期不能早于开始日期"
    if form.errors:
        return None, form
    return AuditSearch(
        form.values["person"], form.values["action"], form.values["target"], since, until
    ), form


FIELDS = ("person", "action", "target", "since", "until")


def _start_of(day: date) -> datetime:
    # A day people name is a Beijing day: 00:00 in Asia/Shanghai, not in UTC.
    return datetime.combine(day, time(0), tzinfo=BUSINESS_TZ)


def _statement(search: AuditSearch) -> Select[AuditEntry]:
    statement = select(AuditEntry)
    if search.person:
        pattern = f"%{_escaped(search.person)}%"
        statement = statement.where(AuditEntry.actor_label.ilike(pattern, escape="\\"))
    if search.action:
        statement = statement.where(
            AuditEntry.action.ilike(f"%{_escaped(search.action)}%", escape="\\")
        )
    if search.target:
        kind, _, ident = search.target.partition("#")
        if ident:
            statement = statement.where(
                AuditEntry.target_type == kind.strip(), AuditEntry.target_id == ident.strip()
            )
        else:
            statement = statement.where(
                or_(AuditEntry.target_type == kind, AuditEntry.target_id == kind)
            )
    if search.since:
        statement = statement.where(AuditEntry.at >= _start_of(search.since))
    if search.until:
        statement = statement.where(AuditEntry.at < _start_of(search.until + timedelta(days=1)))
    return statement.order_by(AuditEntry.at.desc(), AuditEntry.id.desc())


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_entries(
    session: Session, actor: Actor, search: AuditSearch, page: int = 1
) -> Page[AuditEntry]:
    actor.require(Permission.AUDIT_READ)
    return paged(session, _statement(search), page)


EXPORT_HEADERS = [
    "序号",
    "时间（北京时间）",
    "操作人",
    "操作",
    "对象类型",
    "对象",
    "变更前",
    "变更后",
]


def export_rows(session: Session, actor: Actor, search: AuditSearch) -> Iterator[list[object]]:
    actor.require(Permission.AUDIT_READ)
    statement = _statement(search).limit(MAX_EXPORT_ROWS)
    for entry in session.scalars(statement):
        yield [
            str(entry.id),
            beijing(entry.at, "%Y-%m-%d %H:%M:%S"),
            entry.actor_label,
            entry.action,
            entry.target_type,
            entry.target_id,
            _json(entry.before),
            _json(entry.after),
        ]


def _json(value: object) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)
