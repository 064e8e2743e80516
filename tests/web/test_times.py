"""Every time a person reads is Beijing time, every form carries its CSRF token, and every title
is text.

Each page every role may open is read for any moment the database holds written out in UTC:
the walk of the access policy, with its claim, station and token cases, and then the page texts
searched for each stored instant's UTC spelling.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session

from gonghui.core.auth import Role
from gonghui.core.clock import beijing
from gonghui.core.db import UTCDateTime
from gonghui.core.storage import ContentStore
from gonghui.insurance.store import BalanceStore
from gonghui.schema import metadata
from tests.conftest import NOW
from tests.web.test_access import (
    ANYONE,
    POLICY,
    _client_for,
    _concrete,
    walk_cases,
)
from tests.world import World

PATTERNS = ("%Y-%m-%d %H:%M", "%m-%d %H:%M", "%Y/%m/%d %H:%M")


def stored_moments(db: Session) -> set[datetime]:
    found: set[datetime] = set()
    for table in metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, UTCDateTime):
                found.update(v for v in db.scalars(select(column)) if v is not None)
    return found


def utc_spellings(moments: set[datetime]) -> dict[str, datetime]:
    """Each moment as a page would wrongly show it, unless the same text is also some moment's
    right (Beijing) spelling."""
    right = {beijing(moment, pattern) for moment in moments for pattern in PATTERNS}
    wrong = {
        moment.astimezone(UTC).strftime(pattern): moment
        for moment in moments
        for pattern in PATTERNS
    }
    return {text: moment for text, moment in wrong.items() if text not in right}


def _is_page(method: str, template: str) -> bool:
    return method == "GET" and not template.startswith(("/api/", "/static", "/metrics"))


@pytest.mark.parametrize("role", list(Role), ids=lambda role: role.value)
def test_no_page_shows_a_stored_moment_in_utc_nor_a_form_without_its_csrf_token(
    app: FastAPI,
    db: Session,
    world: World,
    store: BalanceStore,
    documents: ContentStore,
    role: Role,
) -> None:
    token, extra = walk_cases(db, world, store, documents)
    token.last_used_at = NOW
    db.commit()
    client = _client_for(app, world, role)  # signing in stamps the user's last login
    db.expire_all()
    wrong = utc_spellings(stored_moments(db))
    assert wrong, "the walk must hold moments whose UTC and Beijing spellings differ"
    found: list[str] = []
    for (method, template), allowed in sorted(POLICY.items()):
        if not _is_page(method, template) or not (allowed == ANYONE or role in allowed):
            continue
        path = _concrete(template, world, token.id, extra)
        response = client.get(path, follow_redirects=False)
        if not response.headers.get("content-type", "").startswith("text/html"):
            continue
        found += [f"{path}: {text} (UTC)" for text in wrong if text in response.text]
        # A form whose template imported the csrf macro without the page's context posts an
        # empty token, and every submit is refused (我的同意 did).
        if 'name="csrf_token" value=""' in response.text:
            found.append(f"{path}: a form with an empty csrf_token")
        # The member's home once held a whole form in its <title> (the tab showed its markup).
        title = response.text.partition("<title>")[2].partition("</title>")[0]
        if "<" in title:
            found.append(f"{path}: markup in the page title")
    assert found == []
