"""Structured logs: each event has a stable dotted name and key-value fields, and carries the
request id (`request_id`) or the job run (`job`, `job_run`) it happened in.

structlog builds the events (it was already how the codebase logged, with its context-local
fields for the ids); the standard `logging` module carries them, so that uvicorn's and huey's
own records come out in the same format, and tests read events with pytest's `caplog` (a
record's `msg` is the event's dict). `GONGHUI_LOG_FORMAT=json` writes one JSON object a line
(production); `console` writes readable text (development).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import structlog

from gonghui.core.settings import LogFormat, Settings

_HANDLER_NAME = "gonghui"
_SHARED: list[structlog.types.Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def _route_to_stdlib() -> None:
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_SHARED,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        wrapper_class=structlog.stdlib.BoundLogger,
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=False,
    )


# At import, so that every event reaches `logging` (and `caplog`) even in a process that never
# called `configure_logging` (which adds the handler that writes them out).
_route_to_stdlib()


def configure_logging(settings: Settings) -> None:
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if settings.log_format is LogFormat.JSON
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    tracebacks: list[structlog.types.Processor] = (
        [structlog.processors.dict_tracebacks] if settings.log_format is LogFormat.JSON else []
    )
    _route_to_stdlib()
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            # Records from other libraries (uvicorn, huey) get the same fields first.
            foreign_pre_chain=_SHARED,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                *tracebacks,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    # `create_app` may run more than once in a process (tests): one handler of ours, ever.
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger


@contextmanager
def bound(**fields: Any) -> Iterator[None]:
    """Every event logged inside the block (in this thread or task) carries these fields."""
    with structlog.contextvars.bound_contextvars(**fields):
        yield
