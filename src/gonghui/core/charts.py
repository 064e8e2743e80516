"""Charts as server-side SVG: a grouped bar chart and a line chart, with no JavaScript.

    bar_chart("退休人数", ["2025", "2026"], [Series("原规定", [3, 4]), Series("新规定", [1, 2])])
    line_chart("月养老金", ["2040-01", "2040-02"], [Series("合计", [3500, None])], unit="元")

Both return ``markupsafe.Markup`` for a Jinja template. The rules every chart follows:

- values are non-negative numbers (int, Decimal or float); ``None`` is a missing value (no bar,
  a gap in the line); the y axis starts at zero, so bar heights compare honestly;
- every label is escaped; the chart carries ``role="img"``, an ``aria-label`` and a ``<title>``,
  and each bar and point a ``<title>`` with its value (a tooltip, and text for screen readers);
- colors come from ``PALETTE`` in series order (``Series.color`` picks another entry);
- the SVG has a ``viewBox`` and no fixed size; ``svg.chart`` in app.css makes it as wide as its
  container, so it fits a phone. Styling is by presentation attributes (``fill=``), never
  ``style=``, which the Content-Security-Policy (``style-src 'self'``) would block;
- bars carry ``class="bar"`` and points ``class="point"``, so tests can count them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from markupsafe import Markup, escape

Number = int | float | Decimal
NumberFormat = Callable[[float], str]

# Chosen to stay apart for the common kinds of color blindness and to print in grey.
PALETTE: Final = ("#c8161d", "#2e6fba", "#e8a317", "#127a3f", "#7a4fb5", "#667085")

WIDTH: Final = 400
HEIGHT: Final = 260
# In the viewBox's units; app.css keeps a chart between about 0.9× and 1.3× of them on screen,
# so labels read at 11–16 px and the title stays below the page's h2.
_FONT: Final = 12
_TITLE_FONT: Final = 13
_INK: Final = "#1f2328"
_MUTED: Final = "#667085"
_GRID: Final = "#e4e7ec"
_AXIS: Final = "#98a2b3"
_RIGHT_MARGIN: Final = 10
_BOTTOM_MARGIN: Final = 26
_TICKS: Final = 5
_LEGEND_LEFT: Final = 8.0
_CJK_START: Final = 0x2E80  # CJK radicals onwards: square glyphs
_GROUP_FILL: Final = 0.8  # share of a category's band the bars take; the rest separates groups


@dataclass(frozen=True)
class Series:
    """One named row of values, one per category or x label; ``color`` indexes ``PALETTE``."""

    name: str
    values: Sequence[Number | None]
    color: int | None = None


def format_number(value: float) -> str:
    """Thousands separators, and at most two decimals, trailing zeros dropped: 1,234.5."""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def bar_chart(
    title: str,
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    unit: str = "",
    value_format: NumberFormat = format_number,
) -> Markup:
    """Grouped bars: for each category, one bar per series, side by side."""
    values = _checked(categories, series)
    if values is None:
        return _empty(title)
    frame = _Frame.build(title, series, values, unit, value_format)
    band = frame.plot_width / len(categories)
    bar_width = band * _GROUP_FILL / len(series)
    parts = frame.axes(value_format)
    for position, category in enumerate(categories):
        group_left = frame.left + band * position + band * (1 - _GROUP_FILL) / 2
        for index, (one, row) in enumerate(zip(series, values, strict=True)):
            value = row[position]
            if value is None:
                continue
            top = frame.y(value)
            tip = f"{category} · {one.name}：{value_format(value)}"
            parts.append(
                f'<rect class="bar" x="{_n(group_left + bar_width * index)}" y="{_n(top)}" '
                f'width="{_n(bar_width)}" height="{_n(frame.bottom - top)}" '
                f'fill="{_color(one, index)}"><title>{escape(tip)}</title></rect>'
            )
    parts.extend(
        frame.x_labels(categories, [frame.left + band * (i + 0.5) for i in range(len(categories))])
    )
    return frame.close(parts)


def line_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    unit: str = "",
    value_format: NumberFormat = format_number,
) -> Markup:
    """Lines over evenly spaced x labels, a dot on every value, a gap where a value is None."""
    values = _checked(labels, series)
    if values is None:
        return _empty(title)
    frame = _Frame.build(title, series, values, unit, value_format)
    step = frame.plot_width / (len(labels) - 1) if len(labels) > 1 else 0.0
    xs = [
        frame.left + step * i if step else frame.left + frame.plot_width / 2
        for i in range(len(labels))
    ]
    parts = frame.axes(value_format)
    for index, (one, row) in enumerate(zip(series, values, strict=True)):
        color = _color(one, index)
        path = _path(
            [(x, frame.y(v)) if v is not None else None for x, v in zip(xs, row, strict=True)]
        )
        if path:
            parts.append(f'<path d="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        for x, label, value in zip(xs, labels, row, strict=True):
            if value is None:
                continue
            tip = f"{label} · {one.name}：{value_format(value)}"
            parts.append(
                f'<circle class="point" cx="{_n(x)}" cy="{_n(frame.y(value))}" r="2.5" '
                f'fill="{color}"><title>{escape(tip)}</title></circle>'
            )
    parts.extend(frame.x_labels(labels, xs))
    return frame.close(parts)


# --- Layout ----------


@dataclass(frozen=True)
class _Frame:
    title: str
    series: Sequence[Series]
    unit: str
    top: float
    left: float
    bottom: float
    ticks: list[float]
    legend: list[str]

    @classmethod
    def build(
        cls,
        title: str,
        series: Sequence[Series],
        values: list[list[float | None]],
        unit: str,
        value_format: NumberFormat,
    ) -> _Frame:
        ticks = _nice_ticks(max((v for row in values for v in row if v is not None), default=0.0))
        legend, legend_bottom = _legend(series)
        # Room above the plot for the unit, and to the left for the widest tick label.
        top = legend_bottom + (_FONT + 14 if unit else 8)
        left = max(_text_width(value_format(tick), _FONT) for tick in ticks) + 8
        return cls(title, series, unit, top, left, HEIGHT - _BOTTOM_MARGIN, ticks, legend)

    @property
    def plot_width(self) -> float:
        return WIDTH - _RIGHT_MARGIN - self.left

    def y(self, value: float) -> float:
        return self.bottom - (self.bottom - self.top) * value / self.ticks[-1]

    def axes(self, value_format: NumberFormat) -> list[str]:
        parts = [_opening(self.title, self.series), *self.legend]
        if self.unit:
            parts.append(_text(_LEGEND_LEFT, self.top - 9, self.unit, fill=_MUTED))
        right = WIDTH - _RIGHT_MARGIN
        for tick in self.ticks:
            y = _n(self.y(tick))
            stroke = _AXIS if tick == 0 else _GRID
            parts.append(
                f'<line x1="{_n(self.left)}" y1="{y}" x2="{_n(right)}" y2="{y}" stroke="{stroke}"/>'
            )
            parts.append(
                _text(self.left - 4, self.y(tick) + _FONT / 3, value_format(tick), anchor="end")
            )
        parts.append(
            f'<line x1="{_n(self.left)}" y1="{_n(self.top)}" x2="{_n(self.left)}" '
            f'y2="{_n(self.bottom)}" stroke="{_AXIS}"/>'
        )
        return parts

    def x_labels(self, labels: Sequence[str], xs: Sequence[float]) -> list[str]:
        # Every n-th label only, so that none overlaps its neighbour on a narrow screen.
        slot = self.plot_width / max(len(labels), 1)
        widest = max(_text_width(label, _FONT) for label in labels) + 6
        every = max(1, math.ceil(widest / slot))
        shown = []
        for index, (label, x) in enumerate(zip(labels, xs, strict=True)):
            if index % every:
                continue
            # Kept inside the picture: the first and last labels would otherwise be cut off.
            half = _text_width(label, _FONT) / 2 + 2
            middle = min(max(x, half), WIDTH - half)
            shown.append(_text(middle, self.bottom + _FONT + 5, label, anchor="middle"))
        return shown

    def close(self, parts: list[str]) -> Markup:
        parts.append("</svg>")
        return Markup("".join(parts))  # noqa: S704 - every text part is escaped where it is made


def _legend(series: Sequence[Series]) -> tuple[list[str], float]:
    """Swatches and names under the title, wrapping onto further rows as the width runs out."""
    parts: list[str] = []
    x, y = _LEGEND_LEFT, _TITLE_FONT + 22.0
    for index, one in enumerate(series):
        width = 14 + _text_width(one.name, _FONT) + 12
        if x + width > WIDTH - _RIGHT_MARGIN and x > _LEGEND_LEFT:
            x, y = _LEGEND_LEFT, y + _FONT + 6
        parts.append(
            f'<rect x="{_n(x)}" y="{_n(y - 9)}" width="10" height="10" '
            f'fill="{_color(one, index)}"/>'
        )
        parts.append(_text(x + 14, y, one.name))
        x += width
    return parts, y + 4


def _nice_ticks(highest: float) -> list[float]:
    """Zero and evenly spaced round values (1, 2 or 5 × 10ⁿ) up to at least ``highest``."""
    if highest <= 0:
        return [float(i) for i in range(_TICKS + 1)]
    raw = highest / _TICKS
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    count = math.ceil(highest / step - 1e-9)
    return [step * i for i in range(count + 1)]


# --- Checks and small pieces ----------


def _checked(labels: Sequence[str], series: Sequence[Series]) -> list[list[float | None]] | None:
    """The values as floats (coordinates only: nothing computed here is money), or None when
    there is nothing to draw."""
    rows: list[list[float | None]] = []
    for one in series:
        if len(one.values) != len(labels):
            msg = f"series {one.name!r} has {len(one.values)} values for {len(labels)} labels"
            raise ValueError(msg)
        row = [None if value is None else float(value) for value in one.values]
        if any(v is not None and (not math.isfinite(v) or v < 0) for v in row):
            msg = f"series {one.name!r} has a negative or non-finite value"
            raise ValueError(msg)
        rows.append(row)
    if not labels or all(v is None for row in rows for v in row):
        return None
    return rows


def _empty(title: str) -> Markup:
    parts = [
        _opening(title, []),
        _text(WIDTH / 2, HEIGHT / 2, "暂无数据", anchor="middle", fill=_MUTED),
        "</svg>",
    ]
    return Markup("".join(parts))  # noqa: S704 - the title and the note are escaped


def _opening(title: str, series: Sequence[Series]) -> str:
    label = escape(title)
    names = escape("、".join(one.name for one in series))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-label="{label}" font-size="{_FONT}">'
        f"<title>{label}</title>"
        + (f"<desc>{names}</desc>" if series else "")
        + _text(8, _TITLE_FONT + 4, title, size=_TITLE_FONT, weight="bold")
    )


def _text(
    x: float,
    y: float,
    content: str,
    *,
    anchor: str = "start",
    fill: str = _INK,
    size: int | None = None,
    weight: str | None = None,
) -> str:
    extra = (f' font-size="{size}"' if size else "") + (
        f' font-weight="{weight}"' if weight else ""
    )
    return (
        f'<text x="{_n(x)}" y="{_n(y)}" text-anchor="{anchor}" fill="{fill}"{extra}>'
        f"{escape(content)}</text>"
    )


def _path(points: Sequence[tuple[float, float] | None]) -> str:
    """An SVG path through the points, lifting the pen over each gap."""
    commands: list[str] = []
    pen_down = False
    for point in points:
        if point is None:
            pen_down = False
            continue
        commands.append(f"{'L' if pen_down else 'M'}{_n(point[0])} {_n(point[1])}")
        pen_down = True
    return " ".join(commands)


def _color(series: Series, position: int) -> str:
    return PALETTE[(series.color if series.color is not None else position) % len(PALETTE)]


def _text_width(text: str, size: float) -> float:
    """A rough width: Chinese characters are square, Latin ones about half as wide."""
    return sum(size if ord(char) >= _CJK_START else size * 0.6 for char in text)


def _n(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")
