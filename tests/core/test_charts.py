"""The SVG chart helper: what it draws, what it escapes, and what it refuses."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from markupsafe import Markup

from gonghui.core.charts import PALETTE, WIDTH, Series, bar_chart, format_number, line_chart

YEARS = ["2025", "2026", "2027"]


def count(svg: str, css_class: str) -> int:
    return len(re.findall(rf'class="{css_class}"', svg))


def texts(svg: str) -> list[str]:
    return re.findall(r"<text[^>]*>([^<]*)</text>", svg)


def test_a_bar_chart_draws_one_bar_per_value_grouped_by_category() -> None:
    svg = bar_chart(
        "每年退休人数", YEARS, [Series("原规定", [3, 4, 5]), Series("新规定", [1, 2, 0])]
    )
    assert isinstance(svg, Markup)
    assert count(svg, "bar") == 6
    assert all(year in texts(svg) for year in YEARS)
    assert {"原规定", "新规定", "每年退休人数"} <= set(texts(svg))


def test_bars_of_each_series_take_their_palette_color() -> None:
    svg = bar_chart("标题", YEARS, [Series("甲", [1, 2, 3]), Series("乙", [1, 2, 3])])
    fills = re.findall(r'<rect class="bar"[^>]* fill="([^"]+)"', svg)
    assert fills == [PALETTE[0], PALETTE[1]] * 3
    chosen = bar_chart("标题", ["x"], [Series("甲", [1], color=3)])
    assert f'fill="{PALETTE[3]}"><title>' in chosen


def test_a_chart_is_an_accessible_image_that_scales_and_needs_no_script_or_style() -> None:
    svg = bar_chart("退休人数", YEARS, [Series("人数", [1, 2, 3])], unit="人")
    assert 'role="img"' in svg
    assert 'aria-label="退休人数"' in svg
    assert "<title>退休人数</title>" in svg
    assert f'viewBox="0 0 {WIDTH} ' in svg
    assert not re.search(r"<svg[^>]* (width|height)=", svg), "no fixed size: CSS sets the width"
    assert "style=" not in svg
    assert "<script" not in svg
    assert "人" in texts(svg)


def test_each_bar_and_point_says_its_value_in_a_tooltip() -> None:
    bars = bar_chart("标题", ["2025"], [Series("新规定", [1234])])
    assert "<title>2025 · 新规定：1,234</title>" in bars
    points = line_chart("标题", ["2040-01"], [Series("合计", [Decimal("3500.5")])])
    assert "<title>2040-01 · 合计：3,500.5</title>" in points


def test_the_y_axis_starts_at_zero_and_ends_on_a_round_value() -> None:
    svg = bar_chart("标题", YEARS, [Series("人数", [12, 37, 5])])
    assert [label for label in texts(svg) if label.isdigit()][:5] == ["0", "10", "20", "30", "40"]


def test_all_zero_values_still_get_an_axis() -> None:
    svg = bar_chart("标题", YEARS, [Series("人数", [0, 0, 0])])
    assert count(svg, "bar") == 3
    assert "5" in texts(svg)


def test_a_line_chart_draws_a_point_per_value_and_lifts_the_pen_over_gaps() -> None:
    labels = [f"2040-{month:02d}" for month in range(1, 7)]
    svg = line_chart(
        "月养老金",
        labels,
        [
            Series("满足", [1, 2, None, None, 5, 6]),
            Series("不满足", [None, None, 3, 4, None, None]),
        ],
    )
    assert count(svg, "point") == 6
    paths = re.findall(r'<path d="([^"]+)"', svg)
    assert len(paths) == 2
    assert paths[0].count("M") == 2, "one gap: two pieces"
    assert paths[1].count("M") == 1


def test_a_single_value_line_chart_is_one_centred_point() -> None:
    svg = line_chart("标题", ["2040-01"], [Series("合计", [100])])
    assert count(svg, "point") == 1


def test_long_axes_show_every_nth_label_and_keep_them_inside_the_picture() -> None:
    labels = [f"{2040 + i // 12}-{i % 12 + 1:02d}" for i in range(73)]
    svg = line_chart("标题", labels, [Series("合计", list(range(73)))])
    shown = [text for text in texts(svg) if text in labels]
    assert labels[0] in shown
    assert 3 <= len(shown) < 20
    xs = [float(x) for x in re.findall(r'<text x="([\d.]+)"', svg)]
    assert all(0 <= x <= WIDTH for x in xs)


def test_labels_titles_and_series_names_are_escaped() -> None:
    svg = bar_chart(
        "<script>alert(1)</script>", ['A&B "x"'], [Series("<b>甲</b>", [1])], unit="<i>"
    )
    assert "<script>" not in svg
    assert "<b>" not in svg
    assert "<i>" not in svg
    assert "&lt;script&gt;" in svg
    assert "A&amp;B" in svg
    assert 'aria-label="&lt;script&gt;alert(1)&lt;/script&gt;"' in svg


@pytest.mark.parametrize(
    ("categories", "series"),
    [([], []), ([], [Series("甲", [])]), (YEARS, []), (YEARS, [Series("甲", [None] * 3)])],
    ids=["nothing", "no-categories", "no-series", "only-gaps"],
)
def test_a_chart_without_data_says_so(categories: list[str], series: list[Series]) -> None:
    for chart in (bar_chart, line_chart):
        svg = chart("空图", categories, series)
        assert "暂无数据" in svg
        assert 'role="img"' in svg
        assert count(svg, "bar") + count(svg, "point") == 0


def test_none_is_a_missing_bar() -> None:
    svg = bar_chart("标题", YEARS, [Series("甲", [1, None, 3])])
    assert count(svg, "bar") == 2


@pytest.mark.parametrize("values", [[1, 2], [1, 2, 3, 4]], ids=["too-few", "too-many"])
def test_a_series_must_have_one_value_per_label(values: list[int]) -> None:
    with pytest.raises(ValueError, match="3 labels"):
        bar_chart("标题", YEARS, [Series("甲", values)])


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf")])
def test_negative_or_non_finite_values_are_refused(bad: float) -> None:
    with pytest.raises(ValueError, match="negative or non-finite"):
        line_chart("标题", YEARS, [Series("甲", [1, bad, 3])])


def test_a_legend_too_long_for_one_row_wraps() -> None:
    names = [f"第{i}个很长的系列名称" for i in range(5)]
    svg = bar_chart("标题", ["x"], [Series(name, [1]) for name in names])
    legend_rows = {
        y
        for y, text in re.findall(r'<text x="[\d.]+" y="([\d.]+)"[^>]*>([^<]*)</text>', svg)
        if text in names
    }
    assert len(legend_rows) > 1


@pytest.mark.parametrize(
    ("value", "text"), [(0, "0"), (1234, "1,234"), (1234.5, "1,234.5"), (0.25, "0.25")]
)
def test_numbers_read_with_thousands_separators(value: float, text: str) -> None:
    assert format_number(value) == text
