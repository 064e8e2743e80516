"""Pages under load: the demo federation served by `gonghui serve --workers 2` on its embedded
SQLite database, 8 connections at a time for each page, against `/health` measured in the same
run (the server's own floor: no database work, no template).

Targets: every member page at least 0.3x `/health`'s throughput with p95 under 100 ms; the staff
dashboards p95 under 300 ms.

Set GONGHUI_BENCH_PAGE_SECONDS (default 8) for the time each page is hammered.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx2

from gonghui.members.demo import DEMO_PASSWORD

SECONDS = float(os.environ.get("GONGHUI_BENCH_PAGE_SECONDS", "8"))
CONNECTIONS = 8
MEMBER_PAGES = ["/home", "/insurance/me", "/wallet", "/retirement/me"]
STAFF_PAGES = ["/insurance/dashboard", "/stations/dashboard", "/retirement/impact"]
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass(frozen=True)
class Load:
    path: str
    per_second: float
    p50_ms: float
    p95_ms: float
    errors: int


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _cookies(url: str, username: str) -> httpx2.Cookies:
    with httpx2.Client(base_url=url, timeout=30) as client:
        token = CSRF.search(client.get("/login").text)
        if token is None:
            raise RuntimeError("no login form")
        answer = client.post(
            "/login",
            data={"username": username, "password": DEMO_PASSWORD, "csrf_token": token.group(1)},
        )
        if answer.status_code not in {200, 303}:
            raise RuntimeError(f"{username} could not sign in: {answer.status_code}")
        return client.cookies


def _hammer(url: str, path: str, cookies: httpx2.Cookies | None) -> Load:
    timings: list[float] = []
    errors = 0
    lock = threading.Lock()
    deadline = time.monotonic() + SECONDS

    def connection() -> None:
        nonlocal errors
        with httpx2.Client(base_url=url, cookies=cookies, timeout=30) as client:
            while time.monotonic() < deadline:
                started = time.perf_counter()
                status = client.get(path).status_code
                took = time.perf_counter() - started
                with lock:
                    timings.append(took)
                    errors += status != 200

    threads = [threading.Thread(target=connection) for _ in range(CONNECTIONS)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began
    timings.sort()
    return Load(
        path,
        len(timings) / elapsed,
        timings[len(timings) // 2] * 1000,
        timings[int(len(timings) * 0.95)] * 1000,
        errors,
    )


def _run(command: list[str], env: dict[str, str]) -> None:
    subprocess.run(command, env=env, check=True, capture_output=True)


def _serve(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [sys.executable, "-m", "gonghui", "serve", "--workers", "2", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx2.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return server
        except httpx2.TransportError:
            pass
        if time.monotonic() > deadline:
            server.kill()
            raise RuntimeError("the server did not start")
        time.sleep(0.3)


def _print(loads: list[Load], floor: Load, check: Callable[[Load], str]) -> None:
    for load in loads:
        ratio = load.per_second / floor.per_second
        print(
            f"  {load.path:<22} {load.per_second:7.1f} req/s ({ratio:4.2f}x /health)  "
            f"p50 {load.p50_ms:6.1f} ms  p95 {load.p95_ms:6.1f} ms  errors {load.errors}  "
            f"{check(load)}"
        )


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="gonghui-bench-pages-"))
    env = {
        **os.environ,
        "GONGHUI_DATABASE_URL": f"sqlite:///{folder / 'gonghui.db'}",
        "GONGHUI_STORAGE_DIR": str(folder / "storage"),
        "GONGHUI_LOG_LEVEL": "WARNING",
    }
    try:
        print("  loading the demo federation (10,000 members)…")
        _run([sys.executable, "-m", "gonghui", "db", "upgrade"], env)
        _run([sys.executable, "-m", "gonghui", "demo", "load"], env)
        port = _free_port()
        server = _serve(env, port)
        url = f"http://127.0.0.1:{port}"
        try:
            member, staff = _cookies(url, "member"), _cookies(url, "staff")
            for path in MEMBER_PAGES + STAFF_PAGES:  # warm each process's caches once
                _hammer_once(url, path, member if path in MEMBER_PAGES else staff)
            floor = _hammer(url, "/health", None)
            members = [_hammer(url, path, member) for path in MEMBER_PAGES]
            staffs = [_hammer(url, path, staff) for path in STAFF_PAGES]
        finally:
            server.terminate()
            server.wait(timeout=30)
        print(
            f"  /health                {floor.per_second:7.1f} req/s  p50 {floor.p50_ms:6.1f} ms  "
            f"p95 {floor.p95_ms:6.1f} ms  ({CONNECTIONS} connections, --workers 2, "
            f"{SECONDS:g} s a page)"
        )

        def member_target(load: Load) -> str:
            met = load.per_second >= 0.3 * floor.per_second and load.p95_ms < 100
            return "target met" if met else "short of 0.3x /health and p95 < 100 ms"

        def staff_target(load: Load) -> str:
            return "target met" if load.p95_ms < 300 else "short of p95 < 300 ms"

        _print(members, floor, member_target)
        _print(staffs, floor, staff_target)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _hammer_once(url: str, path: str, cookies: httpx2.Cookies) -> None:
    with httpx2.Client(base_url=url, cookies=cookies, timeout=60) as client:
        client.get(path)
