"""Every route the app serves, as (method, path template) pairs."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import FastAPI


def all_routes(app: FastAPI) -> set[tuple[str, str]]:
    return set(_walk(app.routes))


def _walk(routes: list[object]) -> Iterator[tuple[str, str]]:
    for route in routes:
        # FastAPI keeps included routers as branches; their effective routes carry the prefix.
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is not None:
            for context in contexts():
                for method in context.methods - {"HEAD"}:
                    # The template without converters: `{member_id}`, not `{member_id:int}`.
                    yield method, context.path_format
            continue
        methods = getattr(route, "methods", None) or set()
        path = getattr(route, "path", "")
        if path == "/static":
            yield "GET", "/static"
            continue
        for method in methods - {"HEAD"}:
            yield method, path
