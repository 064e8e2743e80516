"""The audit administrator's page: search the log, page through it, export what was found."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from gonghui.auditing import queries
from gonghui.core.auth import Actor, Permission
from gonghui.core.clock import beijing
from gonghui.core.tabular import write_csv, write_xlsx
from gonghui.edge.deps import Db, Now, PageNo, permitted, render
from gonghui.edge.responses import download
from gonghui.edge.viewlog import record_view

router = APIRouter(include_in_schema=False)

Reader = Annotated[Actor, Depends(permitted(Permission.AUDIT_READ))]


def _typed(request: Request) -> dict[str, str]:
    return {name: request.query_params.get(name, "") for name in queries.FIELDS}


@router.get("/admin/audit")
def audit_page(request: Request, db: Db, actor: Reader, page: PageNo = 1) -> Response:
    search, form = queries.parse_search(_typed(request))
    if search is None:
        return render(
            request,
            "auditing/audit.html",
            {"form": form, "results": None, "query": ""},
            actor=actor,
            status_code=422,
        )
    results = queries.search_entries(db, actor, search, page)
    return render(
        request,
        "auditing/audit.html",
        {"form": form, "results": results, "query": urlencode(search.query_string())},
        actor=actor,
    )


@router.get("/admin/audit/export.xlsx")
def audit_export_xlsx(request: Request, db: Db, now: Now, actor: Reader) -> Response:
    return _export(request, db, now, actor, "xlsx")


@router.get("/admin/audit/export.csv")
def audit_export_csv(request: Request, db: Db, now: Now, actor: Reader) -> Response:
    return _export(request, db, now, actor, "csv")


def _export(request: Request, db: Db, now: datetime, actor: Actor, kind: str) -> Response:
    search, form = queries.parse_search(_typed(request))
    if search is None:
        return render(
            request,
            "auditing/audit.html",
            {"form": form, "results": None, "query": ""},
            actor=actor,
            status_code=422,
        )
    rows = list(queries.export_rows(db, actor, search))
    # Exports say who exported what and when: the export is itself an audit row.
    record_view(
        request,
        db,
        actor=actor,
        now=now,
        action="audit.exported",
        target_type="audit_log",
        target_ids=["search"],
        detail={"search": search.query_string(), "rows": len(rows), "format": kind},
    )
    filename = f"审计日志-{beijing(now, '%Y%m%d-%H%M')}.{kind}"
    if kind == "csv":
        return download(
            write_csv(queries.EXPORT_HEADERS, rows), filename, "text/csv; charset=utf-8"
        )
    content = write_xlsx(
        "审计日志", queries.EXPORT_HEADERS, rows, text_columns=queries.EXPORT_HEADERS
    )
    return download(content, filename)
