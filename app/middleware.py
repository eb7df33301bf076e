"""Pure ASGI middleware: request ids, access logs, metrics and body size limits.

Pure ASGI (not BaseHTTPMiddleware) so streaming responses and websockets pass untouched.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.metrics import Metrics
from scriptflow.logs import request_id_var

log = logging.getLogger("scriptflow.access")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestContextMiddleware:
    """Echo or mint X-Request-ID, log one line per request and record metrics."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500

        started_response = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, started_response
            if message["type"] == "http.response.start":
                started_response = True
                status = message["status"]
                headers = [h for h in message.get("headers", []) if h[0].lower() != b"x-request-id"]
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unhandled error on %s %s", scope.get("method", "WS"), scope["path"])
            if scope["type"] != "http" or started_response:
                raise
            status = 500
            await _send_json(
                send_with_id,
                500,
                {
                    "error": {
                        "code": "INTERNAL_ERROR",
                        "message": "Internal server error",
                        "details": {},
                    }
                },
            )
        finally:
            if scope["type"] == "http":
                elapsed = time.perf_counter() - started
                route = _route_template(scope)
                self.metrics.observe(scope["method"], route, status, elapsed)
                log.info(
                    "%s %s %s",
                    scope["method"],
                    scope["path"],
                    status,
                    extra={
                        "status": status,
                        "route": route,
                        "duration_ms": round(elapsed * 1000, 2),
                    },
                )
            request_id_var.reset(token)


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return str(scope.get("root_path", "")) + path if scope.get("root_path") else path
    return "<unmatched>"


class BodySizeLimitMiddleware:
    """413 in the seed's error shape for bodies over the limit, declared or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _send_too_large(send, self.max_bytes)
            return
        received = 0
        too_large = False
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    too_large = True
                    raise _TooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal response_started
            if too_large:
                # A streamed (chunked) body went over the cap while the app read it. The app
                # may have turned our exception into its own answer (FastAPI says 400, "error
                # parsing the body"); the client hears 413 instead, and nothing else.
                if message["type"] == "http.response.start" and not response_started:
                    response_started = True
                    await _send_too_large(send, self.max_bytes)
                return
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except _TooLarge:
            if not response_started:
                await _send_too_large(send, self.max_bytes)


class _TooLarge(Exception):
    pass


async def _send_too_large(send: Send, max_bytes: int) -> None:
    body: dict[str, Any] = {
        "error": {
            "code": "PAYLOAD_TOO_LARGE",
            "message": f"Request body is larger than {max_bytes} bytes",
            "details": {"max_bytes": max_bytes},
        }
    }
    await _send_json(send, 413, body)


async def _send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    raw = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": raw})


class ClientAddressMiddleware:
    """The client's address from ``Forwarded`` / ``X-Forwarded-For``, only when the TCP peer
    is one of ``SCRIPTFLOW_TRUSTED_PROXIES``; otherwise the peer is the client (rate limits and
    logs key on it, so a forged header from anyone else changes nothing)."""

    def __init__(self, app: ASGIApp, trusted: str) -> None:
        self.app = app
        self.trusted = trusted_networks(trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.trusted and scope["type"] in ("http", "websocket") and scope.get("client"):
            host, port = scope["client"]
            if _in_networks(host, self.trusted):
                headers = dict(scope.get("headers") or [])
                client = forwarded_client(headers, self.trusted)
                if client is not None:
                    scope = {**scope, "client": (client, port)}
        await self.app(scope, receive, send)


def trusted_networks(text: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """``127.0.0.2, 127.0.1.0/24`` → networks (the setting is validated at start-up)."""
    return tuple(
        ipaddress.ip_network(item, strict=False)
        for item in (part.strip() for part in text.split(","))
        if item
    )


def forwarded_client(
    headers: dict[bytes, bytes],
    trusted: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...],
) -> str | None:
    """The rightmost hop that is not a trusted proxy: everything left of it was written by
    the client itself and proves nothing. ``Forwarded`` wins over ``X-Forwarded-For``."""
    hops: list[str] = []
    if b"forwarded" in headers:
        for element in headers[b"forwarded"].decode("latin-1").split(","):
            for pair in element.split(";"):
                name, _, value = pair.strip().partition("=")
                if name.lower() == "for":
                    hops.append(_strip_port(value.strip().strip('"')))
    elif b"x-forwarded-for" in headers:
        hops = [h.strip() for h in headers[b"x-forwarded-for"].decode("latin-1").split(",")]
    for hop in reversed(hops):
        if not _in_networks(hop, trusted):
            return hop if _is_address(hop) else None
    return None


def _strip_port(value: str) -> str:
    if value.startswith("["):  # [2001:db8::1]:4711
        return value[1:].split("]", 1)[0]
    return value.split(":", 1)[0] if value.count(":") == 1 else value


def _is_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _in_networks(
    host: str, networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in network for network in networks)
