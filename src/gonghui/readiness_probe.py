"""`/ready`: whether this process can serve — the database answers at the schema this code
expects, the storage directory takes files, and a worker has said lately that it is alive."""

from __future__ import annotations

import tempfile
from datetime import datetime, timedelta

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from gonghui.core.migrate import current_revisions, head_revisions
from gonghui.core.settings import Settings
from gonghui.jobs.models import WorkerBeat


def probe(session: Session, settings: Settings, now: datetime) -> dict[str, str]:
    """Each check's answer: "ok", or why not (in words an operator acts on)."""
    checks: dict[str, str] = {}
    try:
        session.execute(text("SELECT 1"))
        checks["database"] = "ok"
        current, head = current_revisions(session.connection()), head_revisions()
        checks["migrations"] = (
            "ok"
            if current == head
            else f"at {','.join(current) or 'none'}, code needs {','.join(head)}: "
            "run gonghui db upgrade"
        )
        silence = timedelta(seconds=2 * settings.worker_silence_seconds)
        beat = session.scalar(
            select(WorkerBeat.beat_at).order_by(WorkerBeat.beat_at.desc()).limit(1)
        )
        checks["worker"] = (
            "ok"
            if beat is not None and beat >= now - silence
            else "no worker has beaten lately: start gonghui worker"
        )
    except Exception as error:  # noqa: BLE001 - any failure to reach the database is "not ready"
        checks["database"] = f"unreachable: {error.__class__.__name__}"
    try:
        settings.storage_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=settings.storage_dir, prefix=".ready-"):
            pass
        checks["storage"] = "ok"
    except OSError as error:
        checks["storage"] = f"not writable: {error.strerror}"
    return checks
