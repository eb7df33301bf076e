"""RFC 8288 Link headers for cursor pages, and the URLs we hand out.

Links never come from the request's `Host` header (a client, or anyone in between, can set it
to anything): they are built from `SCRIPTFLOW_PUBLIC_URL` when set, else they are relative.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response


def public_url(request: Request, path: str, query: str = "") -> str:
    """`path` (absolute, as the client sent it) under the configured public URL, or relative."""
    base = (request.app.state.settings.public_url or "").rstrip("/")
    return f"{base}{path}" + (f"?{query}" if query else "")


def public_url_for(request: Request, name: str, **path_params: Any) -> str:
    """The public URL of a named route."""
    root = str(request.scope.get("root_path", "")).rstrip("/")
    return public_url(request, root + str(request.app.url_path_for(name, **path_params)))


def link_next(request: Request, response: Response, next_cursor: str | None) -> None:
    if next_cursor is None:
        return
    query = request.url.include_query_params(cursor=next_cursor).query
    response.headers["Link"] = f'<{public_url(request, request.url.path, query)}>; rel="next"'
