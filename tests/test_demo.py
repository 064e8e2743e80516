"""The demo federation follows the rules it demonstrates, and its clock's "now" comes after
every instant it writes (issue 13.9). Loaded once, small, on a fresh SQLite file, on a date
late in a year (the demo once wrote a paid claim dated the month after, and evaluated a month
before its own year of visits began)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from gonghui.core.clock import business_date
from gonghui.core.db import Base, UTCDateTime, make_engine
from gonghui.core.migrate import upgrade
from gonghui.core.settings import Environment, Settings
from gonghui.demo import load_demo
from gonghui.insurance.claims_rules import DECISION_DAYS, ClaimStatus
from gonghui.insurance.models import Claim
from gonghui.members.models import PasswordHistory, User
from gonghui.stations.models import EvaluationRun, Position
from gonghui.stations.rules import PositionType
from gonghui.wallet.models import Region, RegionEvent, Transfer

DEMO_NOW = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)  # 10:00 in Beijing
TODAY = business_date(DEMO_NOW)
# Instants that are about the future by design: a pending transfer's return time. Regions come
# from the migrations, written when the database was built, not by the demo.
FUTURE_BY_DESIGN = {
    (Transfer, "release_at"),
    # A password's age is counted in machine time (like sessions), whatever the demo's clock.
    (User, "password_changed_at"),
    (PasswordHistory, "set_at"),
}
NOT_THE_DEMOS = {Region, RegionEvent}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    folder: Path = tmp_path_factory.mktemp("demo")
    settings = Settings(
        environment=Environment.TEST,
        database_url=f"sqlite:///{folder / 'demo.db'}",
        storage_dir=folder / "storage",
    )
    upgrade(settings)
    engine = make_engine(settings.database_url)
    with Session(engine) as session, session.begin():
        load_demo(session, settings, now=DEMO_NOW, members=300, units=20)
    yield engine
    engine.dispose()


def test_no_instant_the_demo_writes_is_after_its_now(demo: Engine) -> None:
    late = []
    with Session(demo) as session:
        for mapper in Base.registry.mappers:
            model = mapper.class_
            if model in NOT_THE_DEMOS:
                continue
            for column in mapper.columns:
                if (
                    not isinstance(column.type, UTCDateTime)
                    or (model, column.key) in FUTURE_BY_DESIGN
                ):
                    continue
                latest = session.scalar(select(func.max(column)))
                if latest is not None and latest > DEMO_NOW:
                    late.append(f"{model.__name__}.{column.key} = {latest}")
    assert late == []


def test_no_claim_is_dated_after_today(demo: Engine) -> None:
    with Session(demo) as session:
        assert session.scalar(select(func.max(Claim.discharged_on))) < TODAY
        paid = session.scalar(select(func.max(Claim.paid_at)).where(Claim.status == "paid"))
    assert paid is not None
    assert paid <= DEMO_NOW


def test_the_adjusters_queue_is_mostly_within_its_statutory_clock(demo: Engine) -> None:
    """Every claim in the queue was 97–293 days overdue."""
    with Session(demo) as session:
        complete = session.scalars(
            select(Claim.complete_at).where(Claim.status == ClaimStatus.UNDER_REVIEW)
        ).all()
    assert complete
    days_left = [
        (business_date(at) + timedelta(days=DECISION_DAYS) - TODAY).days
        for at in complete
        if at is not None
    ]
    in_time = [left for left in days_left if left >= 0]
    assert len(in_time) >= len(days_left) * 3 // 4
    assert min(days_left) >= -7  # a few a little late, to show the flag


def test_position_names_match_their_types(demo: Engine) -> None:
    """Positions named 母婴爱心屋 listed other types; a 融合型阵地 had one type."""
    wrong = []
    with Session(demo) as session:
        for name, mask in session.execute(select(Position.name, Position.type_mask)):
            kinds = [kind for kind in PositionType if mask & kind]
            if len(kinds) == 1 and (kinds[0].label not in name or "融合型" in name):
                wrong.append((name, [kind.label for kind in kinds]))
            if len(kinds) > 1 and "融合型" not in name:
                wrong.append((name, [kind.label for kind in kinds]))
    assert wrong == []


def test_the_station_evaluations_judge_months_the_demo_has_data_for(demo: Engine) -> None:
    """The evaluation of 2025-11 had 0 passed and 300 yellow cards: its year of visits began in
    December."""
    with Session(demo) as session:
        runs = session.scalars(select(EvaluationRun).order_by(EvaluationRun.period_start)).all()
    assert len(runs) == 2  # the demo's two evaluations
    for run in runs:
        assert run.period_end < business_date(run.run_at) <= TODAY
        assert run.green > run.evaluated // 2, run.period_label
    # The second turns some of the first's yellow cards red, as the README says.
    assert runs[0].yellow > 0
    assert runs[1].red > 0
    assert date.fromisoformat(f"{runs[1].period_label}-01") < TODAY
