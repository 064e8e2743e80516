"""Domain errors mapped to HTTP in one place: JSON under /api, a Chinese page elsewhere.

The JSON body of every refusal is `ErrorOut`, and the API's OpenAPI schema documents it for
each status an operation can answer with (`document_refusals`)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, Match

from gonghui.core.errors import DomainError, ImportRejected, Unauthenticated
from gonghui.core.logging import get_logger
from gonghui.edge.deps import UNSAFE_METHODS, ActionRequired, api_actor, flash, render
from gonghui.edge.form_again import form_again

log = get_logger("gonghui.web")

_HTTP_MESSAGES = {
    # Raised by the framework only: a body that is not UTF-8 JSON, or a broken multipart form.
    400: ("malformed_body", "请求内容无法解析：应为 UTF-8 编码的 JSON 或完整的表单"),
    404: ("not_found", "页面不存在"),
    405: ("method_not_allowed", "不支持该请求方式"),
}


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


class FieldIssue(BaseModel):
    """Where a request was malformed, and how."""

    loc: list[str]
    msg: str


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable, for machines (e.g. `not_found`, `amount_invalid`)")
    message: str = Field(description="In Chinese, for people")
    details: list[FieldIssue | str] | None = Field(
        default=None, description="The bad fields of a request, or the bad lines of a file"
    )


class ErrorOut(BaseModel):
    """The body of every refusal under /api."""

    error: ErrorDetail


def _error_body(
    code: str, message: str, details: list[FieldIssue | str] | None = None
) -> dict[str, Any]:
    body = ErrorOut(error=ErrorDetail(code=code, message=message, details=details or None))
    return body.model_dump(exclude_none=True)


def _page(request: Request, status: int, code: str, message: str) -> Response:
    return render(
        request,
        "error.html",
        {"status": status, "code": code, "message": message},
        actor=getattr(request.state, "actor", None),
        status_code=status,
    )


async def _refused_form(
    request: Request, status: int, code: str, message: str, invalid: Collection[str] = ()
) -> Response:
    """A refused form comes back with the message (never a dead-end page); anything else that
    is refused, or a form that cannot be found again, gets the error page."""
    if request.method in UNSAFE_METHODS:
        again = await form_again(request, message, status, invalid)
        if again is not None:
            return again
    return _page(request, status, code, message)


async def on_domain_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, DomainError)  # noqa: S101 - registered for DomainError only
    log.info("request.refused", path=request.url.path, code=error.code, status=error.http_status)
    details: list[FieldIssue | str] | None = (
        [str(line) for line in error.errors] if isinstance(error, ImportRejected) else None
    )
    if _is_api(request):
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(error, Unauthenticated) else None
        return JSONResponse(
            _error_body(error.code, error.message, details), error.http_status, headers=headers
        )
    if isinstance(error, Unauthenticated):
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
    if isinstance(error, ActionRequired):
        flash(request, error.message, "error")
        return RedirectResponse(error.location, status_code=303)
    return await _refused_form(request, error.http_status, error.code, error.message, error.fields)


async def on_validation_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)  # noqa: S101
    fields = [".".join(str(part) for part in item["loc"][1:]) for item in error.errors()]
    message = "请求参数不正确：" + "、".join(sorted(set(fields)))
    if _is_api(request):
        # Only where and what: the raw input may be bytes, and need not be echoed back.
        details: list[FieldIssue | str] = [
            FieldIssue(loc=[str(part) for part in item["loc"]], msg=str(item["msg"]))
            for item in error.errors()
        ]
        return JSONResponse(_error_body("invalid_request", message, details), 422)
    invalid = {str(item["loc"][-1]) for item in error.errors() if item["loc"][:1] == ("body",)}
    if request.method in UNSAFE_METHODS and invalid:
        again = await form_again(request, "填写有误，请检查标红的项目", 422, invalid)
        if again is not None:
            return again
    return await _refused_form(request, 422, "invalid_request", message)


async def on_http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)  # noqa: S101
    if isinstance(error.__cause__, DomainError):
        # FastAPI answers any failure to read a JSON body as a 400; a body refused while it
        # was read (`web.middleware.BodyLimit`) keeps its own answer.
        return await on_domain_error(request, error.__cause__)
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


_REFUSALS = {
    400: "请求无法处理",
    401: "未登录，或接口令牌无效（`Authorization: Bearer …`）",
    403: "无权执行此操作，或修改请求缺少正确的 `X-CSRF-Token` 请求头",
    404: "记录不存在或无权查看",
    409: "与当前状态冲突（如重复提交、状态已变）",
    422: "请求参数不正确，或业务规则不允许",
    429: "尝试过于频繁，请稍后再试",
}


def refusals(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for refusals, each with the `ErrorOut` body: for a route that can
    answer with one that `document_refusals` cannot infer from its signature."""
    return {status: {"model": ErrorOut, "description": _REFUSALS[status]} for status in statuses}


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for inner in dependant.dependencies:
        yield from _dependants(inner)


def _inferred_refusals(route: RouteContext) -> list[int]:
    """The refusals a route's signature implies: a body that may not parse (400), the API's
    caller check (401, 403), an id in the path that may name nothing the caller can see (404),
    a change that may meet a state it cannot apply to (409), and any input at all (422)."""
    dependant: Dependant = route.dependant
    parts = list(_dependants(dependant))
    statuses = [400] if route.body_field is not None else []
    if any(part.call is api_actor for part in parts):
        statuses += [401, 403]
    if dependant.path_params:
        statuses.append(404)
    if (route.methods or set()) & UNSAFE_METHODS:
        statuses.append(409)
    if route.body_field is not None or any(
        part.path_params or part.query_params or part.header_params or part.cookie_params
        for part in parts
    ):
        statuses.append(422)
    return statuses


def _error_schemas() -> dict[str, Any]:
    schema = ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
    return {**schema.pop("$defs", {}), ErrorOut.__name__: schema}


def document_refusals(schema: dict[str, Any], routes: list[BaseRoute], prefix: str) -> None:
    """Add the refusals each API route can answer with to its operation in `schema`, with the
    body the handlers above really send (FastAPI's own 422 model is not what this app sends).
    A status a route documents itself (`refusals`) is left as it is, but for 422."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name, definition in _error_schemas().items():
        components.setdefault(name, definition)
    body = {"application/json": {"schema": {"$ref": f"#/components/schemas/{ErrorOut.__name__}"}}}
    for route in iter_route_contexts(routes):
        path = route.path_format or ""
        if not isinstance(route.original_route, APIRoute) or not path.startswith(prefix):
            continue
        for method in route.methods or ():
            operation = schema["paths"].get(path, {}).get(method.lower())
            if operation is None:  # not in the schema
                continue
            answers = operation["responses"]
            for status in _inferred_refusals(route):
                if status == 422 or str(status) not in answers:  # noqa: PLR2004
                    answers[str(status)] = {"description": _REFUSALS[status], "content": body}
            operation["responses"] = dict(sorted(answers.items()))
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)


def install(app: FastAPI, *, api_prefix: str) -> None:
    app.add_exception_handler(DomainError, on_domain_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(HTTPException, on_http_error)
    build_schema: Callable[[], dict[str, Any]] = app.openapi

    def schema_with_refusals() -> dict[str, Any]:
        # Built at the first request for it: every router is included by then, whatever the
        # order `create_app` includes them in. FastAPI keeps the schema it built; adding the
        # refusals to it again changes nothing.
        schema = build_schema()
        document_refusals(schema, app.routes, api_prefix)
        return schema

    app.openapi = schema_with_refusals  # type: ignore[method-assign]
