"""The stations dashboard page and its XLSX export; a station manager sees their own positions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup

from gonghui.core.auth import Actor, Permission
from gonghui.core.charts import Series, bar_chart, line_chart
from gonghui.core.clock import beijing, business_date
from gonghui.core.monthly import months_caption
from gonghui.core.snapshots import Drawings
from gonghui.core.tabular import Sheet, write_workbook
from gonghui.edge.deps import Csrf, Db, Now, SessionFactory, flash, permitted, render
from gonghui.edge.responses import download
from gonghui.stations.dashboard import (
    BoardLine,
    Dashboard,
    dashboard_snapshot,
    refresh_dashboard,
)
from gonghui.stations.scoring import Aspect

router = APIRouter(include_in_schema=False)
Viewer = Annotated[Actor, Depends(permitted(Permission.STATIONS_VIEW))]
# Past this many districts the chart keeps the largest; the table below it lists them all.
CHART_DISTRICTS = 12


_CHARTS: Drawings[list[tuple[Markup, str]]] = Drawings()
ROLL = "来源：阵地名册（不含已关闭阵地）"


def charts(figures: Dashboard, counted_at: datetime) -> list[tuple[Markup, str]]:
    """Each chart with its caption: where its figures come from and the period they cover."""
    months = [line.month[2:] for line in figures.usage]
    period = months_caption([line.month for line in figures.usage], counted_at)
    as_of = f"截至 {beijing(counted_at)}（北京时间）"
    districts = figures.by_district[:CHART_DISTRICTS]
    shown = (
        f"，阵地最多的{CHART_DISTRICTS}个区县" if len(figures.by_district) > len(districts) else ""
    )
    return [
        (
            bar_chart(
                "各类型阵地数",
                [kind.label for kind, _count in figures.by_type],
                [Series("阵地", [count for _kind, count in figures.by_type])],
                unit="个",
            ),
            f"{ROLL}，融合型阵地每种类型各计一次 · {as_of}",
        ),
        (
            bar_chart(
                "各区县阵地数",
                [one.label for one in districts],
                [Series("阵地", [one.count for one in districts], color=1)],
                unit="个",
            ),
            f"{ROLL}{shown} · {as_of}",
        ),
        (
            line_chart(
                "每月到访人次",
                months,
                [
                    Series("扫码签到", [line.scans for line in figures.usage]),
                    Series("客流摄像头", [line.camera for line in figures.usage]),
                    Series("人工登记", [line.manual for line in figures.usage]),
                ],
                unit="人次",
            ),
            f"来源：扫码签到记录、客流摄像头与人工登记的人数 · {period}",
        ),
        (
            line_chart(
                "每月满意度（平均星级）",
                months,
                [Series("平均星级", [line.mean for line in figures.satisfaction], color=3)],
                unit="星（1–5）",
            ),
            f"来源：到访者评价，五个方面的平均星级 · {period}",
        ),
    ]


@router.get("/stations/dashboard")
def dashboard_page(
    request: Request, db: Db, factory: SessionFactory, now: Now, actor: Viewer
) -> Response:
    snapshot = dashboard_snapshot(db, factory, actor, now)
    context = {
        "figures": snapshot.figures,
        "charts": _CHARTS.of(snapshot, lambda: charts(snapshot.figures, snapshot.computed_at)),
        "scoped": not actor.is_federation_wide,
        "snapshot": snapshot,
        "now": now,
    }
    return render(request, "stations/dashboard.html", context, actor=actor)


@router.post("/stations/dashboard/refresh", dependencies=[Csrf])
def dashboard_refresh(request: Request, db: Db, now: Now, actor: Viewer) -> Response:
    refresh_dashboard(db, actor, now)
    flash(request, "数据已更新")
    return RedirectResponse("/stations/dashboard", status_code=303)


def _number(value: Decimal | None) -> float | None:
    # A mean star rating, not money: a float cell is what a spreadsheet sums and charts.
    return float(value) if value is not None else None


def _board_rows(lines: Sequence[BoardLine]) -> list[list[object]]:
    return [
        [
            line.name,
            line.district,
            *(line.aspects[a] for a in Aspect),
            line.total,
            line.card.label,
        ]
        for line in lines
    ]


def sheets(figures: Dashboard) -> list[Sheet]:
    cards = figures.cards
    run = cards.last_run
    overview: list[list[object]] = [
        ["在册阵地（不含已关闭）", figures.positions],
        *([status.label, count] for status, count in figures.by_status),
        *([f"类型：{kind.label}", count] for kind, count in figures.by_type),
        *([one.label, one.count] for one in figures.honours),
        ["当前黄牌", cards.yellow_now],
        ["当前红牌", cards.red_now],
        ["最近一次考核", run.period_label if run else "—"],
        ["最近考核达标", cards.last_green],
        ["最近考核黄牌", cards.last_yellow],
        ["最近考核红牌", cards.last_red],
    ]
    board_headers = ["阵地", "区县", *(a.label for a in Aspect), "总分", "结果"]
    return [
        Sheet("概览", ["项目", "数值"], overview),
        Sheet("区县", ["区县", "阵地数"], [[one.label, one.count] for one in figures.by_district]),
        Sheet(
            "到访趋势",
            ["月份", "扫码签到", "客流摄像头", "人工登记"],
            [[u.month, u.scans, u.camera, u.manual] for u in figures.usage],
        ),
        Sheet(
            "满意度趋势",
            ["月份", "评价数", "平均星级", *(a.label for a in Aspect)],
            [
                [
                    line.month,
                    line.ratings,
                    _number(line.mean),
                    *(_number(line.by_aspect[a]) for a in Aspect),
                ]
                for line in figures.satisfaction
            ],
        ),
        Sheet("考核前列", board_headers, _board_rows(figures.top)),
        Sheet("考核末位", board_headers, _board_rows(figures.bottom)),
    ]


@router.get("/stations/dashboard.xlsx")
def dashboard_export(db: Db, factory: SessionFactory, now: Now, actor: Viewer) -> Response:
    # The page's snapshot, so that the file says what the page says.
    figures = dashboard_snapshot(db, factory, actor, now).figures
    return download(
        write_workbook(sheets(figures)), f"服务阵地概览{business_date(now):%Y%m%d}.xlsx"
    )
