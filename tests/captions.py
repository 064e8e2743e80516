"""Every chart on a page is a figure whose caption names its source and period (issue 14)."""

from __future__ import annotations

import re

_FIGURE = re.compile(r'<figure class="chart-box"[^>]*>(.*?)</figure>', re.DOTALL)
_CHART = re.compile(r'<svg [^>]*class="chart"')
_PERIOD = re.compile(r"\d{4}(-\d{2})?")


def captions_of_charts(page: str) -> list[str]:
    """The caption of each chart on the page; fails on a chart drawn outside a captioned figure
    or a caption without its source (来源) and a year or month."""
    figures = _FIGURE.findall(page)
    captions = []
    for figure in figures:
        if _CHART.search(figure):
            caption = re.search(r"<figcaption>(.*?)</figcaption>", figure, re.DOTALL)
            assert caption, f"a chart without a caption: {figure[:200]}"
            text = caption.group(1)
            assert "来源" in text, f"a caption without its source: {text}"
            assert _PERIOD.search(text), f"a caption without its period: {text}"
            captions.append(text)
    assert len(captions) == len(_CHART.findall(page)), "a chart outside a figure"
    return captions
