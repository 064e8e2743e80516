"""The insurance set-up several tests share: a plan, and member A covered for February 2025."""

from __future__ import annotations

from datetime import date

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


def new_plan(db: Session, world: World, code: str = "YT2025", *, both_banks: bool = True) -> Plan:
    """The default terms, from 2024; unit A enrolled (unit B is not)."""
    banks = [world.bank_ytb, world.bank_qlb] if both_banks else [world.bank_ytb]
    plan = service.create_plan(
        db,
        code=code,
        name="烟台市职工补充住院医疗保险",
        insurer="测试保险公司",
        terms=Terms(),
        effective_from=date(2024, 1, 1),
        bank_ids=banks,
        actor=SETUP,
        now=NOW,
    )
    service.enroll_units(db, plan, [world.unit_a], date(2024, 1, 1), actor=SETUP, now=NOW)
    db.flush()
    return plan


def send_file(db: Session, store: BalanceStore, bank_id: int, lines: list[str]) -> None:
    """A bank's balance file of these `卡号,日期,日终余额` lines."""
    bank = db.get(Bank, bank_id)
    assert bank is not None
    import_balances(
        db,
        ("卡号,日期,日终余额\n" + "\n".join(lines) + "\n").encode(),
        bank=bank,
        filename="t.csv",
        source=Source.CLI,
        actor=SETUP,
        now=NOW,
        store=store,
    )


def close_january(db: Session, world: World, store: BalanceStore, a: str, b: str = "0") -> None:
    """Both banks' files reach 2025-01-31 (card A closing at `a` yuan, card B at `b`), so
    January may be assessed."""
    send_file(db, store, world.bank_ytb, [f"{world.card_a},2025-01-31,{a}"])
    send_file(db, store, world.bank_qlb, [f"{world.card_b},2025-01-31,{b}"])


def cover_member_a(
    db: Session, world: World, store: BalanceStore, plan: Plan, balance: str = "3000.00"
) -> None:
    """Member A kept `balance` yuan on card A through January 2025: covered in February."""
    send_file(db, store, world.bank_ytb, [f"{world.card_a},2024-12-31,{balance}"])
    close_january(db, world, store, balance)
    assess(db, plan, date(2025, 1, 1), actor=SETUP, now=NOW, store=store)
