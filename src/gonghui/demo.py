"""The whole demo federation, module by module, in one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from gonghui.core.pii import vault_for
from gonghui.core.settings import Settings
from gonghui.core.storage import ContentStore
from gonghui.insurance import demo as insurance_demo
from gonghui.insurance.store import store_for
from gonghui.members import demo as members_demo
from gonghui.stations import demo as stations_demo
from gonghui.wallet import demo as wallet_demo


@dataclass(frozen=True)
class DemoSummary:
    personas: list[members_demo.Persona]
    insurance: insurance_demo.InsuranceDemo
    positions: int = 0


def load_demo(
    session: Session,
    settings: Settings,
    *,
    now: datetime,
    members: int = members_demo.DEFAULT_MEMBERS,
    units: int = members_demo.DEFAULT_UNITS,
    seed: int = 2025,
    progress: members_demo.Progress | None = None,
) -> DemoSummary:
    personas = members_demo.load(
        session,
        vault=vault_for(settings),
        now=now,
        members=members,
        units=units,
        seed=seed,
        progress=progress,
    )
    insurance = insurance_demo.load(
        session,
        now=now,
        store=store_for(settings),
        documents=ContentStore(settings.storage_dir),
        seed=seed,
    )
    wallet_demo.load(session, settings, now=now)
    positions = stations_demo.load(session, now=now, seed=seed)
    return DemoSummary(personas, insurance, positions)
