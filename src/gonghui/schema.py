"""Every table of every module, gathered on one metadata for Alembic and the tests."""

from gonghui.consents import models as consents_models
from gonghui.core import audit, outbox, snapshots
from gonghui.core.db import Base
from gonghui.insurance import models as insurance_models
from gonghui.jobs import models as jobs_models
from gonghui.jobs import task_models
from gonghui.members import models as members_models
from gonghui.stations import models as stations_models
from gonghui.wallet import models as wallet_models

metadata = Base.metadata

__all__ = [
    "audit",
    "consents_models",
    "insurance_models",
    "jobs_models",
    "members_models",
    "metadata",
    "outbox",
    "snapshots",
    "stations_models",
    "task_models",
    "wallet_models",
]
