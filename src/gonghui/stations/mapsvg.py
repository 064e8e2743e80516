"""A map drawn from the positions' own coordinates, as server-side SVG: no tile server, so it
works on an intranet and under the Content-Security-Policy. An equirectangular projection
scaled by the cosine of the middle latitude is true enough at a city's scale."""

from __future__ import annotations

import math
from collections.abc import Sequence

from markupsafe import Markup, escape

from gonghui.stations.finder import Found, Place

WIDTH, HEIGHT, MARGIN = 400, 300, 24


def _n(value: float) -> str:
    return f"{value:.1f}"


def map_svg(found: Sequence[Place], here: tuple[float, float] | None) -> Markup:
    """The places numbered as listed, and the member's own point (`here`) when it is known."""
    points = [*([here] if here else []), *((one.latitude, one.longitude) for one in found)]
    if not points:
        points = [(0.0, 0.0)]
    lats, lons = [p[0] for p in points], [p[1] for p in points]
    shrink = math.cos(math.radians(sum(lats) / len(lats)))
    span_x = max((max(lons) - min(lons)) * shrink, 1e-4)
    span_y = max(max(lats) - min(lats), 1e-4)
    scale = min((WIDTH - 2 * MARGIN) / span_x, (HEIGHT - 2 * MARGIN) / span_y)

    def xy(lat: float, lon: float) -> tuple[float, float]:
        return (
            MARGIN + (lon - min(lons)) * shrink * scale,
            HEIGHT - MARGIN - (lat - min(lats)) * scale,
        )

    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" class="chart map" viewBox="0 0 {WIDTH} '
            f'{HEIGHT}" role="group" aria-label="附近阵地地图"><title>附近阵地地图</title>'
            f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#f6f7f9"/>'
        )
    ]
    for rank, one in enumerate(found, start=1):
        x, y = xy(one.latitude, one.longitude)
        far = f"（{one.distance_km:.1f} 公里）" if isinstance(one, Found) else ""
        tip = escape(f"{rank}. {one.name}{far}")
        parts.append(
            f'<a href="#p{one.position_id}"><circle class="point" cx="{_n(x)}" cy="{_n(y)}" '
            f'r="8" fill="#c8161d"><title>{tip}</title></circle>'
            f'<text x="{_n(x)}" y="{_n(y + 4)}" text-anchor="middle" fill="#fff" '
            f'font-size="10">{rank}</text></a>'
        )
    if here:
        x, y = xy(*here)
        parts.append(
            f'<circle cx="{_n(x)}" cy="{_n(y)}" r="6" fill="#2e6fba" stroke="#fff" '
            'stroke-width="2"><title>我的位置</title></circle>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every name is escaped above
