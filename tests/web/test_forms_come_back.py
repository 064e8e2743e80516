"""No refusal is a dead-end page: every form on every page, posted with bad values, comes back.

Each role walks every page it may open (the access policy's walk), and every form with
something to fill in on those pages is posted once the way a careless or hostile person would
fill it in: every field that takes text, a number or a date gets text that is none of them, every
drop-down a value it does not offer, every box unticked, no file. Whatever the handler makes of
that, the answer is never the error page: a refusal shows the same form again, with the message
in it and what was typed still there; anything the bad values did not stop ends on a page of its
own.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gonghui.core.audit import AuditEntry
from gonghui.core.auth import Role
from gonghui.core.storage import ContentStore
from gonghui.insurance.store import BalanceStore
from tests.web.test_access import (
    ANYONE,
    POLICY,
    _client_for,
    _concrete,
    walk_cases,
)
from tests.world import World, csrf_of

BAD = "坏值<x>"
ERROR_PAGE_TITLES = ("<title>出错了", "无法完成请求</h1>", "无权访问</h1>", "未找到</h1>")
# Forms whose whole purpose is to end what the walk needs: they have nothing to fill in anyway.
NOT_POSTED = ("/logout",)
TEXT_LIKE = {"text", "number", "date", "month", "email", "tel", "search", "url", "password"}


@dataclass
class Form:
    action: str
    multipart: bool
    fields: list[tuple[str, str]] = field(default_factory=list)  # what a browser would send
    to_fill: list[str] = field(default_factory=list)  # names a person types or picks
    typed: list[str] = field(default_factory=list)  # of them, those typed (not a password)


class Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self._form: Form | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {key: value or "" for key, value in attrs}
        kind = a.get("type", "text") if tag == "input" else tag
        if tag == "form" and a.get("method", "get").lower() == "post":
            self._form = Form(a.get("action", ""), "multipart" in a.get("enctype", ""))
            self.forms.append(self._form)
        elif self._form is None or "name" not in a or tag not in ("input", "select", "textarea"):
            return
        elif kind == "hidden":
            self._form.fields.append((a["name"], a.get("value", "")))
        elif kind in ("checkbox", "radio", "file"):  # left unticked, sent without a file
            self._form.to_fill.append(a["name"])
        elif kind in TEXT_LIKE or kind in ("select", "textarea"):
            self._form.fields.append((a["name"], BAD))
            self._form.to_fill.append(a["name"])
            if kind not in ("select", "password"):  # what the form can show again as typed
                self._form.typed.append(a["name"])

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None


def forms_on(html: str) -> list[Form]:
    parser = Forms()
    parser.feed(html)
    return [form for form in parser.forms if form.to_fill and form.action not in NOT_POSTED]


def dead_end(html: str) -> bool:
    return any(title in html for title in ERROR_PAGE_TITLES)


@pytest.mark.parametrize("role", list(Role), ids=lambda role: role.value)
def test_every_form_posted_with_bad_values_comes_back_with_its_message_and_values(
    app: FastAPI,
    db: Session,
    world: World,
    store: BalanceStore,
    documents: ContentStore,
    role: Role,
) -> None:
    token, extra = walk_cases(db, world, store, documents)
    client = _client_for(app, world, role)
    posted: set[str] = set()
    found: list[str] = []
    for page, form in _forms_for(client, role, world, token.id, extra):
        if form.action in posted:
            continue
        posted.add(form.action)
        found += _post_badly(client, page, form)
    assert posted, "the walk must find forms to post"
    assert found == []


# Pasted from a PDF or a spreadsheet, text can carry control characters nobody sees:
# PostgreSQL cannot store a NUL, and a workbook cannot hold any of them (the export fails).
HIDDEN_CONTROL = "坏\x00值\x01"


@pytest.mark.parametrize("role", list(Role), ids=lambda role: role.value)
def test_every_form_refuses_a_control_character_and_comes_back_with_its_message(
    app: FastAPI,
    db: Session,
    world: World,
    store: BalanceStore,
    documents: ContentStore,
    role: Role,
) -> None:
    token, extra = walk_cases(db, world, store, documents)
    client = _client_for(app, world, role)
    posted: set[str] = set()
    found: list[str] = []
    for page, form in _forms_for(client, role, world, token.id, extra):
        if form.action in posted or not any(value == BAD for _, value in form.fields):
            continue
        posted.add(form.action)
        fields = [(name, HIDDEN_CONTROL if value == BAD else value) for name, value in form.fields]
        answer = client.post(
            form.action or page,
            data=dict(_merged(fields)),
            files={"_nothing": ("", b"", "application/octet-stream")} if form.multipart else None,
            headers={"Referer": f"http://testserver{page}"},
            follow_redirects=False,
        )
        shown_again = f'action="{form.action}"' in answer.text and 'role="alert"' in answer.text
        if answer.status_code != 422 or not shown_again or "控制字符" not in answer.text:
            found.append(f"{page} → POST {form.action}: {answer.status_code}")
    assert posted, "the walk must find forms to post"
    assert found == []


def _forms_for(
    client: TestClient, role: Role, world: World, token_id: int, extra: dict[str, str]
) -> Iterator[tuple[str, Form]]:
    for (method, template), allowed in sorted(POLICY.items()):
        if method != "GET" or template.startswith(("/api/", "/static", "/metrics")):
            continue
        if not (allowed == ANYONE or role in allowed):
            continue
        page = _concrete(template, world, token_id, extra)
        shown = client.get(page, follow_redirects=False)
        if shown.headers.get("content-type", "").startswith("text/html"):
            for form in forms_on(shown.text):
                yield page, form


def _post_badly(client: TestClient, page: str, form: Form) -> list[str]:
    files = {"_nothing": ("", b"", "application/octet-stream")} if form.multipart else None
    answer = client.post(
        form.action or page,
        data=dict(_merged(form.fields)),
        files=files,
        headers={"Referer": f"http://testserver{page}"},
        follow_redirects=False,
    )
    where = f"{page} → POST {form.action}"
    if answer.status_code >= 500:
        return [f"{where}: {answer.status_code}"]
    if answer.is_redirect:
        landed = client.get(answer.headers["location"], follow_redirects=True)
        return [f"{where}: redirected to an error page"] if dead_end(landed.text) else []
    if dead_end(answer.text):
        return [f"{where}: the error page ({answer.status_code})"]
    problems = []
    if f'action="{form.action}"' not in answer.text:
        problems.append(f"{where}: the form is not shown again")
    if answer.status_code >= 400 and 'role="alert"' not in answer.text:
        problems.append(f"{where}: refused ({answer.status_code}) without a message")
    if answer.status_code >= 400 and form.typed and "坏值&lt;x&gt;" not in answer.text:
        problems.append(f"{where}: what was typed is gone")
    return problems


def _merged(fields: list[tuple[str, str]]) -> dict[str, list[str]]:
    merged: dict[str, list[str]] = {}
    for name, value in fields:
        merged.setdefault(name, []).append(value)
    return merged


@pytest.mark.parametrize("download", ["/exports/members.xlsx", "/admin/audit/export.csv"])
def test_a_refused_form_naming_a_download_as_its_page_does_not_make_the_download(
    app: FastAPI, db: Session, world: World, download: str
) -> None:
    # The page a refused form comes back on is rendered by its GET: naming an export made
    # every refusal run that export (a minute on the demo federation's roll) and record an
    # "ID numbers exported" audit row for a file nobody received.
    client = _client_for(app, world, Role.ADMIN)
    before = db.scalar(select(func.count()).select_from(AuditEntry))
    answer = client.post(
        f"/members/{world.member_a}/status",
        data={"csrf_token": csrf_of(client, "/home"), "form_page": download, "status": "坏值"},
        follow_redirects=False,
    )
    assert answer.status_code == 422
    assert db.scalar(select(func.count()).select_from(AuditEntry)) == before
