"""A refused form comes back: never a dead-end page.

When a page's POST is refused (a rule, a bad value, a malformed field), the answer is the page
the form was on, rendered again as its GET would render it, with the message at the top of that
form (unfolded, if it sits in a closed `<details>`), the fields the refusal names marked, and
what the person typed put back. Nothing is kept
between requests: the values come from the refused request itself, so an ID number typed into
a form never travels in a cookie. What is never put back: passwords, hidden fields (a fresh
idempotency key and CSRF token come with the page) and files.

The page is found from the form's own `form_page` field (the `csrf` macro writes it into every
form) or else from a same-origin `Referer`; without either, or when the form is not on that
page, the refusal falls back to the error page. A body that cannot be read (too large, or a
broken form) gives its page back from the `Referer`, with the message and nothing typed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, MutableMapping
from dataclasses import dataclass, field
from html import escape
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from starlette.types import Message

FORM_PAGE_FIELD = "form_page"
_NOT_PUT_BACK = frozenset({"hidden", "password", "file", "submit", "button", "image", "reset"})
_CHOICES = frozenset({"checkbox", "radio"})
# What the page's GET shares with the refused POST: who is asking, over which connection, in
# which signed-in session. Not the body, its headers, nor what routing stored for the POST.
_CARRIED = (
    "type", "asgi", "http_version", "scheme", "server", "client", "root_path", "app", "session",
    "state", "starlette.exception_handlers", "fastapi_middleware_astack",
)  # fmt: skip
_DROPPED_HEADERS = frozenset({b"content-type", b"content-length", b"transfer-encoding"})


async def form_again(
    request: Request, message: str, status: int, invalid: Collection[str] = ()
) -> Response | None:
    """The refused form's page with `message`, or None when it cannot be shown again."""
    try:
        posted = await request.form()
        values = [(name, value) for name, value in posted.multi_items() if isinstance(value, str)]
    except Exception:  # noqa: BLE001 - a body too large or broken: the page, found by its Referer,
        values = []  # comes back with the message and without what was typed
    page = form_page(request, dict(values).get(FORM_PAGE_FIELD, ""))
    if page is None:
        return None
    html = await _page_html(request, page)
    if html is None:
        return None
    refilled = refill(html, request.url.path, values, message, invalid)
    return None if refilled is None else HTMLResponse(refilled, status_code=status)


def form_page(request: Request, named: str) -> str | None:
    """The page (path and query) the form was posted from: the one it names, or the referrer
    when that is this site. Never an API path, never another host, never a download (a path
    ending in a file name, such as /exports/members.xlsx): the page is rendered by its GET,
    and an export's GET is a minute's work and an audit row for a file nobody receives."""
    for candidate in (named, request.headers.get("referer", "")):
        parts = urlsplit(candidate)
        if parts.netloc and parts.netloc != request.url.netloc:
            continue
        path = parts.path
        if "." in path.rsplit("/", 1)[-1]:
            continue
        if path.startswith("/") and not path.startswith(("//", "/api/")):
            return path + (f"?{parts.query}" if parts.query else "")
    return None


async def _page_html(request: Request, page: str) -> str | None:
    """The page as its GET renders it now, through the app's own routes."""
    path, _, query = page.partition("?")
    scope: MutableMapping[str, Any] = {k: request.scope[k] for k in _CARRIED if k in request.scope}
    scope.update(
        method="GET",
        path=path,
        raw_path=path.encode(),
        query_string=query.encode(),
        headers=[(k, v) for k, v in request.scope["headers"] if k not in _DROPPED_HEADERS],
    )
    started: dict[str, Any] = {}
    body: list[bytes] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            started.update(message)
        elif message["type"] == "http.response.body":
            body.append(message.get("body", b""))

    await request.app.router(scope, receive, send)
    content_type = dict(started.get("headers", [])).get(b"content-type", b"")
    if started.get("status") != 200 or not content_type.startswith(b"text/html"):  # noqa: PLR2004
        return None
    return b"".join(body).decode()


@dataclass
class _Field:
    tag: str
    attrs: list[tuple[str, str | None]]
    start: int
    end: int
    closing: bool = False  # written `<input … />`
    inner: tuple[int, int] | None = None  # a textarea's text
    options: list[_Field] = field(default_factory=list)  # a select's

    def get(self, name: str) -> str | None:
        return next((value for key, value in self.attrs if key == name), None)

    def kind(self) -> str:
        return (self.get("type") or "text").lower() if self.tag == "input" else self.tag


@dataclass
class _Form:
    action: str
    start: int
    end: int
    fields: list[_Field] = field(default_factory=list)
    folded_in: list[_Field] = field(default_factory=list)  # the <details> around it


class _Forms(HTMLParser):
    """Every form of a page with its fields and where each sits in the text."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self._lines = [0]
        for line in html.splitlines(keepends=True):
            self._lines.append(self._lines[-1] + len(line))
        self.forms: list[_Form] = []
        self._form: _Form | None = None
        self._select: _Field | None = None
        self._textarea: _Field | None = None
        self._details: list[_Field] = []
        self.feed(html)
        self.close()

    def _here(self) -> int:
        line, column = self.getpos()
        return self._lines[line - 1] + column

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        start, text = self._here(), self.get_starttag_text() or ""
        element = _Field(tag, attrs, start, start + len(text), closing=text.endswith("/>"))
        if tag == "details":
            self._details.append(element)
        elif tag == "form":
            self._form = _Form(element.get("action") or "", start, element.end)
            self._form.folded_in = list(self._details)
        elif self._form is None:
            return
        elif tag == "option" and self._select is not None:
            self._select.options.append(element)
        elif tag in ("input", "select", "textarea"):
            self._form.fields.append(element)
            self._select = element if tag == "select" else self._select
            self._textarea = element if tag == "textarea" else None

    def handle_endtag(self, tag: str) -> None:
        if tag == "details" and self._details:
            self._details.pop()
        elif tag == "form" and self._form is not None:
            self.forms.append(self._form)
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            self._textarea.inner = (self._textarea.end, self._here())
            self._textarea = None


def refill(
    html: str,
    action: str,
    values: Iterable[tuple[str, str]],
    message: str,
    invalid: Collection[str] = (),
) -> str | None:
    """`html` with its form posting to `action` given back `values` and `message`; None when no
    form on the page posts there."""
    posted: dict[str, list[str]] = defaultdict(list)
    for name, value in values:
        posted[name].append(value)
    form = _the_form(_Forms(html).forms, action, posted)
    if form is None:
        return None
    notice = f'<p class="flash error form-error" role="alert">{escape(message)}</p>'
    edits = [(form.end, form.end, notice)]
    # A form folded away in <details> is unfolded, or its message would not be seen.
    edits += [
        (details.start, details.end, _tag(details, _with(details.attrs, "open", on=True)))
        for details in form.folded_in
    ]
    taken: dict[str, int] = defaultdict(int)
    for element in form.fields:
        name = element.get("name") or ""
        edits += _put_back(element, posted.get(name), taken[name], name in invalid)
        taken[name] += 1
    for start, end, text in sorted(edits, key=lambda edit: edit[0], reverse=True):
        html = html[:start] + text + html[end:]
    return html


def _the_form(forms: list[_Form], action: str, posted: dict[str, list[str]]) -> _Form | None:
    """The form that was posted: it posts to `action`, and among several (one per row of a
    table) the one whose hidden fields match what was sent."""
    candidates = [form for form in forms if urlsplit(form.action).path == action]

    def hidden_match(form: _Form) -> bool:
        return all(
            element.get("value") in posted.get(element.get("name") or "", [])
            for element in form.fields
            if element.kind() == "hidden" and element.get("name") not in ("csrf_token", None)
        )

    return next((form for form in candidates if hidden_match(form)), None) or next(
        iter(candidates), None
    )


def _put_back(
    element: _Field, sent: list[str] | None, index: int, invalid: bool
) -> list[tuple[int, int, str]]:
    kind = element.kind()
    if kind in _NOT_PUT_BACK or (sent is None and kind not in _CHOICES):
        return [_marked(element)] if invalid else []
    sent = sent or []
    attrs = [(k, v) for k, v in element.attrs if k != "aria-invalid"]
    if invalid:
        attrs.append(("aria-invalid", "true"))
    if kind in _CHOICES:
        attrs = _with(attrs, "checked", (element.get("value") or "on") in sent)
    elif kind == "select":
        return [
            (element.start, element.end, _tag(element, attrs)),
            *(
                (option.start, option.end, _tag(option, _with(option.attrs, "selected", chosen)))
                for option in element.options
                for chosen in [(option.get("value") or "") in sent]
            ),
        ]
    elif kind == "textarea":
        text = sent[index] if index < len(sent) else ""
        start, end = element.inner or (element.end, element.end)
        return [(element.start, element.end, _tag(element, attrs)), (start, end, escape(text))]
    else:
        text = sent[index] if index < len(sent) else ""
        attrs = [(k, v) for k, v in attrs if k != "value"] + [("value", text)]
    return [(element.start, element.end, _tag(element, attrs))]


def _marked(element: _Field) -> tuple[int, int, str]:
    attrs = [(k, v) for k, v in element.attrs if k != "aria-invalid"] + [("aria-invalid", "true")]
    return (element.start, element.end, _tag(element, attrs))


def _with(attrs: list[tuple[str, str | None]], flag: str, on: bool) -> list[tuple[str, str | None]]:
    kept = [(k, v) for k, v in attrs if k != flag]
    return [*kept, (flag, None)] if on else kept


def _tag(element: _Field, attrs: list[tuple[str, str | None]]) -> str:
    written = "".join(f" {k}" if v is None else f' {k}="{escape(v)}"' for k, v in attrs)
    return f"<{element.tag}{written}{' /' if element.closing else ''}>"
