"""The worker as it runs in production: a `gonghui worker` process on a database it shares
with nobody but this test, its clock pinned. Nothing is typed: what is due happens."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from gonghui.core.auth import Actor, Role
from gonghui.core.db import make_engine
from gonghui.core.migrate import upgrade
from gonghui.core.outbox import MessageStatus, OutboxMessage
from gonghui.core.pii import vault_for
from gonghui.core.settings import Environment, Settings
from gonghui.core.storage import ContentStore
from gonghui.insurance import claims
from gonghui.insurance.claims import Settlement
from gonghui.insurance.claims_rules import DocumentKind, Hospitalisation
from gonghui.insurance.models import ClaimNotice
from gonghui.insurance.store import store_for
from gonghui.jobs.models import JobRun, RunStatus
from gonghui.members.models import Card, Notification
from gonghui.wallet import transfers
from gonghui.wallet.models import Transfer, TransferEvent
from gonghui.wallet.rules import TransferStatus
from tests.conftest import NOW, _postgres_database
from tests.insurance.scenario import cover_member_a, new_plan
from tests.wallet.scenario import FACE, build_family, fund, verifier
from tests.world import build_world

# 06:00:20 on 14 March 2025 in Beijing: the transfer of 10 February is long due back, and the
# claim completed on 10 February passed its 30-day decision limit on 12 March.
MORNING = "2025-03-13T22:00:20+00:00"
PDF = b"%PDF-1.4\n% claim document\n"


@dataclass(frozen=True)
class Federation:
    settings: Settings
    engine: Engine
    transfer_id: int
    claim_id: int
    member_id: int

    def env(self, clock: str = MORNING) -> dict[str, str]:
        return {
            **os.environ,
            "GONGHUI_ENVIRONMENT": "test",
            "GONGHUI_DATABASE_URL": self.settings.database_url,
            "GONGHUI_STORAGE_DIR": str(self.settings.storage_dir),
            "GONGHUI_CLOCK_FIXED": clock,
            "GONGHUI_WORKER_SILENCE_SECONDS": "3",
        }

    def worker(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "gonghui", "worker"],
            env=self.env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def scalar(self, statement: object) -> object:
        with Session(self.engine) as session:
            return session.scalar(statement)  # type: ignore[call-overload]


def _build(settings: Settings) -> Federation:
    upgrade(settings)
    engine = make_engine(settings.database_url)
    vault = vault_for(settings)
    with Session(engine) as db, db.begin():
        world = build_world(db, vault, NOW)
        family = build_family(db, world, vault, NOW)
        fund(db, family, 500_000, NOW)
        sent = transfers.submit_transfer(
            db, actor=family.giver_actor, recipient_id=family.mother.id, amount_fen=80_000,
            proof=FACE, verifier=verifier(), idempotency_key="job-t1", now=NOW,
        )  # fmt: skip
        plan = new_plan(db, world, "JOB", both_banks=False)
        cover_member_a(db, world, store_for(settings), plan)
        member = Actor(
            user_id=None, username="m", role=Role.MEMBER, display_name="林建国",
            member_id=world.member_a,
        )  # fmt: skip
        card_id = db.scalars(select(Card.id).where(Card.card_no == world.card_a)).one()
        claim = claims.open_claim(
            db, plan, member_id=world.member_a, card_id=card_id,
            stay=Hospitalisation("烟台山医院", date(2025, 2, 2), date(2025, 2, 6), "肺炎"),
            invoice_no="JOB-1", settlement=Settlement(500_000, 200_000, 300_000),
            actor=member, now=NOW,
        )  # fmt: skip
        documents = ContentStore(settings.storage_dir)
        for kind in DocumentKind:
            claims.attach_document(
                db, claim, kind, f"{kind.value}.pdf", PDF + kind.value.encode(),
                store=documents, actor=member, now=NOW,
            )  # fmt: skip
        claims.submit_claim(db, claim, actor=member, now=NOW)
        ids = (int(sent["transfer_id"]), claim.id, world.member_a)
    return Federation(settings, engine, *ids)


@pytest.fixture(params=["sqlite", "postgresql"])
def federation(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Federation]:
    databases = _postgres_database() if request.param == "postgresql" else None
    url = next(databases) if databases else f"sqlite:///{tmp_path / 'gonghui.db'}"
    settings = Settings(
        environment=Environment.TEST, database_url=url, storage_dir=tmp_path / "storage"
    )
    built = _build(settings)
    try:
        yield built
    finally:
        built.engine.dispose()
        if databases:
            databases.close()


def _wait_for(condition: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "waited in vain"
        time.sleep(0.3)


def _status(federation: Federation) -> object:
    return federation.scalar(select(Transfer.status).where(Transfer.id == federation.transfer_id))


def _stop(worker: subprocess.Popen[bytes]) -> None:
    worker.send_signal(signal.SIGINT)
    try:
        worker.wait(timeout=30)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()


def test_the_morning_returns_the_transfer_and_flags_the_late_claim_with_no_command_typed(
    federation: Federation,
) -> None:
    assert _status(federation) == TransferStatus.PENDING
    worker = federation.worker()
    try:
        _wait_for(lambda: _status(federation) == TransferStatus.EXPIRED)
        _wait_for(lambda: bool(federation.scalar(select(func.count()).select_from(ClaimNotice))))
        # The 06:00 schedule itself fired (as well as the catch-up run at the worker's start).
        _wait_for(
            lambda: bool(
                federation.scalar(
                    select(func.count()).where(
                        JobRun.job == "wallet.release_due",
                        JobRun.trigger == "schedule",
                        JobRun.status == RunStatus.SUCCEEDED,
                    )
                )
            )
        )
    finally:
        _stop(worker)
    notice = federation.scalar(
        select(Notification.body).where(
            Notification.member_id == federation.member_id, Notification.title.like("理赔申请逾期%")
        )
    )
    assert "应于 2025-03-12 前核定" in str(notice)
    kinds = federation.scalar(select(func.count()).select_from(ClaimNotice))
    assert kinds == 1, "flagged once however often the job ran"
    # And a text to the member's phone is queued once; at 06:00 it waits for the morning.
    with Session(federation.engine) as session:
        texts = session.execute(select(OutboxMessage.key, OutboxMessage.status)).all()
    assert texts == [
        (f"claim:{federation.claim_id}:decision_overdue:2025-03-12", MessageStatus.PENDING)
    ]
    returned = federation.scalar(
        select(func.count()).where(
            TransferEvent.transfer_id == federation.transfer_id,
            TransferEvent.to_status == TransferStatus.EXPIRED,
        )
    )
    assert returned == 1


def test_a_worker_killed_mid_job_leaves_nothing_half_done_and_the_job_runs_again_once(
    federation: Federation,
) -> None:
    if federation.engine.dialect.name != "postgresql":
        pytest.skip("a second connection holding a table lock is the PostgreSQL case")
    # Hold the ledger so that the first worker's release stops in the middle of its
    # transaction, after it has started and marked the transfer.
    blocker = federation.engine.connect()
    blocker.begin()
    blocker.execute(text("LOCK TABLE wallet_postings IN ACCESS EXCLUSIVE MODE"))
    first = federation.worker()
    try:
        _wait_for(
            lambda: bool(
                federation.scalar(
                    select(func.count()).where(
                        JobRun.job == "wallet.release_due", JobRun.status == RunStatus.RUNNING
                    )
                )
            )
        )
        time.sleep(1)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
        blocker.rollback()
        blocker.close()
    assert _status(federation) == TransferStatus.PENDING, "the killed run's work was rolled back"

    second = federation.worker()
    try:
        _wait_for(lambda: _status(federation) == TransferStatus.EXPIRED)
    finally:
        _stop(second)
    statuses = federation.scalar(
        select(func.string_agg(JobRun.status, ",")).where(JobRun.job == "wallet.release_due")
    )
    assert RunStatus.INTERRUPTED.value in str(statuses)
    returned = federation.scalar(
        select(func.count()).where(
            TransferEvent.transfer_id == federation.transfer_id,
            TransferEvent.to_status == TransferStatus.EXPIRED,
        )
    )
    assert returned == 1
    verified = subprocess.run(
        [sys.executable, "-m", "gonghui", "wallet", "verify-ledger"],
        env=federation.env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
