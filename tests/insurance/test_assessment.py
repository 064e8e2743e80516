"""The assessment: averages from the stored files, eligibility, coverage, idempotent re-runs."""

from __future__ import annotations

import itertools
import random
import tempfile
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gonghui.core.audit import AuditEntry
from gonghui.core.errors import InvalidInput
from gonghui.insurance import assessment, jobs, service
from gonghui.insurance.assessment import (
    assess,
    card_ranges,
    decide,
    fen_days_sql,
    period_parameters,
    sum_balances,
)
from gonghui.insurance.balances import Source, import_balances
from gonghui.insurance.models import AssessmentRun, Coverage, Plan
from gonghui.insurance.queries import card_standing
from gonghui.insurance.rules import (
    BalancePoint,
    CardFacts,
    DayCount,
    Period,
    Terms,
    apply_group_minimum,
    decide_card,
    fen_days,
)
from gonghui.insurance.store import BalanceStore, scan
from gonghui.members import banks
from gonghui.members.models import Bank, Member
from gonghui.members.rules import EmploymentStatus
from tests.conftest import NOW
from tests.insurance.scenario import close_january
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
    close_january(db, world, store, a="2500.00", b="9000.00")
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
    close_january(db, world, store, a="3000.00")
    first = assess(db, plan, date(2025, 1, 1), actor=SETUP, now=NOW, store=store)
    second = assess(db, plan, date(2025, 1, 15), actor=SETUP, now=NOW, store=store)
    # The same figures; each run its own snapshot to replay.
    assert replace(first, snapshot=None) == replace(second, snapshot=None)
    assert first.snapshot != second.snapshot
    assert db.scalar(select(func.count()).select_from(Coverage)) == 1
    assert db.scalars(select(AssessmentRun.runs)).one() == 2


@pytest.mark.parametrize(
    ("now", "message"),
    [
        # 2025-01-31 23:59 in Beijing: January has not ended there, whatever UTC says.
        (datetime(2025, 1, 31, 15, 59, tzinfo=UTC), "2025-01 尚未结束，期满后才能考核"),
        (datetime(2025, 1, 20, 1, 0, tzinfo=UTC), "2025-01 尚未结束，期满后才能考核"),
    ],
)
def test_a_month_is_assessed_only_once_it_has_ended_in_beijing(
    db: Session, world: World, store: BalanceStore, plan: Plan, now: datetime, message: str
) -> None:
    close_january(db, world, store, a="3000.00")
    with pytest.raises(InvalidInput) as caught:
        assess(db, plan, date(2025, 1, 1), actor=SETUP, now=now, store=store)
    assert (caught.value.code, caught.value.message) == ("period_open", message)
    assert db.scalar(select(func.count()).select_from(AssessmentRun)) == 0
    # 00:30 on 1 February in Beijing (16:30 UTC on the 31st): January is over.
    after = datetime(2025, 1, 31, 16, 30, tzinfo=UTC)
    assert (
        assess(db, plan, date(2025, 1, 1), actor=SETUP, now=after, store=store).period == "2025-01"
    )


def test_the_current_month_is_refused(
    db: Session, world: World, store: BalanceStore, plan: Plan
) -> None:
    with pytest.raises(InvalidInput, match=r"^2025-02 尚未结束，期满后才能考核$"):
        assess(db, plan, date(2025, 2, 1), actor=SETUP, now=NOW, store=store)


def test_a_month_is_assessed_only_once_every_plan_banks_files_reach_its_end(
    db: Session, world: World, store: BalanceStore, plan: Plan
) -> None:
    load(db, world, store, world.bank_ytb, [f"{world.card_a},2025-01-31,3000.00"])
    load(db, world, store, world.bank_qlb, [f"{world.card_b},2025-01-20,3000.00"])
    with pytest.raises(InvalidInput) as caught:
        assess(db, plan, date(2025, 1, 1), actor=SETUP, now=NOW, store=store)
    assert (caught.value.code, caught.value.message) == (
        "balances_incomplete",
        (
            "以下银行的余额文件尚未报送至 2025-01-31，暂不能考核 2025-01："
            "齐鲁银行（已报送至 2025-01-20）"
        ),
    )
    assert db.scalar(select(func.count()).select_from(Coverage)) == 0


def test_a_bank_that_never_reported_is_named_and_one_without_cards_is_not_waited_for(
    db: Session, world: World, store: BalanceStore
) -> None:
    idle = banks.register_bank(db, code="WHB", name="威海银行", actor=SETUP, now=NOW)
    chosen = service.create_plan(
        db,
        code="THREE",
        name="三家银行",
        insurer="测试保险公司",
        terms=Terms(),
        effective_from=date(2024, 1, 1),
        bank_ids=[world.bank_ytb, world.bank_qlb, idle.id],
        actor=SETUP,
        now=NOW,
    )
    load(db, world, store, world.bank_ytb, [f"{world.card_a},2025-01-31,3000.00"])
    with pytest.raises(InvalidInput, match=r"：齐鲁银行（尚未报送）$"):
        assess(db, chosen, date(2025, 1, 1), actor=SETUP, now=NOW, store=store)


def test_a_bank_that_stopped_mid_period_is_waited_for_only_up_to_its_last_day(
    db: Session, world: World, store: BalanceStore, plan: Plan
) -> None:
    qlb = db.get(Bank, world.bank_qlb)
    assert qlb is not None
    in_january = datetime(2025, 1, 10, 1, 0, tzinfo=UTC)
    banks.retire_bank(db, qlb, date(2025, 1, 20), actor=SETUP, now=in_january)
    load(db, world, store, world.bank_ytb, [f"{world.card_a},2025-01-31,3000.00"])
    load(db, world, store, world.bank_qlb, [f"{world.card_b},2025-01-18,3000.00"])
    with pytest.raises(InvalidInput, match=r"：齐鲁银行（已报送至 2025-01-18）$"):
        assess(db, plan, date(2025, 1, 1), actor=SETUP, now=NOW, store=store)
    load(db, world, store, world.bank_qlb, [f"{world.card_b},2025-01-19,3000.00"])
    assert assess(db, plan, date(2025, 1, 1), actor=SETUP, now=NOW, store=store).banks_missing == ()


def test_the_scheduled_assessment_waits_on_the_same_rule_as_the_service(
    db: Session, world: World, store: BalanceStore, plan: Plan
) -> None:
    load(db, world, store, world.bank_ytb, [f"{world.card_a},2025-01-31,3000.00"])
    load(db, world, store, world.bank_qlb, [f"{world.card_b},2025-01-20,3000.00"])
    waiting = jobs.assess_ended_periods(db, NOW, store=store, actor=SETUP)
    assert waiting == [
        "YT2025 2025-01 等待齐鲁银行（已报送至 2025-01-20）报送至 2025-01-31 的余额文件"
    ]
    assert db.scalar(select(func.count()).select_from(AssessmentRun)) == 0
    load(db, world, store, world.bank_qlb, [f"{world.card_b},2025-01-31,3000.00"])
    assert jobs.assess_ended_periods(db, NOW, store=store, actor=SETUP) == [
        "YT2025 2025-01 考核完成：2 张卡，达标 0"
    ]


def test_the_operator_may_assess_without_a_late_bank_and_the_audit_names_it(
    db: Session, world: World, store: BalanceStore, plan: Plan
) -> None:
    load(
        db,
        world,
        store,
        world.bank_ytb,
        [f"{world.card_a},2024-12-31,3000.00", f"{world.card_a},2025-01-31,3000.00"],
    )
    summary = assess(
        db, plan, date(2025, 1, 1), actor=SETUP, now=NOW, store=store, allow_missing_banks=True
    )
    assert (summary.eligible, summary.banks_missing) == (1, ("QLB",))
    entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "insurance.assessed")).one()
    assert entry.after is not None
    assert entry.after["banks_missing"] == ["QLB"]


def test_a_retired_member_with_money_on_the_card_is_not_covered(
    db: Session, world: World, store: BalanceStore, plan: Plan
) -> None:
    member = db.get(Member, world.member_a)
    assert member is not None
    member.employment_status = EmploymentStatus.RETIRED
    db.flush()
    load(db, world, store, world.bank_ytb, [f"{world.card_a},2025-01-01,3000.00"])
    close_january(db, world, store, a="3000.00")
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


# Card numbers as members hold them (16 to 19 digits). The sums are grouped by a number made
# from the card number, so two that differ only in leading zeros must stay two cards.
CARDS = ("6222020200112233445", "0012345678901234", "00012345678901234")


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(CARDS),
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
                fen_days_sql(scan([part]), scan([part])), period_parameters(JANUARY)
            ).fetchall()
    got = {card: total for card, total in rows if total}
    expected = {
        card: total
        for card in CARDS
        if (
            total := fen_days([BalancePoint(day, fen) for c, day, fen in raw if c == card], JANUARY)
        )
    }
    assert got == expected


def _sum_in_duckdb(rows: list[tuple[str, date, int]]) -> dict[str, int]:
    with tempfile.TemporaryDirectory() as folder, duckdb.connect() as connection:
        part = Path(folder) / "p.parquet"
        connection.execute("CREATE TABLE t (card_no VARCHAR, on_date DATE, balance_fen BIGINT)")
        if rows:
            connection.executemany("INSERT INTO t VALUES (?, ?, ?)", rows)
        connection.execute(f"COPY t TO '{part}' (FORMAT parquet)")
        found = connection.execute(
            fen_days_sql(scan([part]), scan([part])), period_parameters(JANUARY)
        ).fetchall()
    return {card: total for card, total in found if total}


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 31),
    st.integers(0, 30),
    st.lists(st.integers(0, 10**8), min_size=31, max_size=31),
    st.one_of(st.none(), st.integers(0, 10**8)),
)
def test_the_fast_path_for_daily_files_agrees_too(
    first: int, length: int, levels: list[int], carried: int | None
) -> None:
    # A run of consecutive days inside January, as banks send them, maybe with a balance
    # from December before it: the case the aggregate-only path handles.
    days = [date(2025, 1, day) for day in range(first, min(first + length, 31) + 1)]
    card = CARDS[0]
    rows = [(card, day, levels[day.day - 1]) for day in days]
    if carried is not None:
        rows.append((card, date(2024, 12, 20), carried))
    expected = fen_days([BalancePoint(day, fen) for _, day, fen in rows], JANUARY)
    assert _sum_in_duckdb(rows) == ({card: expected} if expected else {})


card_strategy = st.tuples(
    st.integers(1, 6),  # member
    st.integers(1, 3),  # unit
    st.dates(date(2024, 12, 1), date(2025, 2, 5)),  # opened
    st.booleans(),  # card active
    st.booleans(),  # in service
    st.booleans(),  # member active
    st.integers(0, 31 * 400_000),  # fen-days
)


@settings(max_examples=80, deadline=None)
@given(
    st.lists(card_strategy, min_size=1, max_size=12),
    st.sampled_from([None, 2, 3]),
    st.sampled_from(["calendar", "card_days"]),
)
def test_the_sql_decisions_agree_with_the_rules(
    cards: list[tuple], minimum: int | None, rule: str
) -> None:
    terms = Terms(min_group_size=minimum, day_count=DayCount(rule))
    enrolled = {1, 2}
    with duckdb.connect() as connection:
        connection.execute(
            "CREATE TABLE holdings (card_id BIGINT, card_no VARCHAR, bank_id BIGINT, "
            "member_id BIGINT, "
            "unit_id BIGINT, opened_on DATE, card_status VARCHAR, employment_status VARCHAR, "
            "membership_status VARCHAR, unit_enrolled BOOLEAN)"
        )
        connection.execute("CREATE TABLE sums (card_no VARCHAR, fen_days BIGINT)")
        for number, (member, unit, opened, active, working, joined, total) in enumerate(cards):
            connection.execute(
                "INSERT INTO holdings VALUES (?, ?, 1, ?, ?, ?, ?, ?, ?, ?)",
                [
                    number,
                    f"C{number}",
                    member,
                    unit,
                    opened,
                    "active" if active else "frozen",
                    "employed" if working else "retired",
                    "active" if joined else "suspended",
                    unit in enrolled,
                ],
            )
            connection.execute("INSERT INTO sums VALUES (?, ?)", [f"C{number}", total])
        decide(connection, JANUARY, terms)
        got = {
            card_id: (average, days, set(filter(None, reasons.split(","))))
            for card_id, average, days, reasons in connection.execute(
                "SELECT card_id, average_fen, days, reasons FROM decided"
            ).fetchall()
        }
    decisions = [
        decide_card(
            CardFacts(opened, active, working, joined, unit in enrolled), total, JANUARY, terms
        )
        for (_, unit, opened, active, working, joined, total) in cards
    ]
    passing: dict[int, set[int]] = {}
    for (member, unit, *_), decision in zip(cards, decisions, strict=True):
        if decision.eligible:
            passing.setdefault(unit, set()).add(member)
    small = apply_group_minimum(passing, minimum)
    expected = {
        number: (
            decision.average_fen,
            decision.days,
            {r.value for r in decision.reasons}
            | ({"group_too_small"} if decision.eligible and card[1] in small else set()),
        )
        for number, (card, decision) in enumerate(zip(cards, decisions, strict=True))
    }
    assert got == expected


def _sums_in_ranges(rows: list[tuple[str, date, int]], cards: list[str]) -> dict[str, int]:
    with tempfile.TemporaryDirectory() as folder, duckdb.connect() as connection:
        december, january = Path(folder) / "december.parquet", Path(folder) / "january.parquet"
        connection.execute("CREATE TABLE t (card_no VARCHAR, on_date DATE, balance_fen BIGINT)")
        connection.executemany("INSERT INTO t VALUES (?, ?, ?)", rows)
        for path, kept in (
            (december, "on_date < DATE '2025-01-01'"),
            (january, "on_date >= DATE '2025-01-01'"),
        ):
            query = f"COPY (SELECT * FROM t WHERE {kept} ORDER BY card_no) TO '{path}'"  # noqa: S608 - test's own
            connection.execute(query)
        connection.execute("CREATE TABLE holdings (card_no VARCHAR)")
        connection.executemany("INSERT INTO holdings VALUES (?)", [(card,) for card in cards])
        sum_balances(connection, [january], [december], JANUARY)
        return {
            card: total
            for card, total in connection.execute("SELECT * FROM sums").fetchall()
            if total
        }


def test_a_provinces_cards_are_summed_range_by_range_with_the_same_result(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Ten million cards are summed a few million at a time (one hash table would outgrow the
    # memory budget); the ranges must hold every card once, whatever the cuts.
    rng = random.Random(16)  # noqa: S311 - test data, not secrets
    cards = [f"6223{n * 7919:015d}" for n in range(70)] + [f"00{n:014d}" for n in range(20)]
    rows = [
        (card, date(2024, 12, 25) + timedelta(days=day), rng.randrange(0, 10**7))
        for card in cards
        for day in rng.sample(range(38), rng.randrange(1, 38))
    ]
    rows += [("6223999999999999999", date(2025, 1, 3), 123)]  # a card not on the roll
    whole = _sums_in_ranges(rows, cards)
    monkeypatch.setattr(assessment, "CARDS_PER_RANGE", 9)
    assert _sums_in_ranges(rows, cards) == whole
    expected = {
        card: total
        for card in {card for card, _, _ in rows}
        if (total := fen_days([BalancePoint(on, fen) for c, on, fen in rows if c == card], JANUARY))
    }
    assert whole == expected


def test_card_ranges_cover_every_card_number_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    with duckdb.connect() as connection:
        connection.execute(
            "CREATE TABLE holdings AS "
            "SELECT lpad(range::VARCHAR, 16, '0') AS card_no FROM range(0, 23)"
        )
        assert card_ranges(connection) == [("", "~")]
        monkeypatch.setattr(assessment, "CARDS_PER_RANGE", 5)
        ranges = card_ranges(connection)
    assert len(ranges) == 5
    assert ranges[0][0] == ""
    assert ranges[-1][1] == "~"
    assert all(a[1] == b[0] and a[0] < a[1] for a, b in itertools.pairwise(ranges))
