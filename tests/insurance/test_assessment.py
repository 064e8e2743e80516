"""The assessment: averages from the stored files, eligibility, coverage, idempotent re-runs."""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gonghui.insurance.assessment import assess, fen_days_sql
from gonghui.insurance.balances import Source, import_balances
from gonghui.insurance.models import AssessmentRun, Coverage, Plan
from gonghui.insurance.queries import card_standing
from gonghui.insurance.rules import BalancePoint, Period, fen_days
from gonghui.insurance.store import BalanceStore
from gonghui.members.models import Bank, Member
from gonghui.members.rules import EmploymentStatus
from tests.conftest import NOW
from tests.world import SETUP, World

JANUARY = Period(date(2025, 1, 1), date(2025, 1, 31))


def load(db: Session, world: World, store: BalanceStore, bank_id: int, lines: list[str]) -> None:
    bank = db.get(Bank, bank_id)
    assert bank is not None
    content = ("卡号,日期,日终余额\n" + "\n".join(lines) + "\n").encode()
    import_balances(
        db,
        content,
        bank=bank,
        filename="t.csv",
        source=Source.CLI,
        actor=SETUP,
        now=NOW,
        store=store,
    )


def test_a_qualifying_member_is_covered_for_the_next_month_and_others_are_not(
    db: Session, world: World, store: BalanceStore, plan: Plan
) -> None:
    load(db, world, store, world.bank_ytb, [f"{world.card_a},2024-12-28,2500.00"])
    load(db, world, store, world.bank_qlb, [f"{world.card_b},2025-01-01,9000.00"])
    summary = assess(db, plan, date(2025, 1, 1), actor=SETUP, now=NOW, store=store)
    assert (summary.period, summary.cards_assessed, summary.eligible, summary.ineligible) == (
        "2025-01",
        2,
        1,
        1,
    )
    coverage = db.scalars(select(Coverage)).all()
    assert [(c.member_id, c.starts_on, c.ends_on, c.average_fen) for c in coverage] == [
        (world.member_a, date(2025, 2, 1), date(2025, 2, 28), 250_000)
    ]
    run = db.scalars(select(AssessmentRun)).one()
    assert run.by_bank == {"YTB": {"assessed": 1, "passed": 1}, "QLB": {"assessed": 1, "passed": 0}}


def test_running_the_same_assessment_again_duplicates_nothing(
    db: Session, world: World, store: BalanceStore, plan: Plan
) -> None:
    load(db, world, store, world.bank_ytb, [f"{world.card_a},2025-01-01,3000.00"])
    first = assess(db, plan, date(2025, 1, 1), actor=SETUP, now=NOW, store=store)
    second = assess(db, plan, date(2025, 1, 15), actor=SETUP, now=NOW, store=store)
    assert first == second
    assert db.scalar(select(func.count()).select_from(Coverage)) == 1
    assert db.scalars(select(AssessmentRun.runs)).one() == 2


def test_a_retired_member_with_money_on_the_card_is_not_covered(
    db: Session, world: World, store: BalanceStore, plan: Plan
) -> None:
    member = db.get(Member, world.member_a)
    assert member is not None
    member.employment_status = EmploymentStatus.RETIRED
    db.flush()
    load(db, world, store, world.bank_ytb, [f"{world.card_a},2025-01-01,3000.00"])
    assert assess(db, plan, date(2025, 1, 1), actor=SETUP, now=NOW, store=store).eligible == 0
    standing = card_standing(db, plan, world.card_a, date(2025, 1, 1), store=store)
    assert (
        standing.explanation
        == "您2025年1月日均余额为¥3,000.00，已达到¥2,000.00；另：非在职会员（退休、返聘或内退）"
    )


def test_a_member_reads_why_they_fell_short(
    db: Session, world: World, store: BalanceStore, plan: Plan
) -> None:
    # 20 days at 2,000 and 11 days at 1,500: (40,000 + 16,500) / 31 = 1,822.58 yuan.
    load(
        db,
        world,
        store,
        world.bank_ytb,
        [f"{world.card_a},2025-01-01,2000.00", f"{world.card_a},2025-01-21,1500.00"],
    )
    standing = card_standing(db, plan, world.card_a, date(2025, 1, 1), store=store)
    assert not standing.decision.eligible
    assert standing.explanation == "您2025年1月日均余额为¥1,822.58，未达到¥2,000.00"


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["A", "B"]),
            st.dates(date(2024, 11, 1), date(2025, 2, 28)),
            st.integers(0, 10**9),
        ),
        max_size=30,
        unique_by=lambda point: (point[0], point[1]),
    )
)
def test_duckdb_sums_agree_with_the_day_by_day_definition(raw: list[tuple[str, date, int]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        part = Path(folder) / "p.parquet"
        with duckdb.connect() as connection:
            connection.execute("CREATE TABLE t (card_no VARCHAR, on_date DATE, balance_fen BIGINT)")
            if raw:
                connection.executemany("INSERT INTO t VALUES (?, ?, ?)", raw)
            connection.execute(f"COPY t TO '{part}' (FORMAT parquet)")
            rows = connection.execute(
                fen_days_sql([part]), {"start": JANUARY.start, "end": JANUARY.end}
            ).fetchall()
    got = {card: total for card, total in rows if total}
    expected = {
        card: total
        for card in ("A", "B")
        if (
            total := fen_days([BalancePoint(day, fen) for c, day, fen in raw if c == card], JANUARY)
        )
    }
    assert got == expected
