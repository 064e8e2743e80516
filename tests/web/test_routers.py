"""Every router is registered in one place, `web/app.py`, exactly once, and none inside another:
to find where a request is handled, read the list in `create_app` and open the module."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

from fastapi import APIRouter, FastAPI

import gonghui

SOURCES = Path(gonghui.__file__).parent


def _defined_routers() -> dict[str, APIRouter]:
    """Every module-level `name = APIRouter(...)` in the package, by `module.name`."""
    found: dict[str, APIRouter] = {}
    for source in sorted(SOURCES.rglob("*.py")):
        text = source.read_text(encoding="utf-8")
        if "APIRouter(" not in text:
            continue
        relative = source.relative_to(SOURCES.parent).with_suffix("")
        module = importlib.import_module(".".join(relative.parts))
        for name in _router_names(ast.parse(text)):
            found[f"{module.__name__}.{name}"] = getattr(module, name)
    return found


def _router_names(tree: ast.Module) -> list[str]:
    names = []
    for node in tree.body:
        value = node.value if isinstance(node, ast.Assign | ast.AnnAssign) else None
        if not (isinstance(value, ast.Call) and ast.unparse(value.func).endswith("APIRouter")):
            continue
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        names += [target.id for target in targets if isinstance(target, ast.Name)]
    return names


def _included(routes: list[object]) -> list[APIRouter]:
    # FastAPI keeps an included router as a branch that refers to the router itself.
    return [route.original_router for route in routes if hasattr(route, "original_router")]


def test_the_scan_finds_the_routers_of_every_module() -> None:
    defined = _defined_routers()
    assert {"gonghui.members.api.router", "gonghui.stations.web_work.router"} <= set(defined)
    assert all(isinstance(router, APIRouter) for router in defined.values())


def test_the_app_registers_every_router_exactly_once(app: FastAPI) -> None:
    included = _included(app.router.routes)
    times = {
        name: sum(other is router for other in included)
        for name, router in _defined_routers().items()
    }
    assert {name: count for name, count in times.items() if count != 1} == {}
    assert len(included) == len(times)


def test_no_router_includes_another() -> None:
    nesting = [name for name, router in _defined_routers().items() if _included(router.routes)]
    assert nesting == []
