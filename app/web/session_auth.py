"""Browser sessions: a JWT in an HttpOnly SameSite cookie, checked by pure ASGI middleware.

Starlette's ``BaseHTTPMiddleware`` breaks marimo's websockets, so this is a plain ASGI callable
that covers ``http`` and ``websocket`` scopes alike. It guards only the web pages it is given
(the dashboard and the notebook apps); the REST API keeps its bearer tokens.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import quote

from starlette.authentication import BaseUser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scriptflow.errors import Unauthorized

SESSION_COOKIE = "scriptflow_session"
LOGIN_PATH = "/login"

# Close code a browser sees when its websocket is refused (RFC 6455 "policy violation").
WS_POLICY_VIOLATION = 1008

# Verifying a session reads the user's token version, so it awaits the database.
TokenVerifier = Callable[[str], Awaitable["WebUser"]]
TokenRenewer = Callable[["WebUser"], str]


@dataclass(frozen=True)
class WebUser(BaseUser):
    """The signed-in user of a browser session, as marimo and the notebooks see it."""

    user_id: uuid.UUID
    email: str = ""
    # The user's token version when the session was issued; a logout anywhere bumps it.
    token_version: int = field(default=0, compare=False)
    issued_at: int = field(default=0, compare=False)
    expires_at: int = field(default=0, compare=False)

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def username(self) -> str:
        # marimo forwards `username`, `display_name` and `is_authenticated` to the kernel;
        # the notebooks read the user id from `username`.
        return str(self.user_id)

    @property
    def display_name(self) -> str:
        return self.email or str(self.user_id)

    @property
    def identity(self) -> str:
        return str(self.user_id)


def cookie_value(scope: Scope, name: str = SESSION_COOKIE) -> str | None:
    """The named cookie from a scope's headers, or None."""
    for key, raw in scope.get("headers", []):
        if key != b"cookie":
            continue
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(raw.decode("latin-1"))
        except Exception:  # a malformed Cookie header is simply no session
            return None
        if name in jar:
            return jar[name].value
    return None


def header_value(scope: Scope, name: bytes) -> str | None:
    for key, raw in scope.get("headers", []):
        if key == name:
            return str(raw.decode("latin-1"))
    return None


def is_guarded(path: str, prefixes: Sequence[str]) -> bool:
    return any(path == prefix or path.startswith(prefix + "/") for prefix in prefixes)


def safe_next_path(candidate: str | None, prefixes: Sequence[str], default: str) -> str:
    """Where to go after login: only our own guarded pages, never another site."""
    if not candidate or not candidate.startswith("/") or candidate.startswith("//"):
        return default
    if "\\" in candidate or any(ch in candidate for ch in "\r\n"):
        return default
    path = candidate.split("?", 1)[0]
    return candidate if is_guarded(path, prefixes) else default


def same_origin(scope: Scope) -> bool:
    """A websocket handshake must come from a page of this site (cross-site hijacking guard)."""
    origin = header_value(scope, b"origin")
    if origin is None:
        return True  # not a browser; the cookie still has to be valid
    host = header_value(scope, b"host")
    if host is None:
        return False
    origin_host = origin.split("://", 1)[-1].rstrip("/")
    return origin_host == host


class SessionCookieMiddleware:
    """Guard web pages and their websockets with the session cookie; set ``scope["user"]``."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        verify: TokenVerifier,
        guarded_prefixes: Sequence[str],
        login_path: str = LOGIN_PATH,
        renew: TokenRenewer | None = None,
        cookie_attributes: str = "Path=/; HttpOnly; SameSite=Lax",
    ) -> None:
        self.app = app
        self.verify = verify
        self.renew = renew
        self.cookie_attributes = cookie_attributes
        self.guarded_prefixes = tuple(guarded_prefixes)
        self.login_path = login_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not is_guarded(
            scope["path"], self.guarded_prefixes
        ):
            await self.app(scope, receive, send)
            return
        user = await self.user_from_cookie(scope)
        if scope["type"] == "websocket":
            if user is None or not same_origin(scope):
                await refuse_websocket(receive, send)
                return
        elif user is None:
            await self.reject_http(scope, send)
            return
        elif self.renew is not None and past_half_life(user):
            send = self.sending_fresh_cookie(send, self.renew(user))
        await self.app({**scope, "user": user}, receive, send)

    def sending_fresh_cookie(self, send: Send, token: str) -> Send:
        """Slide an active session forward: a busy reader is not logged out mid-work."""
        cookie = f"{SESSION_COOKIE}={token}; {self.cookie_attributes}".encode("latin-1")

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message["headers"], (b"set-cookie", cookie)]}
            await send(message)

        return send_with_cookie

    async def user_from_cookie(self, scope: Scope) -> WebUser | None:
        token = cookie_value(scope)
        if not token:
            return None
        try:
            return await self.verify(token)
        except Unauthorized:
            return None

    async def reject_http(self, scope: Scope, send: Send) -> None:
        if is_page_navigation(scope):
            target = scope["path"]
            if scope.get("query_string"):
                target += "?" + scope["query_string"].decode("latin-1")
            location = f"{self.login_path}?next={quote(target, safe='')}"
            await send_response(send, 303, b"", [(b"location", location.encode("latin-1"))])
            return
        body = json.dumps(
            {"error": {"code": "UNAUTHORIZED", "message": "Sign in first", "details": {}}}
        ).encode()
        await send_response(send, 401, body, [(b"content-type", b"application/json")])


def past_half_life(user: WebUser, now: float | None = None) -> bool:
    if not user.expires_at or not user.issued_at:
        return False
    now = time.time() if now is None else now
    return now >= user.issued_at + (user.expires_at - user.issued_at) / 2


def is_page_navigation(scope: Scope) -> bool:
    """A browser asking for a page (not marimo's API calls) goes to the login form instead."""
    if scope.get("method") not in ("GET", "HEAD"):
        return False
    accept = header_value(scope, b"accept") or ""
    return "text/html" in accept or not accept


async def send_response(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    all_headers = [
        *headers,
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": all_headers})
    await send({"type": "http.response.body", "body": body})


async def refuse_websocket(receive: Receive, send: Send) -> None:
    """Refuse the handshake: the browser sees the socket fail before it opens."""
    message: Message = await receive()
    if message["type"] == "websocket.connect":
        await send({"type": "websocket.close", "code": WS_POLICY_VIOLATION, "reason": ""})


def user_from_claims(claims: dict[str, Any]) -> WebUser:
    """The web user a verified token names; a token without a usable subject is refused."""
    try:
        user_id = uuid.UUID(str(claims["sub"]))
    except (KeyError, ValueError) as exc:
        raise Unauthorized("Invalid session") from exc
    email = claims.get("email")
    version = claims.get("ver", 0)
    return WebUser(
        user_id=user_id,
        email=email if isinstance(email, str) else "",
        token_version=version if isinstance(version, int) else -1,
        issued_at=int(claims.get("iat", 0)),
        expires_at=int(claims.get("exp", 0)),
    )
