"""`/metrics` under `gonghui serve --workers 2`: whichever process answers, it counts the
requests every process served (prometheus-client's multiprocess mode), and the files of
processes that have ended are cleared when a server starts."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from gonghui.core.migrate import upgrade
from gonghui.core.settings import Environment, Settings

REQUESTS = 24


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 - our own server
        return str(answer.read().decode())


def _wait_until_up(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 90
    while True:
        assert server.poll() is None, "the server stopped"
        try:
            _get(url)
        except OSError:
            assert time.monotonic() < deadline, "the server never answered"
            time.sleep(0.3)
        else:
            return


def _health_count(metrics: str) -> float:
    pattern = r'gonghui_request_seconds_count\{[^}]*route="/health"[^}]*\} ([0-9.e+]+)'
    return sum(float(value) for value in re.findall(pattern, metrics))


def _writers(metrics: Path) -> set[str]:
    return {path.name.rsplit("_", 1)[1] for path in metrics.glob("*.db")} - {"999999999.db"}


def test_metrics_add_up_every_web_process(tmp_path: Path) -> None:
    settings = Settings(
        environment=Environment.TEST,
        database_url=f"sqlite:///{tmp_path / 'gonghui.db'}",
        storage_dir=tmp_path / "storage",
    )
    upgrade(settings)
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    (metrics / "counter_999999999.db").write_bytes(b"left by a dead process")
    port = _free_port()
    env = {
        **os.environ,
        "GONGHUI_ENVIRONMENT": "test",
        "GONGHUI_DATABASE_URL": settings.database_url,
        "GONGHUI_STORAGE_DIR": str(settings.storage_dir),
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    server = subprocess.Popen(  # noqa: S603 - our own command, our own arguments
        [sys.executable, "-m", "gonghui", "serve", "--workers", "2", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(f"{base}/metrics", server)
        before = _health_count(_get(f"{base}/metrics"))
        # Requests until both processes have answered some (under load the second may start
        # late and the first take them all), at least REQUESTS of them.
        sent, deadline = 0, time.monotonic() + 60
        while sent < REQUESTS or (len(_writers(metrics)) < 2 and time.monotonic() < deadline):
            _get(f"{base}/health")
            sent += 1
        # Several answers of /metrics, from either process: each sees every process's count.
        counts = {_health_count(_get(f"{base}/metrics")) - before for _ in range(6)}
        files = sorted(path.name for path in metrics.glob("*.db"))
    finally:
        server.terminate()
        server.wait(timeout=60)
    assert counts == {sent}
    assert "counter_999999999.db" not in files
    writers = {name.rsplit("_", 1)[1] for name in files}
    assert len(writers) >= 2, "both web processes wrote their figures"
