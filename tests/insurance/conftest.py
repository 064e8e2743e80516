from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from gonghui.core.auth import Actor, Role
from gonghui.insurance import service
from gonghui.insurance.models import Plan
from gonghui.insurance.rules import Terms
from gonghui.insurance.store import BalanceStore
from tests.conftest import NOW
from tests.world import SETUP, World

BANK_YTB = Actor(
    user_id=None, username="ytb", role=Role.BANK_OPERATOR, display_name="烟台银行", bank_id=1
)


@pytest.fixture
def store(tmp_path: Path) -> BalanceStore:
    return BalanceStore(tmp_path / "storage")


@pytest.fixture
def plan(db: Session, world: World) -> Plan:
    """Both banks, the default terms, and unit A enrolled (unit B is not)."""
    created = service.create_plan(
        db,
        code="YT2025",
        name="烟台市职工补充住院医疗保险",
        insurer="测试保险公司",
        terms=Terms(),
        effective_from=date(2024, 1, 1),
        bank_ids=[world.bank_ytb, world.bank_qlb],
        actor=SETUP,
        now=NOW,
    )
    service.enroll_units(db, created, [world.unit_a], date(2024, 1, 1), actor=SETUP, now=NOW)
    db.flush()
    return created
