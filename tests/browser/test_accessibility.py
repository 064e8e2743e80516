"""Every persona's pages, as each reaches them by following links from the home page, at phone
and desktop width: axe-core finds no serious or critical violation, and no page scrolls sideways.

axe-core comes with the `axe-playwright-python` package (a dev dependency), injected into the
page by Playwright; the app serves nothing for it.
"""

from __future__ import annotations

import re
from collections import deque
from typing import Any
from urllib.parse import urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe

from gonghui.members.demo import DEMO_PASSWORD, PERSONAS, Persona
from tests.browser.conftest import PHONE, LiveServer

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 900}
# Pages per persona: one of each kind (a member's page stands for every member's).
MAX_PAGES = 45
_NOT_PAGES = re.compile(r"\.(xlsx|csv|json|png|svg|pdf|jpg|zip)$|^/(static|api|logout|metrics)")
_AXE = Axe()


def _kind(path: str) -> str:
    return re.sub(r"\d+", "{n}", path)


def _links(page: Any) -> list[str]:
    hrefs: list[str] = page.eval_on_selector_all(
        "a[href^='/']", "links => links.map(link => link.getAttribute('href'))"
    )
    return [urlsplit(href).path for href in hrefs]


def _problems(page: Any, path: str) -> list[str]:
    found = []
    for violation in _AXE.run(page).response["violations"]:
        if violation["impact"] in {"serious", "critical"}:
            where = "; ".join(node["target"][0] for node in violation["nodes"][:3])
            found.append(f"{path}: {violation['id']} ({violation['impact']}) at {where}")
    if not page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"):
        found.append(f"{path}: scrolls sideways")
    return found


def _walk(browser: Any, server: LiveServer, username: str | None) -> list[str]:
    problems: list[str] = []
    for viewport in (PHONE, DESKTOP):
        context = browser.new_context(viewport=viewport, bypass_csp=True)
        page = context.new_page()
        start = "/"
        if username is not None:
            page.goto(server.url + "/login")
            page.get_by_label("用户名或手机号").fill(username)
            page.get_by_label("密码").fill(DEMO_PASSWORD)
            page.get_by_role("button", name="登录").click()
            page.wait_for_url("**/home")
            start = "/home"
        queue, seen = deque([start]), {_kind(start)}
        visited = 0
        while queue and visited < MAX_PAGES:
            path = queue.popleft()
            response = page.goto(server.url + path)
            if (
                response is None
                or response.status >= 400
                or "text/html" not in (response.headers.get("content-type", ""))
            ):
                continue
            visited += 1
            problems += [f"{viewport['width']}px {line}" for line in _problems(page, path)]
            for link in _links(page):
                if not _NOT_PAGES.search(link) and _kind(link) not in seen:
                    seen.add(_kind(link))
                    queue.append(link)
        context.close()
    return problems


@pytest.mark.parametrize(
    "persona", [None, *PERSONAS], ids=lambda p: p.username if p else "anonymous"
)
def test_every_page_a_persona_reaches_passes_axe_at_phone_and_desktop_width(
    browser: Any, live_server: LiveServer, persona: Persona | None
) -> None:
    problems = _walk(browser, live_server, persona.username if persona else None)
    assert problems == []
