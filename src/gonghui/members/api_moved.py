"""The members API's paths from before its `/members` prefix (0.1.0: `/api/v1/units`, `/cards`,
`/imports`, `/banks`): each answers 308 Permanent Redirect to its new path, so a client's method,
body and headers go along, and none appears in the OpenAPI schema. The next release keeps them;
the one after (`REMOVED_IN`) deletes this module (README, "Where a request is handled").
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

REMOVED_IN = (0, 3)
NEW_PREFIX = "/members"
# The old path under the API prefix, and the methods it served.
MOVED: dict[str, tuple[str, ...]] = {
    "/units": ("GET",),
    "/units/{unit_id}": ("GET",),
    "/cards": ("GET",),
    "/imports": ("POST",),
    "/banks": ("GET", "POST"),
    "/banks/{bank_id}": ("POST",),
    "/banks/{bank_id}/retire": ("POST",),
}

router = APIRouter(include_in_schema=False)


def _redirect(old_path: str) -> Callable[[Request], RedirectResponse]:
    segments = old_path.count("/")

    def moved(request: Request) -> RedirectResponse:
        """The request's own path with `/members` after the API prefix, its query kept."""
        # Path parameters hold no "/": the old path is the request path's last segments.
        parts = request.url.path.split("/")
        target = "/".join([*parts[:-segments], NEW_PREFIX[1:], *parts[-segments:]])
        if request.url.query:
            target = f"{target}?{request.url.query}"
        return RedirectResponse(target, status_code=308)

    return moved


for old_path, methods in MOVED.items():
    router.add_api_route(
        old_path, _redirect(old_path), methods=list(methods), name=f"moved:{old_path}"
    )
