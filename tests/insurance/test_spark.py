"""The path past one machine: the assessment's per-card computation, the same SQL rendered for
Spark, run by pyspark in local mode over the same Parquet parts, gives every card the same
average, day count and reasons as DuckDB.

Needs Java (Debian's openjdk-17-jre-headless, installed by .ci/run)."""

from __future__ import annotations

import random
import shutil
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from gonghui.insurance.assessment import (
    SPARK,
    compute,
    decide_parameters,
    decided_sql,
    fen_days_sql,
    period_parameters,
)
from gonghui.insurance.rules import DayCount, Period, Terms
from gonghui.insurance.store import BalanceStore, PartRead
from tests.conftest import STRICT

pyspark_sql = pytest.importorskip("pyspark.sql")

if shutil.which("java") is None:
    _missing = "Java is not installed (apt-get install openjdk-17-jre-headless)"
    if STRICT:
        pytest.fail(f"{_missing} (GONGHUI_TEST_STRICT=1)", pytrace=False)
    pytest.skip(_missing, allow_module_level=True)

JANUARY = Period(date(2025, 1, 1), date(2025, 1, 31))
CARDS = 400
STATUSES = {
    "card_status": ["active", "active", "active", "frozen"],
    "employment_status": ["employed", "employed", "employed", "retired"],
    "membership_status": ["active", "active", "active", "suspended"],
}


@pytest.fixture(scope="module")
def spark() -> Iterator[object]:
    session = (
        pyspark_sql.SparkSession.builder.master("local[1]")
        .appName("gonghui-assessment-test")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.driver.memory", "512m")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def _world(folder: Path) -> tuple[BalanceStore, list[PartRead], list[PartRead]]:
    """Holdings of 400 cards in 40 units, and balances as banks send them: a December file,
    then January's days in three parts, with cards that skip days, start late, or never report."""
    rng = random.Random(16)  # noqa: S311 - test data, not secrets
    store = BalanceStore(folder)
    holdings = []
    for number in range(CARDS):
        opened = date(2024, 6, 1) + timedelta(days=rng.randrange(0, 260))
        holdings.append(
            (
                number + 1,
                f"6223{number:015d}",
                1 + number % 2,
                number // 2 + 1,  # two cards per member
                number % 40 + 1,
                opened,
                *(rng.choice(choices) for choices in STATUSES.values()),
                number % 40 != 7,
            )
        )
    balances = []
    for _, card_no, *_rest in holdings:
        style = rng.randrange(4)
        if style == 3:
            continue  # never reported
        level = rng.randrange(0, 600_000)
        if rng.random() < 0.7:
            balances.append((card_no, date(2024, 12, rng.randrange(1, 32)), level))
        for day in range(1, 32):
            if style == 1 and rng.random() < 0.4:
                continue  # a gap: the last balance carries
            if style == 2 and day < 12:
                continue  # starts late in the month
            balances.append((card_no, date(2025, 1, day), rng.randrange(0, 600_000)))
    with duckdb.connect() as connection:
        connection.execute(
            "CREATE TABLE holdings (card_id BIGINT, card_no VARCHAR, bank_id BIGINT, "
            "member_id BIGINT, unit_id BIGINT, opened_on DATE, card_status VARCHAR, "
            "employment_status VARCHAR, membership_status VARCHAR, unit_enrolled BOOLEAN)"
        )
        connection.executemany("INSERT INTO holdings VALUES (?,?,?,?,?,?,?,?,?,?)", holdings)
        store.write_part(connection, "SELECT * FROM holdings", "holdings.parquet")
        connection.execute("CREATE TABLE b (card_no VARCHAR, on_date DATE, balance_fen BIGINT)")
        connection.executemany("INSERT INTO b VALUES (?,?,?)", balances)
        spans = {
            "dec": ("2024-12-01", "2024-12-31"),
            "jan1": ("2025-01-01", "2025-01-10"),
            "jan2": ("2025-01-11", "2025-01-20"),
            "jan3": ("2025-01-21", "2025-01-31"),
        }
        for name, (first, last) in spans.items():
            store.write_part(
                connection,
                f"SELECT * FROM b WHERE on_date BETWEEN '{first}' AND '{last}' "  # noqa: S608 - our dates
                "ORDER BY card_no, on_date",
                f"{name}.parquet",
            )
    inside = [PartRead(store.absolute(f"{name}.parquet")) for name in ("jan1", "jan2", "jan3")]
    return store, inside, [PartRead(store.absolute("dec.parquet"))]


def _in_duckdb(
    store: BalanceStore, inside: list[PartRead], before: list[PartRead], terms: Terms
) -> dict[str, tuple[int, int, str]]:
    with store.analytics() as connection:
        connection.execute(
            "CREATE TEMP TABLE holdings AS SELECT * FROM read_parquet($path)",
            {"path": str(store.absolute("holdings.parquet"))},
        )
        compute(connection, inside, before, JANUARY, terms)
        rows = connection.execute("SELECT card_no, average_fen, days, reasons FROM decided")
        return {
            card: (int(avg), int(days), reasons) for card, avg, days, reasons in rows.fetchall()
        }


def _in_spark(
    spark: object,
    store: BalanceStore,
    inside: list[PartRead],
    before: list[PartRead],
    terms: Terms,
) -> dict[str, tuple[int, int, str]]:
    session: pyspark_sql.SparkSession = spark  # type: ignore[assignment]
    session.read.parquet(str(store.absolute("holdings.parquet"))).createOrReplaceTempView(
        "holdings"
    )
    session.read.parquet(*(str(part.path) for part in inside)).createOrReplaceTempView("inside")
    session.read.parquet(*(str(part.path) for part in before)).createOrReplaceTempView("before")
    sums = session.sql(
        fen_days_sql("inside", "before", dialect=SPARK), args=period_parameters(JANUARY)
    )
    sums.createOrReplaceTempView("sums")
    decided = session.sql(decided_sql(SPARK), args=decide_parameters(JANUARY, terms))
    return {
        row["card_no"]: (int(row["average_fen"]), int(row["days"]), row["reasons"])
        for row in decided.select("card_no", "average_fen", "days", "reasons").collect()
    }


@pytest.mark.parametrize(
    "terms",
    [Terms(), Terms(day_count=DayCount.CARD_DAYS, min_group_size=4, threshold_fen=250_000)],
    ids=["calendar-days", "card-days-with-group-minimum"],
)
def test_spark_gives_every_card_the_same_average_and_decision_as_duckdb(
    spark: object, tmp_path: Path, terms: Terms
) -> None:
    store, inside, before = _world(tmp_path)
    expected = _in_duckdb(store, inside, before, terms)
    got = _in_spark(spark, store, inside, before, terms)
    assert len(expected) == CARDS
    assert got == expected
    # The data exercises every branch: qualifying and not, and more than one reason.
    reasons = {decision[2] for decision in expected.values()}
    assert "" in reasons
    assert "balance" in reasons
    assert any("," in reason for reason in reasons)
    if terms.min_group_size:
        assert any("group_too_small" in reason for reason in reasons)
