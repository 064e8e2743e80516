"""Stations at a province's scale: 200,000 positions.

- The finder's k-nearest query (grid cells, exact haversine ranking) against a brute-force
  scan of every open position, over the same data in the same run. Target: at least 50x.
- The evaluation of every position over a year of visits, ratings and activities, in its own
  process so that its peak memory is its own. Target: under 60 s.

Set GONGHUI_BENCH_POSITIONS (and GONGHUI_BENCH_VISITS_PER_POSITION) for a smaller run.
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from benchmarks.isolated import report_step, run_step
from gonghui.core.auth import Actor, Role
from gonghui.core.db import copy_rows, make_engine
from gonghui.core.migrate import upgrade
from gonghui.core.settings import Settings
from gonghui.stations import evaluation, finder
from gonghui.stations.geo import cell_of

POSITIONS = int(os.environ.get("GONGHUI_BENCH_POSITIONS", "200000"))
VISITS_EACH = int(os.environ.get("GONGHUI_BENCH_VISITS_PER_POSITION", "25"))
YEAR = 2024
NOW = datetime(2025, 1, 10, 2, 0, tzinfo=UTC)
OPERATOR = Actor(user_id=None, username="bench", role=Role.ADMIN, display_name="bench")
QUERIES = 200
SCANS = 10


def _settings(folder: Path) -> Settings:
    return Settings(database_url=f"sqlite:///{folder / 'bench.db'}", storage_dir=folder / "s")


def _cities(rng: random.Random) -> list[tuple[float, float]]:
    # 300 "cities" across the mainland's box; positions cluster around them as they do.
    return [(rng.uniform(22, 46), rng.uniform(100, 125)) for _ in range(300)]


def _position_rows(rng: random.Random) -> list[tuple[object, ...]]:
    cities, rows = _cities(rng), []
    for i in range(POSITIONS):
        lat, lon = rng.choice(cities)
        lat, lon = lat + rng.gauss(0, 0.15), lon + rng.gauss(0, 0.15)
        row, col = cell_of(lat, lon)
        kinds, amenities = rng.choice((4, 6, 12, 17, 31)), rng.randrange(2048)
        rows.append(
            (
                *(f"B{i:07d}", f"阵地{i}", kinds, amenities, "地址", "区", lat, lon, row, col),
                *("08:00-20:00", False, "总工会", "负责人", "13800000000", 60, 10, 3, False),
                *(False, "active", date(2023, 1, 1), NOW, NOW),
            )
        )
    return rows


POSITION_COLUMNS = [
    *("code", "name", "type_mask", "amenity_mask", "address", "district", "latitude"),
    *("longitude", "cell_row", "cell_col", "hours", "open_24h", "operator_org"),
    *("responsible_person", "responsible_phone", "area_m2", "seats", "stars"),
    *("most_beautiful", "smart", "status", "opened_on", "created_at", "updated_at"),
]


def setup(folder: Path) -> None:
    settings = _settings(folder)
    upgrade(settings)
    engine = make_engine(settings.database_url)
    rng = random.Random(2025)
    start = datetime(YEAR, 1, 1, tzinfo=UTC)
    with Session(engine) as db, db.begin():
        copy_rows(db, "station_positions", POSITION_COLUMNS, _position_rows(rng))
        for first in range(1, POSITIONS + 1, 20_000):
            visits, ratings, activities = [], [], []
            for pid in range(first, min(first + 20_000, POSITIONS + 1)):
                for n in range(rng.randint(0, 2 * VISITS_EACH)):
                    at = start + timedelta(minutes=rng.randrange(366 * 24 * 60))
                    visits.append((pid, "visitor", f"{pid}-{n}", at, at))
                    if n % 8 == 0:
                        ratings.append((pid, *(rng.randint(1, 5) for _ in range(5)), "online", at))
                activities.extend(
                    (pid, date(YEAR, month, 10), "读书分享", "读书会", 20, NOW)
                    for month in range(1, 13, rng.randint(1, 4))
                )
            copy_rows(
                db,
                "station_visits",
                [*("position_id", "kind", "person_key"), "visited_at", "token_issued_at"],
                visits,
            )
            copy_rows(
                db,
                "station_ratings",
                [
                    "position_id",
                    "rules",
                    "service",
                    "environment",
                    "facilities",
                    "effectiveness",
                    "source",
                    "rated_at",
                ],
                ratings,
            )
            copy_rows(
                db,
                "station_activities",
                ["position_id", "held_on", "kind", "title", "attendance", "created_at"],
                activities,
            )
    engine.dispose()


def step_finder(folder: Path) -> dict[str, object]:
    engine = make_engine(_settings(folder).database_url)
    rng = random.Random(7)
    cities = _cities(random.Random(2025))
    points = [
        (lat + rng.gauss(0, 0.1), lon + rng.gauss(0, 0.1))
        for lat, lon in rng.choices(cities, k=QUERIES)
    ]
    with Session(engine) as db:
        started = time.perf_counter()
        found = [finder.nearest(db, lat, lon, 10) for lat, lon in points]
        indexed = (time.perf_counter() - started) / QUERIES
        started = time.perf_counter()
        scanned = [finder.scan(db, lat, lon, 10) for lat, lon in points[:SCANS]]
        brute = (time.perf_counter() - started) / SCANS
    engine.dispose()
    agree = all(a == b for a, b in zip(found[:SCANS], scanned, strict=True))
    return {
        "indexed_ms": indexed * 1000,
        "scan_ms": brute * 1000,
        "ratio": brute / indexed,
        "agree": agree,
    }


def step_evaluate(folder: Path) -> dict[str, object]:
    engine = make_engine(_settings(folder).database_url)
    with Session(engine) as db, db.begin():
        summary = evaluation.evaluate(db, str(YEAR), actor=OPERATOR, now=NOW)
    engine.dispose()
    return {"evaluated": summary.evaluated, "green": summary.green, "yellow": summary.yellow}


STEPS = {"finder": step_finder, "evaluate": step_evaluate}


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="gonghui-bench-stations-"))
    try:
        started = time.perf_counter()
        setup(folder)
        took = time.perf_counter() - started
        print(f"setup: {POSITIONS:,} positions, ~{VISITS_EACH} visits each, {took:.1f} s")
        results = {name: run_step(__name__, name, folder) for name in STEPS}
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    found: dict[str, float] = results["finder"]["detail"]  # type: ignore[assignment]
    print(
        f"finder: {found['indexed_ms']:.2f} ms per k=10 query, scan {found['scan_ms']:.1f} ms; "
        f"{found['ratio']:.0f}x the scan (target >= 50x); same answers: {found['agree']}"
    )
    evaluated = results["evaluate"]
    print(
        f"evaluation of {POSITIONS:,} positions over {YEAR}: {evaluated['seconds']:.1f} s "
        f"(target < 60 s), peak {evaluated['peak_mb']:.0f} MB; {evaluated['detail']}"
    )


if __name__ == "__main__":
    report_step(STEPS)
