"""The structured events an operator relies on: every login, import, assessment, evaluation and
money move, with their fields, carrying the request's id; a move that was rolled back is not
logged; a password never reaches a log; production writes one JSON object a line."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from gonghui.core.auth import SYSTEM
from gonghui.core.logging import configure_logging, get_logger
from gonghui.core.metrics import REGISTRY
from gonghui.core.pii import IdentityVault
from gonghui.core.settings import LogFormat, Settings
from gonghui.insurance.store import BalanceStore
from gonghui.members.imports import import_file
from gonghui.stations import evaluation
from gonghui.wallet import transfers
from tests.conftest import NOW
from tests.insurance.scenario import cover_member_a, new_plan
from tests.stations.helpers import STAFF, position
from tests.wallet.scenario import FACE, build_family, fund, verifier
from tests.world import PASSWORD, SETUP, World, csrf_of, make_credit_code


@pytest.fixture
def events(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO)
    return caplog


def named(caplog: pytest.LogCaptureFixture, name: str) -> list[dict[str, Any]]:
    return [
        record.msg
        for record in caplog.records
        if isinstance(record.msg, dict) and record.msg.get("event") == name
    ]


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_money_moves_are_logged_and_counted_once_committed(
    db: Session, world: World, vault: IdentityVault, events: pytest.LogCaptureFixture
) -> None:
    family = build_family(db, world, vault, NOW)
    before = _sample("gonghui_money_moved_fen_total", kind="fund")
    fund(db, family, 500_000, NOW)
    sent = transfers.submit_transfer(
        db, actor=family.giver_actor, recipient_id=family.mother.id, amount_fen=80_000,
        proof=FACE, verifier=verifier(), idempotency_key="log-t1", now=NOW,
    )  # fmt: skip
    assert named(events, "money.moved") == [], "nothing is logged before the commit"
    db.commit()
    transfers.accept_transfer(
        db, int(sent["transfer_id"]), actor=family.mother_actor, idempotency_key="log-a1", now=NOW
    )
    db.commit()
    moves = [(e["kind"], e["amount_fen"]) for e in named(events, "money.moved")]
    assert moves == [("fund", 500_000), ("hold", 80_000), ("accept", 80_000)]
    accepted = named(events, "money.moved")[-1]
    assert accepted["transfer"] == int(sent["transfer_id"])
    assert accepted["actor"] == "mother"
    assert _sample("gonghui_money_moved_fen_total", kind="fund") - before == 500_000


def test_a_move_rolled_back_is_neither_logged_nor_counted(
    db: Session, world: World, vault: IdentityVault, events: pytest.LogCaptureFixture
) -> None:
    family = build_family(db, world, vault, NOW)
    before = _sample("gonghui_money_moves_total", kind="fund")
    fund(db, family, 500_000, NOW, key="undone")
    db.rollback()
    assert named(events, "money.moved") == []
    assert _sample("gonghui_money_moves_total", kind="fund") == before


def test_the_06_00_return_is_logged_as_a_money_move(
    db: Session, world: World, vault: IdentityVault, events: pytest.LogCaptureFixture
) -> None:
    family = build_family(db, world, vault, NOW)
    fund(db, family, 500_000, NOW)
    transfers.submit_transfer(
        db, actor=family.giver_actor, recipient_id=family.mother.id, amount_fen=80_000,
        proof=FACE, verifier=verifier(), idempotency_key="log-t2", now=NOW,
    )  # fmt: skip
    db.commit()
    assert transfers.release_due(db, NOW + timedelta(days=1), actor=SYSTEM) == 1
    db.commit()
    returned = named(events, "money.moved")[-1]
    assert (returned["kind"], returned["amount_fen"], returned["actor"]) == (
        "expire",
        80_000,
        "system",
    )


def test_a_login_is_logged_with_the_request_id_and_never_the_password(
    client: TestClient, world: World, events: pytest.LogCaptureFixture
) -> None:
    wrong = client.post(
        "/login",
        data={"username": "admin", "password": "not-the-password-7", "csrf_token": csrf_of(client)},
    )
    right = client.post(
        "/login",
        data={"username": "admin", "password": PASSWORD, "csrf_token": csrf_of(client)},
        follow_redirects=False,
    )
    failed, succeeded = named(events, "login.failed"), named(events, "login.succeeded")
    assert [e["username"] for e in failed] == ["admin"]
    assert [e["username"] for e in succeeded] == ["admin"]
    assert failed[0]["request_id"] == wrong.headers["X-Request-ID"]
    assert succeeded[0]["request_id"] == right.headers["X-Request-ID"]
    assert wrong.headers["X-Request-ID"] != right.headers["X-Request-ID"]
    assert "user_id" in succeeded[0]
    text = "\n".join(str(record.msg) for record in events.records)
    assert PASSWORD not in text
    assert "not-the-password-7" not in text


def test_a_proxys_request_id_is_kept_and_a_strange_one_replaced(client: TestClient) -> None:
    kept = client.get("/health", headers={"X-Request-ID": "nginx-4f2a9c01"})
    assert kept.headers["X-Request-ID"] == "nginx-4f2a9c01"
    replaced = client.get("/health", headers={"X-Request-ID": "<script>\n"})
    assert len(replaced.headers["X-Request-ID"]) == 32


def test_an_import_is_logged_accepted_or_refused_with_its_rows(
    db: Session, vault: IdentityVault, events: pytest.LogCaptureFixture
) -> None:
    header = "单位名称,统一社会信用代码,行业,区县,上级工会\n"
    good = header + f"烟台丙有限公司,{make_credit_code('MA3C4C3')},制造业,芝罘区,芝罘区总工会\n"
    before = _sample("gonghui_imported_rows_total", kind="units")
    import_file(db, good.encode(), actor=SETUP, now=NOW, vault=vault)
    bad = header + "烟台丁有限公司,坏代码,制造业,芝罘区,芝罘区总工会\n"
    with pytest.raises(Exception, match="导入失败"):
        import_file(db, bad.encode(), actor=SETUP, now=NOW, vault=vault)
    [accepted] = named(events, "import.accepted")
    assert (accepted["kind"], accepted["rows"], accepted["actor"]) == ("units", 1, "setup")
    [refused] = named(events, "import.refused")
    assert (refused["kind"], refused["errors"]) == ("units", 1)
    assert _sample("gonghui_imported_rows_total", kind="units") - before == 1


def test_an_evaluation_is_logged_with_its_cards(
    db: Session, events: pytest.LogCaptureFixture
) -> None:
    position(db, "LOG1")
    summary = evaluation.evaluate(db, "2025-01", actor=STAFF, now=NOW)
    [logged] = named(events, "stations.evaluated")
    assert logged["run"] == summary.run_id
    assert (logged["period"], logged["evaluated"], logged["yellow"]) == ("2025-01", 1, 1)
    assert logged["seconds"] >= 0


def test_an_assessment_is_logged_with_its_cards(
    db: Session, world: World, store: BalanceStore, events: pytest.LogCaptureFixture
) -> None:
    plan = new_plan(db, world, "LOG", both_banks=False)
    cover_member_a(db, world, store, plan)
    [logged] = named(events, "insurance.assessed")
    assert (logged["plan"], logged["period"], logged["actor"]) == ("LOG", "2025-01", "setup")
    assert logged["cards_assessed"] == logged["eligible"] + logged["ineligible"]


def test_production_writes_one_json_object_a_line(
    capsys: pytest.CaptureFixture[str], settings: Settings
) -> None:
    configure_logging(settings.model_copy(update={"log_format": LogFormat.JSON}))
    try:
        get_logger("gonghui.test").info("test.event", amount_fen=12, 单位="芝罘区")
        line = capsys.readouterr().err.strip().splitlines()[-1]
        logged = json.loads(line)
        assert logged["event"] == "test.event"
        assert (logged["amount_fen"], logged["单位"], logged["level"]) == (12, "芝罘区", "info")
        assert logged["timestamp"].endswith("Z")
    finally:
        configure_logging(settings)
