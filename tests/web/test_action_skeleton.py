"""The transaction of a page or API action is the request's (`edge.deps.get_db`): the handler
returns and its work commits, or it raises and nothing stays. These read the handlers' code, so
that a new one cannot quietly go back to committing by hand, nor keep half of a refused change."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import gonghui

SOURCES = Path(gonghui.__file__).parent
ROUTE_DECORATORS = {"get", "post", "put", "patch", "delete"}
CHANGES = ROUTE_DECORATORS - {"get"}
# Refusals whose attempt must stay, for a throttle or a lock to count it: the handler returns
# the page again without rolling back, and the request commits the attempt.
KEPT_REFUSALS = {("web/pages.py", "login"), ("web/pages.py", "second_step")}


def handlers(
    methods: set[str] = ROUTE_DECORATORS,
) -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    for path in sorted(SOURCES.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and any(
                isinstance(d, ast.Call)
                and isinstance(d.func, ast.Attribute)
                and d.func.attr in methods
                for d in node.decorator_list
            ):
                yield path.relative_to(SOURCES).as_posix(), node


def calls(node: ast.AST, method: str) -> bool:
    return any(
        isinstance(inner, ast.Call)
        and isinstance(inner.func, ast.Attribute)
        and inner.func.attr == method
        for inner in ast.walk(node)
    )


def test_the_walk_finds_the_handlers() -> None:
    assert len(list(handlers())) > 100


def test_no_handler_commits_by_hand() -> None:
    committing = [
        f"{where}:{fn.lineno} {fn.name}" for where, fn in handlers() if calls(fn, "commit")
    ]
    assert committing == []


def test_a_refusal_answered_with_a_page_undoes_what_the_refused_work_wrote() -> None:
    """A handler that catches a refusal and answers with a page (not by raising) has returned,
    so the request would commit whatever the service wrote before it refused."""
    keeping: list[str] = []
    for where, fn in handlers(CHANGES):
        for node in ast.walk(fn):
            if not isinstance(node, ast.ExceptHandler) or (where, fn.name) in KEPT_REFUSALS:
                continue
            answered = not any(isinstance(s, ast.Raise) for s in node.body)
            if answered and not calls(node, "rollback") and _answers_without_a_refusal_helper(node):
                keeping.append(f"{where}:{node.lineno} {fn.name}")
    assert keeping == []


def _answers_without_a_refusal_helper(handler: ast.ExceptHandler) -> bool:
    """Whether the except block answers through a helper that does not roll back itself (the
    helpers named `_refused*` do, and are checked below)."""
    return not any(
        isinstance(inner, ast.Call)
        and isinstance(inner.func, ast.Name)
        and inner.func.id.startswith("_refused")
        for inner in ast.walk(handler)
    )


def test_the_refusal_helpers_roll_back() -> None:
    helpers = [
        (path.relative_to(SOURCES).as_posix(), node)
        for path in sorted(SOURCES.rglob("*.py"))
        if path.stem.startswith("web") or path.parent.name in ("web", "edge")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.FunctionDef) and node.name.startswith("_refused")
    ]
    assert helpers
    assert [f"{where} {fn.name}" for where, fn in helpers if not calls(fn, "rollback")] == []
