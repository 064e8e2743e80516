"""Scoped reads for the retirement pages: the impact report over the members an actor may see.

The impact page shows the report from a snapshot (`core.snapshots`), one per scope viewed: the
viewer's reach (the federation, or one unit's officer) with the unit and industry it was
narrowed to. The viewer's rights are checked on every view before the snapshot is looked up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Final

from sqlalchemy.orm import Session, sessionmaker

from gonghui.core.auth import Actor, Permission, Role
from gonghui.core.clock import business_date
from gonghui.core.errors import NotFound
from gonghui.core.snapshots import EVERYTHING, Board, Snapshot
from gonghui.members import queries as members
from gonghui.retirement.impact import ImpactReport
from gonghui.retirement.impact_sql import impact_report_sql


@dataclass(frozen=True)
class ScopedImpact:
    """The report and what it was narrowed to, for headings and file names."""

    report: ImpactReport
    unit_code: str = ""
    unit_name: str = ""
    industry: str = ""

    @property
    def scope(self) -> str:
        parts = [part for part in (self.unit_name, self.industry) if part]
        return "、".join(parts) or "全部可见单位"


def impact_for(
    session: Session, actor: Actor, today: date, *, unit_code: str = "", industry: str = ""
) -> ScopedImpact:
    """The impact report over the actor's members (a unit officer: their own unit), optionally
    one unit (by credit code) or one industry."""
    actor.require(Permission.MEMBERS_VIEW)
    unit_id, unit_name, code = None, "", ""
    if unit_code.strip():
        unit = members.unit_by_credit_code(session, actor, unit_code)
        unit_id, unit_name, code = unit.id, unit.name, unit.credit_code
    wanted = industry.strip()
    columns = members.member_profile_columns(session, actor, unit_id, wanted)
    report = impact_report_sql(columns.members, today, units=columns.units)
    return ScopedImpact(report, code, unit_name, wanted)


BOARD_NAME: Final = "retirement_impact"
_UNIT: Final = "unit:"


def _reach(actor: Actor) -> str | None:
    """Whose members the actor sees, as a key; None for a reach no snapshot is kept for."""
    if actor.is_federation_wide:
        return EVERYTHING
    if actor.unit_id is not None and actor.can(Permission.MEMBERS_VIEW):
        return f"{_UNIT}{actor.unit_id}"
    return None


def _viewer(reach: str) -> Actor:
    """Someone who sees exactly the members of a reach, for the job that recomputes it: the
    report then goes through the same scoped query as a view by that person."""
    if reach == EVERYTHING:
        return Actor(None, "snapshot", Role.FEDERATION_STAFF, "看板快照")
    if reach.startswith(_UNIT) and reach.removeprefix(_UNIT).isdigit():
        unit_id = int(reach.removeprefix(_UNIT))
        return Actor(None, "snapshot", Role.UNIT_OFFICER, "看板快照", unit_id=unit_id)
    raise NotFound("范围")


def _compute(session: Session, key: str, now: datetime) -> ScopedImpact:
    reach, unit_code, industry = key.split("|", 2) if "|" in key else (key, "", "")
    viewer = _viewer(reach)
    return impact_for(session, viewer, business_date(now), unit_code=unit_code, industry=industry)


BOARD = Board(BOARD_NAME, ScopedImpact, _compute)


def _key(session: Session, actor: Actor, unit_code: str, industry: str) -> str | None:
    """The snapshot's key, after checking the actor may see the unit asked for (NotFound
    otherwise). None when the view is not worth keeping: an industry no unit has (free text
    from the address, which would otherwise leave a snapshot for every spelling)."""
    actor.require(Permission.MEMBERS_VIEW)
    reach = _reach(actor)
    code = (
        members.unit_by_credit_code(session, actor, unit_code).credit_code
        if unit_code.strip()
        else ""
    )
    wanted = industry.strip()
    if reach is None or (wanted and not members.industry_exists(session, wanted)):
        return None
    if reach == EVERYTHING and not code and not wanted:
        return EVERYTHING
    return f"{reach}|{code}|{wanted}"


def impact_snapshot(
    session: Session,
    factory: sessionmaker[Session],
    actor: Actor,
    now: datetime,
    *,
    unit_code: str = "",
    industry: str = "",
) -> Snapshot[ScopedImpact]:
    """The impact report over the actor's members as the last job (or first view) made it."""
    key = _key(session, actor, unit_code, industry)
    if key is None:
        report = impact_for(
            session, actor, business_date(now), unit_code=unit_code, industry=industry
        )
        return Snapshot(report, now)
    return BOARD.view(session, factory, key, now)


def refresh_impact(
    session: Session, actor: Actor, now: datetime, *, unit_code: str = "", industry: str = ""
) -> None:
    """立即更新: the report over the actor's members made again now."""
    key = _key(session, actor, unit_code, industry)
    if key is not None:
        BOARD.refresh_in(session, key, now)
