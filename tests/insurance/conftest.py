from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.orm import Session

from gonghui.insurance import service
from gonghui.insurance.assessment import assess
from gonghui.insurance.balances import Source, import_balances
from gonghui.insurance.models import Plan
from gonghui.insurance.rules import Terms
from gonghui.insurance.store import BalanceStore
from gonghui.members.models import Bank
from tests.conftest import NOW
from tests.world import SETUP, World


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


@pytest.fixture
def covered(db: Session, world: World, store: BalanceStore, plan: Plan) -> Plan:
    """Member A kept 3,000 yuan on card A through January 2025, so is covered in February."""
    bank = db.get(Bank, world.bank_ytb)
    assert bank is not None
    import_balances(
        db,
        f"卡号,日期,日终余额\n{world.card_a},2024-12-31,3000.00\n".encode(),
        bank=bank,
        filename="jan.csv",
        source=Source.CLI,
        actor=SETUP,
        now=NOW,
        store=store,
    )
    assess(db, plan, date(2025, 1, 1), actor=SETUP, now=NOW, store=store)
    return plan
