"""Pooling regions: lookups, opening the wallet in a region, and the roll-out by province."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import NamedTuple

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gonghui.core import audit
from gonghui.core.auth import Actor, Permission
from gonghui.core.errors import Conflict, NotFound
from gonghui.wallet.models import Region, RegionEvent
from gonghui.wallet.regions_data import MUNICIPALITIES, OUTSIDE_SYSTEM, PROVINCES
from gonghui.wallet.rules import ProvinceRollout, rollout


def is_open(region: Region, day: date) -> bool:
    return opened_by(region.wallet_opened_on, day)


def opened_by(wallet_opened_on: date | None, day: date) -> bool:
    """Whether a region whose wallet opened on that date (None: not yet) is open on `day`."""
    return wallet_opened_on is not None and wallet_opened_on <= day


def region_by_code(session: Session, code: str) -> Region:
    region = session.scalars(select(Region).where(Region.code == code.strip())).one_or_none()
    if region is None:
        raise NotFound(f"统筹区 {code}")
    return region


def all_regions(session: Session) -> list[Region]:
    return list(session.scalars(select(Region).order_by(Region.code)))


def open_regions(session: Session, day: date) -> list[Region]:
    return [region for region in all_regions(session) if is_open(region, day)]


class RegionChoice(NamedTuple):
    id: int
    code: str
    name: str
    province_code: str


def open_region_choices(session: Session, day: date) -> list[RegionChoice]:
    """The regions open on `day`, as a form's choices: filtered in SQL and read as plain rows,
    since the wallet page offers them on every view (loading all 209 regions as objects to keep
    117 took a third of the page's time)."""
    rows = session.execute(
        select(Region.id, Region.code, Region.name, Region.province_code)
        .where(Region.wallet_opened_on.is_not(None), Region.wallet_opened_on <= day)
        .order_by(Region.code)
    )
    return [RegionChoice._make(row) for row in rows]


def open_region(
    session: Session, code: str, opened_on: date, *, actor: Actor, now: datetime
) -> Region:
    """The agency opens the wallet in a region from a date: a new version of its row."""
    actor.require(Permission.WALLET_OPERATE)
    region = region_by_code(session, code)
    if region.province_code in OUTSIDE_SYSTEM:
        raise Conflict("region_outside_system", f"{region.name}不在内地医保体系内")
    if region.wallet_opened_on is not None:
        raise Conflict("region_already_open", f"{region.name}已于{region.wallet_opened_on}开通")
    version = region.version + 1
    # Optimistic: the row changes only if nobody changed it since it was read.
    changed = session.execute(
        update(Region)
        .where(Region.id == region.id, Region.version == version - 1)
        .values(wallet_opened_on=opened_on, version=version, updated_at=now)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("region_changed", "该统筹区刚被他人修改，请刷新后重试")
    session.add(
        RegionEvent(
            region_id=region.id,
            version=version,
            wallet_opened_on=opened_on,
            at=now,
            actor_label=actor.username,
        )
    )
    audit.record(
        session,
        actor=actor,
        at=now,
        action="wallet.region_opened",
        target_type="wallet_region",
        target_id=region.code,
        after={"wallet_opened_on": opened_on.isoformat()},
    )
    session.refresh(region)
    return region


@dataclass(frozen=True)
class ProvinceLine:
    code: str
    name: str
    rollout: ProvinceRollout


def rollout_by_province(session: Session, day: date) -> list[ProvinceLine]:
    rows = [(r.code, r.province_code, is_open(r, day)) for r in all_regions(session)]
    return [
        ProvinceLine(line.province_code, PROVINCES.get(line.province_code, ""), line)
        for line in rollout(rows, single_pool=MUNICIPALITIES)
    ]
