"""The roll's import as a task: a big file of units, members or cards, run by the worker."""

from __future__ import annotations

from gonghui.core.pii import IdentityVault
from gonghui.jobs.tasks import TaskContext, TaskOutcome
from gonghui.members.imports import import_file


def import_roll_file(context: TaskContext) -> TaskOutcome:
    """The upload the request kept (`parameters["upload"]`), imported as its starter; the
    progress callback hears of every row checked."""
    upload = context.settings.storage_dir / str(context.parameters["upload"])
    report = import_file(
        context.session,
        upload.read_bytes(),
        actor=context.actor,
        now=context.now,
        vault=IdentityVault(context.settings.data_key.get_secret_value()),
        progress=context.progress,
    )
    return TaskOutcome(report.summary, url="/imports")
