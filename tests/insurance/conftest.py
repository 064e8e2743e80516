from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from gonghui.insurance.models import Plan
from gonghui.insurance.store import BalanceStore
from tests.insurance.scenario import cover_member_a, new_plan
from tests.world import World


@pytest.fixture
def plan(db: Session, world: World) -> Plan:
    """Both banks, the default terms, and unit A enrolled (unit B is not)."""
    return new_plan(db, world)


@pytest.fixture
def covered(db: Session, world: World, store: BalanceStore, plan: Plan) -> Plan:
    """Member A kept 3,000 yuan on card A through January 2025, so is covered in February."""
    cover_member_a(db, world, store, plan)
    return plan
