"""The session-cookie middleware as plain ASGI: pages, marimo calls and websockets."""

from __future__ import annotations

import uuid
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from app.web.session_auth import (
    SESSION_COOKIE,
    SessionCookieMiddleware,
    WebUser,
    safe_next_path,
    same_origin,
)
from scriptflow.errors import Unauthorized

PREFIXES = ("/dashboard", "/notebooks")
USER = WebUser(user_id=uuid.uuid4(), email="qa@example.com")


async def verify(token: str) -> WebUser:
    if token != "good":
        raise Unauthorized("Invalid token")
    return USER


async def record_inner(scope: dict[str, Any], receive: Any, send: Any) -> None:
    seen.append(scope)
    if scope["type"] == "websocket":
        await send({"type": "websocket.accept"})
    else:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


seen: list[dict[str, Any]] = []


async def call(scope: dict[str, Any]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    incoming = [{"type": "websocket.connect"}]

    async def receive() -> dict[str, Any]:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    middleware = SessionCookieMiddleware(record_inner, verify=verify, guarded_prefixes=PREFIXES)
    await middleware(scope, receive, send)
    return sent


def scope(kind: str, path: str, *, cookie: str | None = None, **headers: str) -> dict[str, Any]:
    raw = [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()]
    if cookie is not None:
        raw.append((b"cookie", f"{SESSION_COOKIE}={cookie}".encode()))
    return {"type": kind, "path": path, "method": "GET", "headers": raw, "query_string": b""}


async def test_websocket_without_a_valid_cookie_is_refused_before_it_opens() -> None:
    for cookie in (None, "forged"):
        sent = await call(scope("websocket", "/dashboard/ws", cookie=cookie, host="h"))
        assert sent == [{"type": "websocket.close", "code": 1008, "reason": ""}]


async def test_websocket_from_another_site_is_refused_even_with_the_cookie() -> None:
    sent = await call(
        scope(
            "websocket", "/dashboard/ws", cookie="good", host="h:1", origin="https://evil.example"
        )
    )
    assert sent[0]["type"] == "websocket.close"


async def test_websocket_with_the_cookie_reaches_marimo_with_the_user() -> None:
    seen.clear()
    sent = await call(
        scope("websocket", "/dashboard/ws", cookie="good", host="h:1", origin="http://h:1")
    )
    assert sent == [{"type": "websocket.accept"}]
    assert seen[0]["user"] == USER
    assert seen[0]["user"].is_authenticated and seen[0]["user"].display_name == USER.email


async def test_paths_outside_the_web_pages_pass_through_untouched() -> None:
    seen.clear()
    sent = await call(scope("http", "/v1/scripts"))
    assert sent[0]["status"] == 200
    assert "user" not in seen[0]


async def test_a_page_navigation_without_a_cookie_redirects_to_login_with_next() -> None:
    sent = await call(scope("http", "/notebooks/review/", accept="text/html"))
    headers = dict(sent[0]["headers"])
    assert sent[0]["status"] == 303
    assert headers[b"location"] == b"/login?next=%2Fnotebooks%2Freview%2F"


def test_same_origin_compares_origin_with_host() -> None:
    assert same_origin(scope("websocket", "/", host="a:8", origin="http://a:8"))
    assert not same_origin(scope("websocket", "/", host="a:8", origin="http://b:8"))
    assert same_origin(scope("websocket", "/", host="a:8"))  # non-browser clients send none


@given(st.text(max_size=60))
def test_next_path_is_always_one_of_our_pages(candidate: str) -> None:
    result = safe_next_path(candidate, PREFIXES, "/dashboard/")
    assert result == "/dashboard/" or (
        result.startswith(PREFIXES) and not result.startswith("//") and "\\" not in result
    )


def test_next_path_keeps_a_legitimate_page() -> None:
    assert safe_next_path("/notebooks/review/?x=1", PREFIXES, "/d") == "/notebooks/review/?x=1"
