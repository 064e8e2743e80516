"""Domain errors mapped to HTTP in one place: JSON under /api, a Chinese page elsewhere."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException
from starlette.routing import Match

from gonghui.core.errors import DomainError, ImportRejected, Unauthenticated
from gonghui.core.logging import get_logger
from gonghui.web.deps import render

log = get_logger("gonghui.web")

_HTTP_MESSAGES = {
    404: ("not_found", "页面不存在"),
    405: ("method_not_allowed", "不支持该请求方式"),
}


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _error_body(code: str, message: str, details: list[Any] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if details:
        error["details"] = details
    return {"error": error}


def _page(request: Request, status: int, code: str, message: str) -> Response:
    return render(
        request,
        "error.html",
        {"status": status, "code": code, "message": message},
        actor=getattr(request.state, "actor", None),
        status_code=status,
    )


async def on_domain_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, DomainError)  # noqa: S101 - registered for DomainError only
    log.info("request.refused", path=request.url.path, code=error.code, status=error.http_status)
    details = [str(line) for line in error.errors] if isinstance(error, ImportRejected) else None
    if _is_api(request):
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(error, Unauthenticated) else None
        return JSONResponse(
            _error_body(error.code, error.message, details), error.http_status, headers=headers
        )
    if isinstance(error, Unauthenticated):
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
    return _page(request, error.http_status, error.code, error.message)


async def on_validation_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)  # noqa: S101
    fields = [".".join(str(part) for part in item["loc"][1:]) for item in error.errors()]
    message = "请求参数不正确：" + "、".join(sorted(set(fields)))
    if _is_api(request):
        # Only where and what: the raw input may be bytes, and need not be echoed back.
        details = [
            {"loc": [str(part) for part in item["loc"]], "msg": str(item["msg"])}
            for item in error.errors()
        ]
        return JSONResponse(_error_body("invalid_request", message, details), 422)
    return _page(request, 422, "invalid_request", message)


async def on_http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)  # noqa: S101
    code, message = _HTTP_MESSAGES.get(error.status_code, ("http_error", str(error.detail)))
    headers = dict(error.headers or {})
    if error.status_code == 405:  # noqa: PLR2004 - Method Not Allowed
        headers["Allow"] = ", ".join(sorted(_allowed_methods(request))) or headers.get("Allow", "")
    if _is_api(request):
        return JSONResponse(_error_body(code, message), error.status_code, headers=headers)
    page = _page(request, error.status_code, code, message)
    page.headers.update(headers)
    return page


def _allowed_methods(request: Request) -> set[str]:
    """Every method some route serves at this path: Starlette names only those of the first
    route that matched the path, and a page's GET and POST are two routes."""
    allowed: set[str] = set()
    for route in request.app.router.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        for candidate in contexts() if contexts is not None else [route]:
            methods = getattr(candidate, "methods", None)
            if methods and candidate.matches(request.scope)[0] is not Match.NONE:
                allowed |= set(methods)
    return allowed


def install(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, on_domain_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(HTTPException, on_http_error)
