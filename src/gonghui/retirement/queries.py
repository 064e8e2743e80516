"""Scoped reads for the retirement pages: the impact report over the members an actor may see."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from gonghui.core.auth import Actor, Permission
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
