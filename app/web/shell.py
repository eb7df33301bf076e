"""What every served notebook shares around its own cells: the header and the permalinks.

The header links the five steps, the dashboard and the run list, names the signed-in user and
offers logout. Permalinks are query parameters (``?script=``, ``?changeset=``, ``?run=``,
``?insight=``) read and written through ``mo.query_params()``, so a reload or a shared link
opens the same object, and a state change can pin the object the user acted on.

marimo is imported inside the functions: the server imports this module at start-up.
"""

from __future__ import annotations

import html
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

LOGOUT_PATH = "/logout"


@dataclass(frozen=True)
class Page:
    """One destination of the header."""

    key: str
    title: str
    path: str


STEP_PAGES = (
    Page("generate", "1 · Generate", "/notebooks/generate/"),
    Page("enhance", "2 · Enhance", "/notebooks/enhance/"),
    Page("review", "3 · Review", "/notebooks/review/"),
    Page("run", "4 · Run", "/notebooks/run/"),
    Page("insights", "5 · Insights", "/notebooks/insights/"),
)
OTHER_PAGES = (
    Page("dashboard", "Dashboard", "/dashboard/"),
    Page("runs", "Runs", "/notebooks/runs/"),
)
PAGES = {page.key: page for page in (*STEP_PAGES, *OTHER_PAGES)}

_STYLE = (
    "display:flex;flex-wrap:wrap;align-items:center;gap:.35rem 1rem;padding:.5rem .8rem;"
    "border-bottom:1px solid #d0d5dd;margin-bottom:.6rem;font-size:.95rem"
)


def permalink(page: str, **ids: uuid.UUID | str | None) -> str:
    """The URL of a page opened on the given objects (``permalink("run", run=run_id)``)."""
    query = {name: str(value) for name, value in ids.items() if value is not None}
    path = PAGES[page].path
    return f"{path}?{urlencode(query)}" if query else path


def header_html(current: str, user_label: str) -> str:
    """The header as HTML: every page as a link (the current one marked), user, logout."""

    def link(page: Page) -> str:
        if page.key == current:
            return f'<strong aria-current="page">{html.escape(page.title)}</strong>'
        return f'<a href="{html.escape(page.path)}">{html.escape(page.title)}</a>'

    steps = " ".join(link(page) for page in STEP_PAGES)
    others = " ".join(link(page) for page in OTHER_PAGES)
    user = html.escape(user_label)
    return (
        f'<nav aria-label="scriptflow" style="{_STYLE}">'
        f'<span style="font-weight:700">scriptflow</span>{steps}'
        f'<span style="color:#98a2b3">|</span>{others}'
        f'<span style="margin-left:auto">Signed in as <strong>{user}</strong></span>'
        f'<a href="{LOGOUT_PATH}" target="_top">Log out</a></nav>'
    )


def header(current: str, user_label: str) -> Any:
    """The shared header as a marimo element, for a notebook's first visible cell."""
    import marimo as mo

    return mo.Html(header_html(current, user_label))


def query_uuid(name: str) -> uuid.UUID | None:
    """The UUID a permalink carries in the query string, or None (absent or malformed)."""
    import marimo as mo

    raw = mo.query_params().get(name)
    if isinstance(raw, list):
        raw = raw[0] if raw else None
    try:
        return uuid.UUID(str(raw)) if raw else None
    except ValueError:
        return None


def query_text(name: str, *, max_chars: int = 200) -> str | None:
    """A short text a link carries in the query string (an environment, a status), or None."""
    import marimo as mo

    raw = mo.query_params().get(name)
    if isinstance(raw, list):
        raw = raw[0] if raw else None
    return str(raw)[:max_chars] if raw else None


def query_moment(name: str) -> datetime | None:
    """An ISO time a link carries (``since``, ``until``), in UTC, or None when malformed."""
    raw = query_text(name, max_chars=40)
    try:
        moment = datetime.fromisoformat(raw) if raw else None
    except ValueError:
        return None
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def pin(**ids: uuid.UUID | str | None) -> None:
    """Put these objects in the page's URL (None removes one), so a reload opens them.

    The notebooks read the query string through ``query_uuid``, a function call, never a
    global bound to ``mo.query_params()``: setting it therefore re-runs no cell and cannot
    loop; it only keeps the address bar a permalink to what is on screen.
    """
    import marimo as mo

    params = mo.query_params()
    for name, value in ids.items():
        wanted = None if value is None else str(value)
        if params.get(name) == wanted:
            continue
        if wanted is None:
            params.remove(name)
        else:
            params.set(name, wanted)
