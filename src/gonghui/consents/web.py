"""The person's own pages: 我的同意 (give and withdraw each consent) and 我的数据."""

from __future__ import annotations

import contextlib
import json
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from gonghui.consents import my_data
from gonghui.consents import service as consents
from gonghui.consents.rules import WORDINGS, Purpose, Subject
from gonghui.core.auth import Actor, Permission
from gonghui.core.clock import beijing
from gonghui.core.errors import Forbidden, InvalidInput, NotFound
from gonghui.core.tabular import Sheet, write_workbook
from gonghui.edge.deps import Csrf, Db, Now, PageActor, client_address, flash, render
from gonghui.edge.responses import download
from gonghui.wallet import queries as wallet_queries

router = APIRouter(include_in_schema=False)


def _subjects(db: Db, actor: Actor) -> dict[Subject, int]:
    """Who the actor is, as each kind of consent-giver: a member, an insured person, both."""
    found: dict[Subject, int] = {}
    if actor.member_id is not None and actor.can(Permission.OWN_PROFILE):
        found[Subject.MEMBER] = actor.member_id
    if actor.can(Permission.WALLET_USE):
        with contextlib.suppress(NotFound):
            found[Subject.INSURED] = wallet_queries.own_insured_id(db, actor)
    if not found:
        raise Forbidden
    return found


@router.get("/me/consents")
def consents_page(request: Request, db: Db, actor: PageActor) -> Response:
    subjects = _subjects(db, actor)
    items = [
        {
            "purpose": purpose,
            "wording": wording,
            "given": consents.has_consent(db, wording.subject, subjects[wording.subject], purpose),
        }
        for purpose, wording in WORDINGS.items()
        if wording.subject in subjects
    ]
    held = [c for subject, sid in subjects.items() for c in consents.history(db, subject, sid)]
    return render(
        request,
        "consents/consents.html",
        {"items": items, "history": held, "wordings": WORDINGS},
        actor=actor,
    )


@router.post("/me/consents/{purpose}", dependencies=[Csrf])
def decide(
    request: Request,
    purpose: Purpose,
    db: Db,
    now: Now,
    actor: PageActor,
    decision: Annotated[str, Form()] = "",
) -> Response:
    wording = WORDINGS[purpose]
    subject_id = _subjects(db, actor).get(wording.subject)
    if subject_id is None:
        raise Forbidden
    client = client_address(request)
    if decision == "give":
        consents.give(db, wording.subject, subject_id, purpose, actor=actor, now=now, client=client)
        message = f"已同意《{wording.title}》（第{wording.version}版）"
    elif decision == "withdraw":
        consents.withdraw(
            db, wording.subject, subject_id, purpose, actor=actor, now=now, client=client
        )
        message = f"已撤回《{wording.title}》。{wording.on_withdrawal}"
    else:
        raise InvalidInput("bad_decision", "请选择同意或撤回")
    flash(request, message)
    return RedirectResponse("/me/consents", status_code=303)


@router.get("/me/data")
def my_data_page(request: Request, db: Db, now: Now, actor: PageActor) -> Response:
    _subjects(db, actor)
    sections = my_data.my_data(db, actor, now)
    return render(request, "consents/my_data.html", {"sections": sections}, actor=actor)


@router.get("/me/data.json")
def my_data_json(db: Db, now: Now, actor: PageActor) -> Response:
    _subjects(db, actor)
    sections = my_data.my_data(db, actor, now)
    body = {
        "exported_at": beijing(now, "%Y-%m-%dT%H:%M:%S+08:00"),
        "sections": {
            s.key: {
                "title": s.title,
                "rows": [dict(zip(s.headers, row, strict=True)) for row in s.rows],
            }
            for s in sections
        },
    }
    content = json.dumps(body, ensure_ascii=False, indent=2).encode()
    return download(content, "我的数据.json", "application/json")


@router.get("/me/data.xlsx")
def my_data_xlsx(db: Db, now: Now, actor: PageActor) -> Response:
    _subjects(db, actor)
    sections = my_data.my_data(db, actor, now)
    sheets = [Sheet(s.title[:31], s.headers, s.rows, s.headers) for s in sections]
    return download(write_workbook(sheets), "我的数据.xlsx")
