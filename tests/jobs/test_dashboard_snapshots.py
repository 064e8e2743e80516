"""The staff dashboards read snapshots the `dashboards.refresh` job keeps: for each dashboard and
each scope, the figures a live count gives; the page says when, in Beijing time; the figures
change when the job (or an event, or 立即更新) runs, not per view; no scope ever shows another's
positions or members."""

from __future__ import annotations

import io
from datetime import timedelta

from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from gonghui.core.auth import Actor, Role
from gonghui.core.clock import business_date
from gonghui.core.settings import Settings
from gonghui.core.snapshots import EVERYTHING, Board, FigureSnapshot
from gonghui.insurance import figures
from gonghui.insurance.store import BalanceStore
from gonghui.jobs.catalogue import JOBS, JobContext
from gonghui.members.models import Member
from gonghui.members.rules import EmploymentStatus
from gonghui.retirement import queries as retirement
from gonghui.stations import dashboard as stations
from gonghui.stations import service as station_service
from gonghui.stations.dashboard import dashboard
from gonghui.stations.evaluation import evaluate
from tests.conftest import NOW
from tests.insurance.scenario import cover_member_a, new_plan
from tests.stations.helpers import STAFF, position
from tests.stations.scene import build
from tests.world import World, csrf_of, login


def _refresh(db: Session, settings: Settings, now: object = NOW) -> str:
    return JOBS["dashboards.refresh"].run(JobContext(db, settings, now))  # type: ignore[arg-type]


def _kept(db: Session, board: str) -> dict[str, FigureSnapshot]:
    rows = db.scalars(select(FigureSnapshot).where(FigureSnapshot.board == board))
    return {row.scope: row for row in rows}


def test_the_job_runs_every_ten_minutes_beijing_time() -> None:
    job = JOBS["dashboards.refresh"]
    assert job.schedule is not None
    assert job.schedule.label == "每 10 分钟"
    assert job.schedule.matches(NOW + timedelta(minutes=20))
    assert not job.schedule.matches(NOW + timedelta(minutes=25))


def test_the_insurance_snapshot_equals_the_live_figures(
    db: Session,
    sessions: sessionmaker[Session],
    world: World,
    store: BalanceStore,
    settings: Settings,
) -> None:
    cover_member_a(db, world, store, new_plan(db, world, "SNAP", both_banks=False))
    db.commit()
    summary = _refresh(db, settings)
    assert summary.startswith("更新看板数据：补充医保 1 个范围")
    figures.BOARD.forget()  # read back what was stored, as another process would
    kept = figures.BOARD.view(db, sessions, EVERYTHING, NOW + timedelta(hours=1))
    assert kept.computed_at == NOW
    assert kept.figures == figures.Dashboard(
        figures.headline(db, STAFF), figures.trends(db, STAFF, business_date(NOW))
    )
    assert kept.figures.head.person_times == 1


def test_the_stations_snapshots_equal_the_live_figures_for_staff_and_a_manager(
    db: Session, sessions: sessionmaker[Session], world: World, settings: Settings
) -> None:
    scene = build(db, world)
    db.commit()
    stations.dashboard_snapshot(db, sessions, scene.manager, NOW)  # a manager looked once
    _refresh(db, settings)
    assert set(_kept(db, station_service.DASHBOARD_BOARD)) == {
        EVERYTHING,
        f"manager:{scene.manager.user_id}",
    }
    stations.BOARD.forget()  # read back what was stored, as another process would
    for actor in (STAFF, scene.manager):
        kept = stations.dashboard_snapshot(db, sessions, actor, NOW)
        assert kept.figures == dashboard(db, actor, NOW)
    mine = stations.dashboard_snapshot(db, sessions, scene.manager, NOW).figures
    assert mine.positions == 1
    assert {line.name for line in mine.top} == {scene.mine.name}


def test_the_impact_snapshots_equal_the_live_report_for_staff_and_an_officer(
    db: Session, sessions: sessionmaker[Session], world: World, settings: Settings
) -> None:
    officer = Actor(None, "officer", Role.UNIT_OFFICER, "干部", unit_id=world.unit_a)
    retirement.impact_snapshot(db, sessions, officer, NOW)
    retirement.impact_snapshot(db, sessions, STAFF, NOW, unit_code=world.unit_b_code)
    retirement.impact_snapshot(db, sessions, STAFF, NOW, industry="制造业")
    _refresh(db, settings, NOW + timedelta(minutes=10))
    kept = _kept(db, retirement.BOARD_NAME)
    assert set(kept) == {
        EVERYTHING,
        f"unit:{world.unit_a}||",
        f"all|{world.unit_b_code}|",
        "all||制造业",
    }
    assert {row.computed_at for row in kept.values()} == {NOW + timedelta(minutes=10)}
    retirement.BOARD.forget()  # read back what was stored, as another process would
    cases = [
        (STAFF, "", ""),
        (officer, "", ""),
        (STAFF, world.unit_b_code, ""),
        (STAFF, "", "制造业"),
    ]
    for actor, unit, industry in cases:
        snapshot = retirement.impact_snapshot(
            db, sessions, actor, NOW, unit_code=unit, industry=industry
        )
        live = retirement.impact_for(db, actor, NOW.date(), unit_code=unit, industry=industry)
        assert snapshot.figures == live
    own = retirement.impact_snapshot(db, sessions, officer, NOW).figures.report
    assert [group.key for group in own.by_unit] == [world.unit_a_code]


def test_an_industry_no_unit_has_is_counted_but_not_kept(
    db: Session, sessions: sessionmaker[Session]
) -> None:
    shown = retirement.impact_snapshot(db, sessions, STAFF, NOW, industry="随便写的行业")
    assert shown.figures.report.total.members == 0
    assert set(_kept(db, retirement.BOARD_NAME)) == set()


def test_the_figures_change_when_the_job_runs_not_per_view(
    client: TestClient, db: Session, world: World, settings: Settings
) -> None:
    scene = build(db, world)
    db.commit()
    _refresh(db, settings)
    login(client, world.users[Role.FEDERATION_STAFF])
    assert 'data-testid="positions">2<' in client.get("/stations/dashboard").text
    position(db, "DNEW", district="福山区")
    db.commit()
    page = client.get("/stations/dashboard").text
    assert 'data-testid="positions">2<' in page, "the snapshot, not a count per view"
    assert "福山区" not in page
    overview = _overview(client)
    assert overview["在册阵地（不含已关闭）"] == 2, "the export says what the page says"
    _refresh(db, settings, NOW + timedelta(minutes=10))
    assert 'data-testid="positions">3<' in client.get("/stations/dashboard").text
    assert _overview(client)["在册阵地（不含已关闭）"] == 3
    assert scene.mine.name in client.get("/stations/dashboard").text


def _overview(client: TestClient) -> dict[object, object]:
    book = load_workbook(io.BytesIO(client.get("/stations/dashboard.xlsx").content))
    return dict(row[:2] for row in list(book["概览"].iter_rows(values_only=True))[1:])


def test_the_page_says_when_the_figures_were_counted_in_beijing_time(
    client: TestClient, db: Session, world: World, settings: Settings
) -> None:
    # 01:00 UTC is 09:00 in Beijing; the job ran at 08:30 UTC the day before (16:30 there).
    _refresh(db, settings, NOW - timedelta(hours=16, minutes=30))
    login(client, world.users[Role.FEDERATION_STAFF])
    for path in ("/insurance/dashboard", "/stations/dashboard", "/retirement/impact"):
        page = client.get(path).text
        assert "数据更新于 2025-02-09 16:30（北京时间）" in page, path
        assert "立即更新" in page
    client.post(
        "/stations/dashboard/refresh", data={"csrf_token": csrf_of(client, "/stations/dashboard")}
    )
    assert "数据更新于 09:00（北京时间）" in client.get("/stations/dashboard").text
    assert "数据更新于 2025-02-09 16:30" in client.get("/insurance/dashboard").text


def test_update_now_counts_again_for_the_viewers_own_scope(
    client: TestClient, db: Session, world: World
) -> None:
    login(client, "unit_officer")
    assert "烟台乙建设有限公司" not in client.get("/retirement/impact").text
    token = csrf_of(client, "/retirement/impact")
    answer = client.post(
        "/retirement/impact/refresh",
        data={"csrf_token": token, "unit": world.unit_a_code},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/retirement/impact?unit={world.unit_a_code}"
    other = client.post(
        "/retirement/impact/refresh", data={"csrf_token": token, "unit": world.unit_b_code}
    )
    assert other.status_code == 404, "an officer cannot have another unit counted"
    kept = _kept(db, retirement.BOARD_NAME)
    officer_unit = db.scalars(
        select(FigureSnapshot.scope).where(FigureSnapshot.scope.like("unit:%"))
    ).all()
    assert all(world.unit_b_code not in scope for scope in kept)
    assert officer_unit
    assert all(scope.startswith(f"unit:{world.unit_a}|") for scope in officer_unit)


def test_a_manager_never_sees_figures_of_positions_not_theirs(
    client: TestClient,
    db: Session,
    sessions: sessionmaker[Session],
    world: World,
    settings: Settings,
) -> None:
    scene = build(db, world)
    # Both scopes kept. (A page's first view keeps its snapshot in a transaction of its own,
    # which the test client's rolled-back request session would undo here.)
    stations.dashboard_snapshot(db, sessions, STAFF, NOW)
    stations.dashboard_snapshot(db, sessions, scene.manager, NOW)
    db.commit()
    login(client, world.users[Role.FEDERATION_STAFF])
    assert scene.other.name in client.get("/stations/dashboard").text  # the federation's, kept
    client.cookies.clear()
    login(client, world.users[Role.STATION_MANAGER])
    page = client.get("/stations/dashboard").text
    assert scene.mine.name in page
    assert scene.other.name not in page
    assert 'data-testid="positions">1<' in page
    # The other position is given to the manager: the manager's kept figures are stale at once.
    station_service.assign_manager(db, scene.other, scene.manager.user_id, actor=STAFF, now=NOW)
    db.commit()
    assert 'data-testid="positions">2<' in client.get("/stations/dashboard").text
    # …and taken away again: gone from the manager's page without waiting for the job.
    station_service.assign_manager(db, scene.other, None, actor=STAFF, now=NOW)
    db.commit()
    page = client.get("/stations/dashboard").text
    assert scene.other.name not in page
    assert 'data-testid="positions">1<' in page
    _refresh(db, settings)
    assert scene.other.name not in client.get("/stations/dashboard").text


def test_an_evaluation_makes_the_stations_snapshots_stale(
    db: Session, sessions: sessionmaker[Session], world: World
) -> None:
    scene = build(db, world, evaluate=False)
    db.commit()
    before = stations.dashboard_snapshot(db, sessions, STAFF, NOW)
    assert before.figures.cards.last_run is None
    run = evaluate(db, "2025-01", actor=STAFF, now=NOW)
    db.commit()
    assert _kept(db, station_service.DASHBOARD_BOARD)[EVERYTHING].stale
    after = stations.dashboard_snapshot(db, sessions, STAFF, NOW + timedelta(minutes=1))
    assert after.figures.cards.last_run == stations.LastRun(run.run_id, run.period)
    assert after.figures == dashboard(db, STAFF, NOW)
    assert scene.mine.name in {line.name for line in after.figures.top}


def test_an_assessment_makes_the_insurance_snapshot_stale(
    db: Session, sessions: sessionmaker[Session], world: World, store: BalanceStore
) -> None:
    before = figures.dashboard(db, sessions, STAFF, NOW)
    assert before.figures.trend.pass_rates == []
    cover_member_a(db, world, store, new_plan(db, world, "STALE", both_banks=False))
    db.commit()
    assert _kept(db, figures.BOARD_NAME)[EVERYTHING].stale
    after = figures.dashboard(db, sessions, STAFF, NOW).figures
    assert [(period, passed) for period, _bank, _n, passed in after.trend.pass_rates] == [
        ("2025-01", 1)
    ]
    assert after.head.person_times == 1


def test_a_count_made_by_another_process_is_seen_at_once(
    db: Session, sessions: sessionmaker[Session], world: World
) -> None:
    build(db, world)
    db.commit()
    assert stations.dashboard_snapshot(db, sessions, STAFF, NOW).figures.positions == 2
    position(db, "DNEW2", district="福山区")
    db.commit()
    other_process = Board(station_service.DASHBOARD_BOARD, stations.Dashboard, stations.count)
    other_process.refresh(sessions, EVERYTHING, NOW)
    assert stations.dashboard_snapshot(db, sessions, STAFF, NOW).figures.positions == 3


def test_the_impact_page_and_its_export_show_the_same_snapshot(
    client: TestClient, db: Session, world: World, settings: Settings
) -> None:
    _refresh(db, settings)
    login(client, world.users[Role.FEDERATION_STAFF])
    assert _at_work(client) == 2
    db.execute(
        update(Member)
        .where(Member.id == world.member_b)
        .values(employment_status=EmploymentStatus.RETIRED)
    )
    db.commit()
    assert _at_work(client) == 2, "the kept report until the job runs"
    assert '<div class="n">2</div><div class="l">在岗会员' in client.get("/retirement/impact").text
    _refresh(db, settings, NOW + timedelta(minutes=10))
    assert _at_work(client) == 1
    assert '<div class="n">1</div><div class="l">在岗会员' in client.get("/retirement/impact").text


def _at_work(client: TestClient) -> object:
    book = load_workbook(io.BytesIO(client.get("/retirement/impact.xlsx").content))
    return dict(book["概况"].iter_rows(min_row=2, values_only=True))["在岗会员"]
