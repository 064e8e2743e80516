"""Concurrent approvals for one member never exceed the annual cap (PostgreSQL, real
connections, committed for real)."""

from __future__ import annotations

import threading
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from gonghui.core.auth import Actor, Role
from gonghui.core.errors import DomainError
from gonghui.core.pii import IdentityVault
from gonghui.core.storage import ContentStore
from gonghui.insurance import claims
from gonghui.insurance.claims import Settlement
from gonghui.insurance.claims_rules import ClaimStatus, DocumentKind, Hospitalisation
from gonghui.insurance.models import Claim, ClaimAccumulator
from gonghui.insurance.store import BalanceStore
from gonghui.members.models import Card
from tests.conftest import NOW
from tests.insurance.scenario import cover_member_a, new_plan
from tests.world import World, build_world

pytestmark = pytest.mark.postgres_only
CLAIMS = 6
EACH_FEN = 1_500_000  # 15,000 yuan each: six of them ask for 90,000 against a 50,000 cap


def _prepare(engine: Engine, storage: Path) -> tuple[World, list[int]]:
    vault = IdentityVault("concurrency")
    store, documents = BalanceStore(storage), ContentStore(storage)
    with Session(engine) as db, db.begin():
        world = build_world(db, vault, NOW)
        plan = new_plan(db, world, "YT", both_banks=False)
        cover_member_a(db, world, store, plan, balance="5000")
        card_id = db.scalars(select(Card.id).where(Card.card_no == world.card_a)).one()
        member = Actor(
            user_id=None, username="m", role=Role.MEMBER, display_name="m", member_id=world.member_a
        )
        ids = []
        for number in range(CLAIMS):
            claim = claims.open_claim(
                db,
                plan,
                member_id=world.member_a,
                card_id=card_id,
                stay=Hospitalisation("烟台毓璜顶医院", date(2025, 2, 1), date(2025, 2, 5), "肺炎"),
                invoice_no=f"C{number}",
                settlement=Settlement(EACH_FEN * 2, EACH_FEN // 2, EACH_FEN),
                actor=member,
                now=NOW,
            )
            for kind in DocumentKind:
                claims.attach_document(
                    db,
                    claim,
                    kind,
                    "d.pdf",
                    b"%PDF-" + kind.value.encode(),
                    store=documents,
                    actor=member,
                    now=NOW,
                )
            claims.submit_claim(db, claim, actor=member, now=NOW)
            ids.append(claim.id)
    return world, ids


def test_concurrent_approvals_never_pass_the_annual_cap(
    fresh_postgres: Engine, tmp_path: Path
) -> None:
    world, claim_ids = _prepare(fresh_postgres, tmp_path)
    adjuster = Actor(
        user_id=None, username="adj", role=Role.INSURER_ADJUSTER, display_name="理赔员"
    )
    start = threading.Barrier(len(claim_ids))
    outcomes: dict[int, str] = {}

    def approve(claim_id: int) -> None:
        with Session(fresh_postgres) as db:
            claim = db.get(Claim, claim_id)
            assert claim is not None
            start.wait()
            try:
                with db.begin_nested():
                    claims.approve_claim(db, claim, actor=adjuster, now=NOW)
                db.commit()
                outcomes[claim_id] = "approved"
            except DomainError as refusal:
                db.rollback()
                outcomes[claim_id] = refusal.code

    threads = [threading.Thread(target=approve, args=(claim_id,)) for claim_id in claim_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    with Session(fresh_postgres) as db:
        approved = db.scalars(
            select(Claim.approved_fen).where(Claim.status == ClaimStatus.APPROVED)
        ).all()
        used = db.scalars(
            select(ClaimAccumulator.used_fen).where(ClaimAccumulator.member_id == world.member_a)
        ).one()
    assert sum(approved) == used == 5_000_000
    assert sorted(approved) == [500_000, EACH_FEN, EACH_FEN, EACH_FEN]
    assert sorted(outcomes.values()) == ["approved"] * 4 + ["nothing_payable"] * 2
