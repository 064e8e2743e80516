"""The app for `gonghui serve --workers N`: each worker process builds its own from the
environment (its own database pool, its own clock)."""

from __future__ import annotations

from fastapi import FastAPI

from gonghui.core.settings import Settings
from gonghui.web.app import create_app


def app() -> FastAPI:
    return create_app(Settings())
