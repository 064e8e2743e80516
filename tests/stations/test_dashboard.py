"""The stations dashboard: counts, cards, usage and satisfaction trends, the last scoreboard,
the XLSX export; a station manager sees their own positions only."""

from __future__ import annotations

import io
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from gonghui.core.auth import Actor, Role
from gonghui.core.clock import FixedClock, business_date
from gonghui.core.settings import Settings
from gonghui.jobs.catalogue import JOBS, JobContext
from gonghui.stations.dashboard import TREND_MONTHS, dashboard, trend_months
from gonghui.stations.models import Score
from gonghui.stations.rules import Card, PositionStatus, PositionType
from gonghui.stations.scoring import Aspect
from tests.captions import captions_of_charts
from tests.conftest import NOW
from tests.stations.helpers import STAFF
from tests.stations.scene import Scene, build, ended_months
from tests.world import World, login


def _statuses(scene: Scene, actor: Actor) -> dict[PositionStatus, int]:
    held = Counter(p.status for p in scene.visible(actor))
    return {status: held[status] for status in PositionStatus}


def _scores(db: Session, scene: Scene, actor: Actor) -> list[Score]:
    assert scene.summary is not None
    rows = db.scalars(select(Score).where(Score.run_id == scene.summary.run_id)).all()
    return [row for row in rows if row.position_id in scene.ids(actor)]


@pytest.mark.parametrize(
    ("today", "first", "last"),
    [
        (date(2025, 2, 10), "2024-02", "2025-01"),
        (date(2025, 2, 28), "2024-02", "2025-01"),  # February's last day: not over yet
        (date(2025, 3, 1), "2024-03", "2025-02"),  # February has ended
        (date(2025, 1, 1), "2024-01", "2024-12"),  # across the year
    ],
)
def test_the_trend_runs_over_the_twelve_months_that_have_ended(
    today: date, first: str, last: str
) -> None:
    starts = trend_months(today)
    assert len(starts) == TREND_MONTHS + 1
    shown = [f"{d:%Y-%m}" for d in starts[:-1]]
    assert (shown[0], shown[-1]) == (first, last)
    assert starts[-1] == today.replace(day=1), "the months end where today's month begins"


# 12:00 on 15 February in Beijing; 00:00:30 on 1 March there (16:00:30 UTC on 28 February),
# and a minute before that midnight.
MID_FEBRUARY = datetime(2025, 2, 15, 4, 0, tzinfo=UTC)
MARCH_BEGUN = datetime(2025, 2, 28, 16, 0, 30, tzinfo=UTC)
FEBRUARY_LAST_MINUTE = datetime(2025, 2, 28, 15, 59, tzinfo=UTC)


def test_the_unfinished_month_is_not_shown_as_a_month_of_its_own(db: Session, world: World) -> None:
    scene = build(db, world)
    february = [t for _p, t in scene.scans if f"{business_date(t):%Y-%m}" == "2025-02"]
    assert february, "the scene has scans in February, Beijing time"
    for now in (MID_FEBRUARY, FEBRUARY_LAST_MINUTE):
        figures = dashboard(db, STAFF, now)
        assert [u.month for u in figures.usage] == ended_months(now)
        assert figures.usage[-1].month == "2025-01"
        assert "2025-02" not in {s.month for s in figures.satisfaction}
        # February's scans are in no month either: not folded into January.
        assert sum(u.scans for u in figures.usage) == len(scene.scans) - len(february) - 1


def test_just_after_beijing_midnight_on_the_first_the_month_that_ended_is_shown(
    db: Session, world: World
) -> None:
    scene = build(db, world)
    for actor in (STAFF, scene.manager):
        figures = dashboard(db, actor, MARCH_BEGUN)
        assert [(u.month, u.scans, u.camera, u.manual) for u in figures.usage] == (
            scene.expected_usage(actor, MARCH_BEGUN)
        )
        assert [(s.month, s.ratings, s.mean) for s in figures.satisfaction] == (
            scene.expected_means(actor, MARCH_BEGUN)
        )
    february = dashboard(db, scene.manager, MARCH_BEGUN).usage[-1]
    # The scan at 16:30 UTC on 31 January (00:30 on 1 February in Beijing) and the one on
    # 9 February.
    assert (february.month, february.scans) == ("2025-02", 2)
    rated = dashboard(db, scene.manager, MARCH_BEGUN).satisfaction[-1]
    assert (rated.month, rated.ratings) == ("2025-02", 1)


def test_staff_see_every_position_counted_by_type_district_status_and_honour(
    db: Session, world: World
) -> None:
    scene = build(db, world)
    figures = dashboard(db, STAFF, NOW)
    live = [p for p in scene.positions if p.status is not PositionStatus.CLOSED]
    assert figures.positions == len(live)
    assert dict(figures.by_status) == _statuses(scene, STAFF)
    assert [count for _kind, count in figures.by_type] == scene.expected_types(STAFF)
    # An integrated position counts once under each of its types.
    assert sum(count for _kind, count in figures.by_type) > len(live)
    assert {t.label: t.count for t in figures.by_district} == Counter(p.district for p in live)
    honours = {t.label: t.count for t in figures.honours}
    assert honours == {
        "最美驿站": sum(p.most_beautiful for p in live),
        "智能化/全周期": sum(p.smart for p in live),
        "24小时开放": sum(p.open_24h for p in live),
    }


def test_usage_keeps_scans_apart_from_camera_and_hand_counts_by_beijing_month(
    db: Session, world: World
) -> None:
    scene = build(db, world)
    for actor in (STAFF, scene.manager):
        usage = dashboard(db, actor, NOW).usage
        got = [(u.month, u.scans, u.camera, u.manual) for u in usage]
        assert got == scene.expected_usage(actor)
    january = dashboard(db, scene.manager, NOW).usage[-1]
    # The scan at 16:30 UTC on 31 January is 00:30 on 1 February in Beijing: not January's.
    assert (january.month, january.scans) == ("2025-01", 0)
    # The repeat scan within 30 minutes in December was counted once.
    december = next(u for u in dashboard(db, scene.manager, NOW).usage if u.month == "2024-12")
    assert december.scans == 2


def test_satisfaction_is_the_mean_of_the_ratings_of_each_month(db: Session, world: World) -> None:
    scene = build(db, world)
    for actor in (STAFF, scene.manager):
        lines = dashboard(db, actor, NOW).satisfaction
        assert [(s.month, s.ratings, s.mean) for s in lines] == scene.expected_means(actor)
    january = next(s for s in dashboard(db, STAFF, NOW).satisfaction if s.month == "2025-01")
    assert january.by_aspect[Aspect.EFFECTIVENESS] == 5
    assert january.by_aspect[Aspect.RULES] == 4


def test_cards_and_the_scoreboard_come_from_the_last_run(db: Session, world: World) -> None:
    scene = build(db, world)
    assert scene.summary is not None
    for actor in (STAFF, scene.manager):
        figures = dashboard(db, actor, NOW)
        scores = _scores(db, scene, actor)
        given = Counter(score.card for score in scores)
        cards = figures.cards
        assert cards.last_run is not None
        assert cards.last_run.id == scene.summary.run_id
        assert (cards.last_green, cards.last_yellow, cards.last_red) == (
            given[Card.GREEN],
            given[Card.YELLOW],
            given[Card.RED],
        )
        statuses = _statuses(scene, actor)
        assert (cards.yellow_now, cards.red_now) == (
            statuses[PositionStatus.YELLOW],
            statuses[PositionStatus.RED],
        )
        ranked = sorted(scores, key=lambda s: (-s.total, s.position_id))
        assert [line.position_id for line in figures.top] == [s.position_id for s in ranked]
        assert [line.total for line in figures.bottom] == sorted(s.total for s in scores)
    staff = dashboard(db, STAFF, NOW).cards
    assert (staff.last_green, staff.last_yellow, staff.last_red) == (
        scene.summary.green,
        scene.summary.yellow,
        scene.summary.red,
    )


def test_a_manager_sees_only_their_own_positions(db: Session, world: World) -> None:
    scene = build(db, world)
    figures = dashboard(db, scene.manager, NOW)
    assert figures.positions == 1
    assert [count for _kind, count in figures.by_type] == scene.expected_types(scene.manager)
    assert [t.label for t in figures.by_district] == [scene.mine.district]
    assert [line.name for line in figures.top] == [scene.mine.name]
    assert sum(dict(figures.by_status).values()) == 1


def test_without_a_run_or_data_the_dashboard_is_empty_not_broken(
    client: TestClient, db: Session, world: World
) -> None:
    figures = dashboard(db, STAFF, NOW)
    assert figures.cards.last_run is None
    assert figures.top == figures.bottom == []
    assert all(s.mean is None for s in figures.satisfaction)
    login(client, world.users[Role.FEDERATION_STAFF])
    page = client.get("/stations/dashboard")
    assert page.status_code == 200
    assert "尚未进行考核" in page.text
    assert client.get("/stations/dashboard.xlsx").status_code == 200


def test_the_page_draws_svg_charts_and_scopes_a_manager(
    client: TestClient, db: Session, world: World
) -> None:
    scene = build(db, world)
    db.commit()
    login(client, world.users[Role.STATION_MANAGER])
    page = client.get("/stations/dashboard")
    assert page.status_code == 200
    assert page.text.count('<svg xmlns="http://www.w3.org/2000/svg" class="chart"') == 4
    captions = captions_of_charts(page.text)
    assert len(captions) == 4
    assert captions[0].startswith("来源：阵地名册（不含已关闭阵地）")
    assert "截至 2025-" in captions[0]
    assert captions[2].startswith("来源：扫码签到记录")
    assert 'data-testid="positions">1<' in page.text
    assert scene.mine.name in page.text
    assert scene.other.name not in page.text
    assert "仅统计您负责的阵地" in page.text
    assert 'href="/stations/dashboard"' in page.text  # the nav entry
    assert "style=" not in page.text


def _sheet(book: object, name: str) -> list[tuple[object, ...]]:
    return list(book[name].iter_rows(values_only=True))  # type: ignore[index]


def test_the_export_opens_in_a_spreadsheet_with_the_figures(
    client: TestClient, db: Session, world: World
) -> None:
    scene = build(db, world)
    db.commit()
    for role, actor in ((Role.FEDERATION_STAFF, STAFF), (Role.STATION_MANAGER, scene.manager)):
        client.cookies.clear()
        login(client, world.users[role])
        answer = client.get("/stations/dashboard.xlsx")
        assert answer.status_code == 200
        assert "attachment" in answer.headers["content-disposition"]
        book = load_workbook(io.BytesIO(answer.content))
        assert book.sheetnames == ["概览", "区县", "到访趋势", "满意度趋势", "考核前列", "考核末位"]
        overview = dict(row[:2] for row in _sheet(book, "概览")[1:])
        live = [p for p in scene.visible(actor) if p.status is not PositionStatus.CLOSED]
        assert overview["在册阵地（不含已关闭）"] == len(live)
        assert overview[f"类型：{PositionType.STATION.label}"] == scene.expected_types(actor)[2]
        assert overview["最近考核黄牌"] == sum(
            s.card is Card.YELLOW for s in _scores(db, scene, actor)
        )
        usage = [tuple(row) for row in _sheet(book, "到访趋势")[1:]]
        assert usage == scene.expected_usage(actor)
        means = [(row[0], row[1], row[2]) for row in _sheet(book, "满意度趋势")[1:]]
        assert means == [
            (month, count, float(mean) if mean is not None else None)
            for month, count, mean in scene.expected_means(actor)
        ]
        board = _sheet(book, "考核前列")[1:]
        assert {row[0] for row in board} == {p.name for p in scene.visible(actor)} - {
            scene.closed.name
        }


def _usage_sheet(client: TestClient) -> list[tuple[object, ...]]:
    book = load_workbook(io.BytesIO(client.get("/stations/dashboard.xlsx").content))
    return [tuple(row) for row in _sheet(book, "到访趋势")[1:]]


def test_mid_month_the_page_api_and_export_end_at_the_last_full_month_and_say_so(
    app: FastAPI, client: TestClient, db: Session, world: World
) -> None:
    scene = build(db, world)
    db.commit()
    app.state.clock = FixedClock(MID_FEBRUARY)
    login(client, world.users[Role.STATION_MANAGER])
    captions = captions_of_charts(client.get("/stations/dashboard").text)
    shown = "2024-02 至 2025-01 各整月（北京时间；2025-02 尚未结束，不计入）"
    assert captions[2] == f"来源：扫码签到记录、客流摄像头与人工登记的人数 · {shown}"
    assert captions[3] == f"来源：到访者评价，五个方面的平均星级 · {shown}"
    assert all("本月至统计时" not in caption for caption in captions)
    api = client.get("/api/v1/stations/dashboard").json()
    assert [u["month"] for u in api["usage"]] == ended_months(MID_FEBRUARY)
    assert [s["month"] for s in api["satisfaction"]] == ended_months(MID_FEBRUARY)
    assert _usage_sheet(client) == scene.expected_usage(scene.manager, MID_FEBRUARY)
    assert "2025-02" not in {row[0] for row in _usage_sheet(client)}


def test_a_snapshot_counted_before_the_month_ended_is_counted_again_after(
    app: FastAPI, client: TestClient, db: Session, world: World, settings: Settings
) -> None:
    scene = build(db, world)
    db.commit()
    JOBS["dashboards.refresh"].run(JobContext(db, settings, FEBRUARY_LAST_MINUTE))
    login(client, world.users[Role.FEDERATION_STAFF])
    app.state.clock = FixedClock(FEBRUARY_LAST_MINUTE + timedelta(seconds=30))
    page = client.get("/stations/dashboard").text
    assert "数据更新于 23:59（北京时间）" in page, "the same month: the job's snapshot"
    assert "2025-02 尚未结束" in page
    app.state.clock = FixedClock(MARCH_BEGUN)
    page = client.get("/stations/dashboard").text
    assert "数据更新于 00:00（北京时间）" in page
    assert "2024-03 至 2025-02 各整月（北京时间；2025-03 尚未结束，不计入）" in page
    assert _usage_sheet(client) == scene.expected_usage(STAFF, MARCH_BEGUN)
