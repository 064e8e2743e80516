"""The parts index: compaction of a closed month, the purge, per-card reads and the replay of
an assessment from its snapshot after later files and after compaction."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import duckdb
import pyarrow.parquet as pq
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gonghui.core.errors import InvalidInput
from gonghui.insurance import jobs, parts, snapshots
from gonghui.insurance.assessment import assess, balance_sums
from gonghui.insurance.models import AssessmentSnapshot, BalancePart, Plan
from gonghui.insurance.queries import card_standing, month_so_far
from gonghui.insurance.rules import Ineligibility, Period
from gonghui.insurance.store import BalanceStore
from tests.conftest import NOW
from tests.insurance.scenario import send_file
from tests.world import SETUP, World

JANUARY = date(2025, 1, 1)


def daily_files(
    db: Session, world: World, store: BalanceStore, days: range, a: int = 3000, b: int = 1000
) -> None:
    """One file per bank per January day, as banks send them: card A at `a` yuan plus the
    day, card B at `b` yuan."""
    for day in days:
        on = date(2025, 1, day)
        send_file(db, store, world.bank_ytb, [f"{world.card_a},{on},{a + day}.00"])
        send_file(db, store, world.bank_qlb, [f"{world.card_b},{on},{b}.00"])


def live(db: Session) -> list[BalancePart]:
    return parts.live_parts(db)


def test_compaction_merges_a_closed_months_daily_parts_into_one_per_bank_sorted_by_card(
    db: Session, world: World, store: BalanceStore, plan: Plan
) -> None:
    daily_files(db, world, store, range(1, 32))
    send_file(db, store, world.bank_ytb, [f"{world.card_a},2025-02-01,100.00"])
    before = balance_sums(db, store, plan_period())
    report = parts.compact_month(db, store, JANUARY, actor=SETUP, now=NOW)
    assert (report.banks, report.parts_replaced, report.rows) == (2, 62, 62)
    merged = [part for part in live(db) if part.compacted]
    assert (
        sorted((p.first_date, p.last_date, p.rows) for p in merged)
        == [(date(2025, 1, 1), date(2025, 1, 31), 31)] * 2
    )
    # February's part spans no closed month: it stays as it came.
    assert [p.first_date for p in live(db) if not p.compacted] == [date(2025, 2, 1)]
    assert balance_sums(db, store, plan_period()) == before
    rows = duckdb.execute(
        "SELECT card_no, on_date FROM read_parquet($path)",
        {"path": str(store.absolute(merged[0].path))},
    ).fetchall()
    assert rows == sorted(rows)
    # The replaced files stay for readers that listed them before the swap.
    replaced = db.scalars(select(BalancePart).where(BalancePart.replaced_by_id.is_not(None)))
    assert all(store.absolute(part.path).exists() for part in replaced)


def plan_period() -> Period:
    return Period(date(2025, 1, 1), date(2025, 1, 31))


def test_compacting_again_after_a_late_file_merges_it_and_otherwise_does_nothing(
    db: Session, world: World, store: BalanceStore, plan: Plan
) -> None:
    daily_files(db, world, store, range(1, 31))
    parts.compact_month(db, store, JANUARY, actor=SETUP, now=NOW)
    again = parts.compact_month(db, store, JANUARY, actor=SETUP, now=NOW)
    assert again.parts_replaced == 0
    assert again.summary == "2025-01：没有需要合并的余额分片"
    daily_files(db, world, store, range(31, 32))
    late = parts.compact_month(db, store, JANUARY, actor=SETUP, now=NOW)
    assert (late.parts_replaced, late.rows) == (4, 62)
    assert len(live(db)) == 2


def test_a_month_not_yet_ended_in_beijing_is_not_compacted(
    db: Session, world: World, store: BalanceStore
) -> None:
    with pytest.raises(InvalidInput, match=r"^2025-02 尚未结束，期满后才能合并余额分片$"):
        parts.compact_month(db, store, date(2025, 2, 1), actor=SETUP, now=NOW)


def test_the_purge_removes_replaced_files_only_a_day_after_the_swap(
    db: Session, world: World, store: BalanceStore
) -> None:
    daily_files(db, world, store, range(1, 3))
    parts.compact_month(db, store, JANUARY, actor=SETUP, now=NOW)
    replaced = list(db.scalars(select(BalancePart).where(BalancePart.replaced_by_id.is_not(None))))
    assert parts.purge_replaced(db, store, NOW + timedelta(hours=23)) == 0
    assert all(store.absolute(part.path).exists() for part in replaced)
    assert parts.purge_replaced(db, store, NOW + timedelta(days=1, minutes=1)) == 4
    assert not any(store.absolute(part.path).exists() for part in replaced)
    assert all(store.absolute(part.path).exists() for part in live(db))


def test_a_replay_matches_after_later_files_and_after_compaction_and_purge(
    db: Session, world: World, store: BalanceStore, plan: Plan
) -> None:
    # January's files, card B's bank two days short: assessed anyway, B on carried balances.
    daily_files(db, world, store, range(1, 30), b=2500)
    send_file(db, store, world.bank_ytb, [f"{world.card_a},2025-01-30,10.00"])
    send_file(db, store, world.bank_ytb, [f"{world.card_a},2025-01-31,10.00"])
    summary = assess(db, plan, JANUARY, actor=SETUP, now=NOW, store=store, allow_missing_banks=True)
    assert summary.snapshot is not None
    # B's late days arrive with balances that would change B's average, and January is merged.
    send_file(db, store, world.bank_qlb, [f"{world.card_b},2025-01-30,0.00"])
    send_file(db, store, world.bank_qlb, [f"{world.card_b},2025-01-31,0.00"])
    parts.compact_month(db, store, JANUARY, actor=SETUP, now=NOW)
    parts.purge_replaced(db, store, NOW + timedelta(days=2))
    report = snapshots.replay(db, summary.snapshot, actor=SETUP, store=store)
    assert (report.cards, report.matching, report.differences) == (2, 2, [])
    assert report.summary.endswith("2 张卡的日均余额、计算天数和资格结论全部一致")
    # A fresh run reads the late days: B's figure moves, and that run replays to itself.
    rerun = assess(db, plan, JANUARY, actor=SETUP, now=NOW, store=store)
    assert rerun.snapshot is not None
    assert snapshots.replay(db, rerun.snapshot, actor=SETUP, store=store).matches
    first, second = (
        db.get(AssessmentSnapshot, number) for number in (summary.snapshot, rerun.snapshot)
    )
    assert first is not None
    assert second is not None
    assert first.results_path != second.results_path
    assert len(second.inside_parts) < len(first.inside_parts)  # the merged parts, fewer


def test_a_replay_says_which_cards_differ_when_a_recorded_result_was_altered(
    db: Session, world: World, store: BalanceStore, plan: Plan
) -> None:
    daily_files(db, world, store, range(1, 32))
    summary = assess(db, plan, JANUARY, actor=SETUP, now=NOW, store=store)
    assert summary.snapshot is not None
    snapshot = db.get(AssessmentSnapshot, summary.snapshot)
    assert snapshot is not None
    results = str(store.absolute(snapshot.results_path))
    with duckdb.connect() as connection:
        connection.execute(
            f"COPY (SELECT * REPLACE (CASE WHEN card_no = '{world.card_a}' THEN 1 "  # noqa: S608
            f"ELSE average_fen END AS average_fen) FROM read_parquet('{results}')) "
            f"TO '{results}.x' (FORMAT parquet)"
        )
    (store.absolute(snapshot.results_path).with_suffix(".parquet.x")).replace(results)
    report = snapshots.replay(db, summary.snapshot, actor=SETUP, store=store)
    assert (report.cards, report.matching) == (2, 1)
    assert [d.card_no for d in report.differences] == [world.card_a]
    assert report.differences[0].recorded.startswith("1 分/31 天/")


def test_an_assessed_months_standing_is_the_assessments_own_decision(
    db: Session, world: World, store: BalanceStore, plan: Plan
) -> None:
    daily_files(db, world, store, range(1, 32), a=3000, b=1000)
    assess(db, plan, JANUARY, actor=SETUP, now=NOW, store=store)
    # A file arriving after the run does not change what the run decided.
    send_file(db, store, world.bank_ytb, [f"{world.card_a},2024-12-31,0.00"])
    standing = card_standing(db, plan, world.card_b, JANUARY, store=store)
    assert (standing.decision.average_fen, standing.decision.days) == (100_000, 31)
    assert Ineligibility.BALANCE in standing.decision.reasons
    assert card_standing(db, plan, world.card_a, JANUARY, store=store).decision.eligible


def test_a_standing_computed_from_merged_parts_equals_the_one_from_daily_parts(
    db: Session, world: World, store: BalanceStore, plan: Plan
) -> None:
    send_file(db, store, world.bank_ytb, [f"{world.card_a},2024-12-20,5000.00"])
    daily_files(db, world, store, range(5, 20))
    daily = card_standing(db, plan, world.card_a, JANUARY, store=store)
    parts.compact_month(db, store, JANUARY, actor=SETUP, now=NOW)
    parts.compact_month(db, store, date(2024, 12, 1), actor=SETUP, now=NOW)
    assert card_standing(db, plan, world.card_a, JANUARY, store=store) == daily
    # 4 days carried at 5,000, 15 days at 3,005..3,019, 12 days carried at 3,019.
    expected = (4 * 500_000 + sum(300_000 + 100 * d for d in range(5, 20)) + 12 * 301_900) / 31
    assert daily.decision.average_fen == round(expected)


# 2025-01-11 09:00 in Beijing: ten days of January have ended.
ELEVENTH = datetime(2025, 1, 11, 1, 0, tzinfo=UTC)


def test_the_running_average_counts_the_days_up_to_yesterday_and_what_is_still_needed(
    db: Session, world: World, store: BalanceStore, plan: Plan
) -> None:
    # Card B: 1,000 yuan on each of the first ten days; today's (the 11th's) row does not count.
    daily_files(db, world, store, range(1, 11), b=1000)
    so_far = month_so_far(db, plan, world.card_b, date(2025, 1, 11), store=store)
    assert (so_far.through, so_far.days, so_far.average_fen) == (date(2025, 1, 10), 10, 100_000)
    # 31 × 2,000 = 62,000 yuan-days are needed, 10,000 are there: 52,000 over 21 days left,
    # 2,476.19… a day, rounded up to the fen so that keeping it is enough.
    assert so_far.needed_daily_fen == 247_620
    assert so_far.days_left == 21
    assert so_far.explanation == (
        "本月截至1月10日日均余额为¥1,000.00；剩余21天每日余额保持¥2,476.20及以上，"
        "本月日均即可达到¥2,000.00"
    )
    rich = month_so_far(db, plan, world.card_a, date(2025, 1, 11), store=store)
    assert rich.average_fen == 300_550  # 3,001..3,010 yuan
    # Card A already has 30,055 yuan-days; 31,945 more over 21 days is 1,521.19… a day.
    assert rich.needed_daily_fen == 152_120


def test_a_month_already_secured_needs_nothing_more(
    db: Session, world: World, store: BalanceStore, plan: Plan
) -> None:
    # Ten days at about 10,000 yuan: 100,000 yuan-days, more than the month's 62,000.
    daily_files(db, world, store, range(1, 11), a=10_000)
    so_far = month_so_far(db, plan, world.card_a, date(2025, 1, 11), store=store)
    assert so_far.needed_daily_fen == 0
    assert so_far.explanation == "本月截至1月10日日均余额为¥10,005.50，本月日均已可达到¥2,000.00"


def test_on_the_first_of_the_month_nothing_has_ended_yet(
    db: Session, world: World, store: BalanceStore, plan: Plan
) -> None:
    so_far = month_so_far(db, plan, world.card_b, date(2025, 1, 1), store=store)
    assert (so_far.through, so_far.days, so_far.average_fen) == (None, 0, 0)
    assert so_far.needed_daily_fen == 200_000
    assert so_far.days_left == 31
    assert (
        so_far.explanation
        == "本月刚开始；剩余31天每日余额保持¥2,000.00及以上，本月日均即可达到¥2,000.00"
    )


def test_the_compaction_job_merges_the_last_closed_months_and_purges_later(
    db: Session, world: World, store: BalanceStore, plan: Plan
) -> None:
    daily_files(db, world, store, range(1, 4))
    send_file(db, store, world.bank_ytb, [f"{world.card_a},2025-02-01,100.00"])
    send_file(db, store, world.bank_ytb, [f"{world.card_a},2025-02-02,100.00"])
    said = jobs.compact_closed_months(db, NOW, store=store, actor=SETUP)
    assert said == [
        "2024-12：没有需要合并的余额分片",
        "2025-01：2 家银行的 6 个余额分片已合并，共 6 行",
        "2025-02（截至2月9日）：1 家银行的 2 个余额分片已合并，共 2 行",
        "删除已替换的分片文件 0 个",
    ]
    later = jobs.compact_closed_months(db, NOW + timedelta(days=2), store=store, actor=SETUP)
    assert later[-1] == "删除已替换的分片文件 8 个"


def test_the_month_so_far_is_merged_day_by_day_and_reads_the_same_after_a_late_file(
    db: Session, world: World, store: BalanceStore, plan: Plan
) -> None:
    # Card A's bank sends days 1-10 but for the 6th; card B's bank all ten days.
    daily_files(db, world, store, range(1, 6))
    daily_files(db, world, store, range(7, 11))
    send_file(db, store, world.bank_qlb, [f"{world.card_b},2025-01-06,1000.00"])
    before = month_so_far(db, plan, world.card_a, date(2025, 1, 11), store=store)
    report = parts.compact_month_so_far(db, store, actor=SETUP, now=ELEVENTH)
    assert report.summary == "2025-01（截至1月10日）：2 家银行的 19 个余额分片已合并，共 19 行"
    assert [(p.first_date, p.last_date, p.compacted) for p in live(db)] == [
        (date(2025, 1, 1), date(2025, 1, 10), True)
    ] * 2
    assert month_so_far(db, plan, world.card_a, date(2025, 1, 11), store=store) == before
    # The 6th carried the 5th's 3,005 yuan; the late file says 0, and the 11th comes in.
    send_file(db, store, world.bank_ytb, [f"{world.card_a},2025-01-06,0.00"])
    daily_files(db, world, store, range(11, 12))
    twelfth = ELEVENTH + timedelta(days=1)
    late = month_so_far(db, plan, world.card_a, date(2025, 1, 12), store=store)
    assert late.average_fen == round((sum(300_000 + 100 * d for d in range(1, 12)) - 300_600) / 11)
    again = parts.compact_month_so_far(db, store, actor=SETUP, now=twelfth)
    assert (again.banks, again.parts_replaced, again.rows) == (2, 5, 22)
    assert month_so_far(db, plan, world.card_a, date(2025, 1, 12), store=store) == late
    # Today's part does not exist yet, so nothing is left to merge on the same day.
    assert parts.compact_month_so_far(db, store, actor=SETUP, now=twelfth).parts_replaced == 0


def test_on_the_first_of_the_month_there_is_nothing_of_it_to_merge(
    db: Session, world: World, store: BalanceStore
) -> None:
    daily_files(db, world, store, range(30, 32))
    first = datetime(2025, 2, 1, 1, 0, tzinfo=UTC)
    report = parts.compact_month_so_far(db, store, actor=SETUP, now=first)
    assert report.summary == "2025-02（截至1月31日）：没有需要合并的余额分片"
    assert len(live(db)) == 4


def test_a_replay_matches_when_the_month_was_merged_while_it_ran_and_again_once_closed(
    db: Session, world: World, store: BalanceStore, plan: Plan
) -> None:
    daily_files(db, world, store, range(1, 20))
    parts.compact_month_so_far(db, store, actor=SETUP, now=datetime(2025, 1, 20, 1, tzinfo=UTC))
    daily_files(db, world, store, range(20, 32))
    from_daily = card_standing(db, plan, world.card_a, JANUARY, store=store)
    summary = assess(db, plan, JANUARY, actor=SETUP, now=NOW, store=store)
    assert summary.snapshot is not None
    assert card_standing(db, plan, world.card_a, JANUARY, store=store) == from_daily
    parts.compact_month(db, store, JANUARY, actor=SETUP, now=NOW)
    parts.purge_replaced(db, store, NOW + timedelta(days=2))
    assert [(p.first_date, p.last_date, p.rows) for p in live(db)] == [
        (date(2025, 1, 1), date(2025, 1, 31), 31)
    ] * 2
    report = snapshots.replay(db, summary.snapshot, actor=SETUP, store=store)
    assert (report.cards, report.matching, report.differences) == (2, 2, [])


def test_a_merge_of_many_rows_is_sorted_by_card_in_whole_row_groups_with_a_page_index(
    db: Session, world: World, store: BalanceStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small sizes, so that the merge sorts several card ranges and DuckDB's batches straddle
    # row groups: 40 cards × 5 days in ranges of about 60 rows and groups of 16.
    monkeypatch.setattr(parts, "ROW_GROUP_ROWS", 16)
    monkeypatch.setattr(parts, "ROWS_PER_SORT", 60)
    cards = [f"9{n:018d}" for n in range(40)]
    for day in range(1, 6):
        relative = f"balances/YTB/t/{day}.parquet"
        with duckdb.connect() as connection:
            store.write_part(
                connection,
                f"SELECT '9' || lpad(range::VARCHAR, 18, '0') AS card_no, "  # noqa: S608
                f"DATE '2025-01-{day:02d}' AS on_date, range * 100 + {day} AS balance_fen "
                "FROM range(40) ORDER BY card_no",
                relative,
            )
        # Listed as the import lists a part (the scene, not the use case under test).
        db.add(
            BalancePart(
                bank_id=world.bank_ytb,
                path=relative,
                first_date=date(2025, 1, day),
                last_date=date(2025, 1, day),
                rows=40,
                min_card_no=cards[0],
                max_card_no=cards[-1],
                compacted=False,
                created_at=NOW,
            )
        )
    db.flush()
    parts.compact_month(db, store, JANUARY, actor=SETUP, now=NOW)
    [merged] = live(db)
    path = str(store.absolute(merged.path))
    rows = duckdb.execute(
        "SELECT card_no, on_date, balance_fen FROM read_parquet($path)", {"path": path}
    ).fetchall()
    assert rows == sorted(
        (card, date(2025, 1, day), n * 100 + day)
        for n, card in enumerate(cards)
        for day in range(1, 6)
    )
    layout = pq.ParquetFile(path).metadata
    assert [layout.row_group(g).num_rows for g in range(layout.num_row_groups)] == [16] * 12 + [8]
    assert layout.row_group(0).column(0).has_column_index
