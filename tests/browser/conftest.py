"""A live server on a fresh SQLite file with a small demo federation, and Debian's Chromium
driven by Playwright through `executable_path` (no downloaded browser)."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.sync_api import sync_playwright
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gonghui.core.db import make_engine
from gonghui.core.migrate import upgrade
from gonghui.core.settings import Environment, Settings
from gonghui.demo import load_demo
from gonghui.jobs.worker import Queue
from gonghui.members.demo import DEMO_PASSWORD
from gonghui.web.app import create_app
from tests.conftest import NOW, missing

CHROMIUM = os.environ.get("GONGHUI_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
SCREENS = Path(__file__).resolve().parents[2] / "docs" / "screens"
SERVER_NOW = datetime(2025, 3, 5, 2, 0, tzinfo=UTC)


class ThreadWorker:
    """The worker, in a thread of the test process: it takes what the pages queue, as
    `gonghui worker` would, from the same queue and database. A test may hold it back to see
    a task wait."""

    def __init__(self, settings: Settings) -> None:
        self.queue = Queue(settings)
        self.working = threading.Event()
        self.working.set()
        self.stopping = threading.Event()
        self.busy = threading.Lock()
        self.thread = threading.Thread(target=self._loop, name="test-worker", daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self.stopping.wait(0.1):
            if self.working.is_set():
                with self.busy:
                    self.queue.run_pending()

    @contextmanager
    def held(self) -> Iterator[None]:
        """No task runs inside the block (one already running finishes first)."""
        self.working.clear()
        with self.busy:
            pass
        try:
            yield
        finally:
            self.working.set()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=30)


@dataclass(frozen=True)
class LiveServer:
    url: str
    engine: Engine
    # The worker beside the shared live server; a server of a test's own may run without one.
    worker: ThreadWorker | None = None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    folder: Path = tmp_path_factory.mktemp("live")
    # The demo is a year up to NOW; the server lives a few weeks later, so that a new month of
    # balances can arrive and be assessed in the tests.
    settings = Settings(
        environment=Environment.TEST,
        database_url=f"sqlite:///{folder / 'gonghui.db'}",
        storage_dir=folder / "storage",
        clock_fixed=SERVER_NOW,
    )
    upgrade(settings)
    engine = make_engine(settings.database_url)
    with Session(engine) as session, session.begin():
        load_demo(session, settings, now=NOW, members=300, units=20)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            pytest.fail("the live server did not start")
        time.sleep(0.05)
    worker = ThreadWorker(settings)
    yield LiveServer(f"http://127.0.0.1:{port}", engine, worker)
    worker.stop()
    server.should_exit = True
    thread.join(timeout=10)
    engine.dispose()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        missing(f"Chromium at {CHROMIUM}")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def sign_in(
    browser: Any, server: LiveServer, username: str, viewport: dict[str, int] | None = None
) -> Any:
    """A new page, logged in as a demo persona (on a phone-sized screen unless told)."""
    page = browser.new_page(viewport=viewport or PHONE)
    page.goto(server.url + "/login")
    page.get_by_label("用户名或手机号").fill(username)
    page.get_by_label("密码").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/home")
    return page


def screen(page: Any, name: str) -> None:
    """The whole page at phone width, as tall as it is, so the fixed tab bar sits at its foot."""
    SCREENS.mkdir(parents=True, exist_ok=True)
    height = page.evaluate("document.documentElement.scrollHeight")
    page.set_viewport_size({"width": PHONE["width"], "height": max(height, PHONE["height"])})
    page.screenshot(path=str(SCREENS / f"{name}.png"))
    page.set_viewport_size(PHONE)
