"""An evaluation's scoreboard: every position on its pages, one card's holders, a search."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from gonghui.core.pagination import PAGE_SIZE
from gonghui.stations import evaluation, queries
from gonghui.stations.models import EvaluationRun
from gonghui.stations.rules import Card
from tests.conftest import NOW
from tests.stations.helpers import STAFF, position
from tests.world import World, login

MANY = PAGE_SIZE + 7


def evaluated(db: Session) -> EvaluationRun:
    for number in range(MANY):
        position(db, f"YT-{number:04d}", name=f"第{number}号驿站")
    summary = evaluation.evaluate(db, "2025-01", actor=STAFF, now=NOW)
    run = db.get(EvaluationRun, summary.run_id)
    assert run is not None
    return run


def test_every_position_is_on_some_page_and_a_filter_narrows_them(db: Session) -> None:
    run = evaluated(db)
    first = queries.scoreboard(db, STAFF, run, 1)
    second = queries.scoreboard(db, STAFF, run, 2)
    assert (first.total, first.pages, len(first.items), len(second.items)) == (MANY, 2, 50, 7)
    seen = {score.position_id for score, _name in [*first.items, *second.items]}
    assert len(seen) == MANY
    for card in Card:
        held = queries.scoreboard(db, STAFF, run, card=card)
        assert all(score.card is card for score, _name in held.items)
    assert sum(queries.scoreboard(db, STAFF, run, card=card).total for card in Card) == MANY
    found = queries.scoreboard(db, STAFF, run, search="第12号")
    assert [name for _score, name in found.items] == ["第12号驿站"]
    assert queries.scoreboard(db, STAFF, run, search="YT-0003").total == 1


def test_the_page_links_to_the_next_page_with_its_filter_kept(
    client: TestClient, db: Session, world: World
) -> None:
    run = evaluated(db)
    db.commit()
    login(client, "federation_staff")
    page = client.get(f"/stations/evaluations/{run.id}", params={"q": "驿站"}).text
    assert "第 1 / 2 页" in page
    following = re.search(r'href="([^"]*page=2)"', page)
    assert following is not None
    assert "q=%E9%A9%BF%E7%AB%99" in following.group(1)
    rest = client.get(following.group(1).replace("&amp;", "&")).text
    assert rest.count("/stations/positions/") >= MANY - PAGE_SIZE
