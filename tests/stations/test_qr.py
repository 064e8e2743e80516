"""The check-in QR code: the SVG on the position page and the door screen is the symbol of that
page's own signed link, and the door shows a new one each refresh window."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import segno
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from gonghui.core.auth import Role
from gonghui.core.clock import FixedClock
from gonghui.core.settings import Settings
from gonghui.stations import qr, tokens
from tests.conftest import NOW
from tests.stations.helpers import position
from tests.world import World, login

FINDER = 7  # the finder patterns in three corners are 7×7 modules


def modules_of(svg: str) -> set[tuple[int, int]]:
    """Decode segno's path back to dark modules: `M x y` starts a row at y + 0.5, `m dx dy`
    moves, `h n` draws a run of n modules."""
    match = re.search(r'<path class="qrline"[^>]* d="([^"]+)"', svg)
    assert match, "no module path in the SVG"
    path = match.group(1)
    assert set(re.findall(r"[A-Za-z]", path)) <= {"M", "m", "h"}
    x = y = 0.0
    dark: set[tuple[int, int]] = set()
    for op, first, second in re.findall(r"([Mmh])(-?[\d.]+)(?: (-?[\d.]+))?", path):
        if op == "M":
            x, y = float(first), float(second)
        elif op == "m":
            x, y = x + float(first), y + float(second)
        else:
            run = int(first)
            dark |= {(int(y), int(x) + i) for i in range(run)}
            x += run
    return dark


def expected_modules(url: str) -> set[tuple[int, int]]:
    matrix = segno.make(url, error="m", micro=False).matrix
    return {
        (row + qr.BORDER, col + qr.BORDER)
        for row, line in enumerate(matrix)
        for col, value in enumerate(line)
        if value
    }


def _svg_and_link(page: str, link_testid: str) -> tuple[str, str]:
    svg = re.search(r'<svg role="img" viewBox="[^"]+" class="qr">.*?</svg>', page, re.DOTALL)
    link = re.search(rf'data-testid="{link_testid}" href="([^"]+)"', page)
    assert svg, "no QR code on the page"
    assert link
    return svg.group(0), html.unescape(link.group(1))


def test_the_svg_is_a_qr_code_of_the_url() -> None:
    url = "https://gonghui.example.cn/stations/checkin?t=12.1739149200.AbCdEfGhIjKlMnOpQrStUv"
    svg = qr.qr_svg(url)
    dark = modules_of(svg)
    assert dark == expected_modules(url)
    size = int(re.search(r'viewBox="0 0 (\d+) \1"', svg).group(1))  # type: ignore[union-attr]
    # The three finder patterns, inside the white quiet zone.
    for top, left in (
        (0, 0),
        (0, size - 2 * qr.BORDER - FINDER),
        (size - 2 * qr.BORDER - FINDER, 0),
    ):
        ring = {
            (qr.BORDER + top + r, qr.BORDER + left + c)
            for r in range(FINDER)
            for c in range(FINDER)
            if r in {0, FINDER - 1} or c in {0, FINDER - 1}
        }
        assert ring <= dark
    assert not any(r < qr.BORDER or c < qr.BORDER for r, c in dark)
    assert 'fill="#fff"' in svg  # the quiet zone is drawn white, whatever the page colour


def test_the_svg_carries_no_style_attribute_or_script() -> None:
    svg = qr.qr_svg("http://testserver/stations/checkin?t=1.2.x", label="签到<码>")
    assert "style=" not in svg
    assert "<script" not in svg
    assert "<title>签到&lt;码&gt;</title>" in svg


def test_the_position_page_shows_the_code_of_its_own_signed_link(
    client: TestClient, db: Session, world: World, settings: Settings
) -> None:
    found = position(db, "QRPAGE")
    db.commit()
    login(client, world.users[Role.FEDERATION_STAFF])
    svg, link = _svg_and_link(client.get(f"/stations/positions/{found.id}").text, "checkin-link")
    assert modules_of(svg) == expected_modules(link)
    key = tokens.derive_key(settings.secret_key.get_secret_value())
    assert tokens.verify(key, link.split("t=", 1)[1], NOW).position_id == found.id


def test_the_door_screen_shows_a_new_code_each_refresh_window(
    app: FastAPI, client: TestClient, db: Session, world: World, settings: Settings
) -> None:
    found = position(db, "QRDOOR")
    db.commit()
    login(client, world.users[Role.FEDERATION_STAFF])
    door = f"/stations/positions/{found.id}/door"
    first_svg, first_link = _svg_and_link(client.get(door).text, "door-link")
    app.state.clock = FixedClock(NOW + timedelta(seconds=tokens.REFRESH_SECONDS))
    page = client.get(door).text
    # The screen reloads itself when the code expires (by its script; no meta refresh).
    assert f'data-refresh-seconds="{tokens.REFRESH_SECONDS}"' in page
    assert '<script src="/static/stations.js">' in page
    second_svg, second_link = _svg_and_link(page, "door-link")
    assert second_link != first_link
    assert second_svg != first_svg
    assert modules_of(first_svg) == expected_modules(first_link)
    assert modules_of(second_svg) == expected_modules(second_link)
    key = tokens.derive_key(settings.secret_key.get_secret_value())
    later = NOW + timedelta(seconds=tokens.REFRESH_SECONDS)
    assert tokens.verify(key, second_link.split("t=", 1)[1], later).position_id == found.id
