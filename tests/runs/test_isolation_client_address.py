"""Runs connect from loopback (their egress proxy): forwarded headers count only from proxies
the operator named, so a script cannot pose as many clients to dodge the login rate limit."""

from __future__ import annotations

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from app.middleware import ClientAddressMiddleware, forwarded_client, trusted_networks

PROXIES = trusted_networks("10.0.0.1, 192.168.0.0/16")


async def echo_client(scope: Scope, receive: Receive, send: Send) -> None:
    body = str(scope["client"][0]).encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


async def client_seen(trusted: str, peer: str, headers: dict[str, str]) -> str:
    app = ClientAddressMiddleware(echo_client, trusted=trusted)
    transport = httpx.ASGITransport(app=app, client=(peer, 4711))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        return (await c.get("/", headers=headers)).text


async def test_with_no_trusted_proxy_forwarded_headers_change_nothing() -> None:
    forged = {"X-Forwarded-For": "203.0.113.9", "Forwarded": "for=198.51.100.7"}
    assert await client_seen("", "127.0.0.1", forged) == "127.0.0.1"


async def test_a_trusted_proxy_names_the_client_and_others_do_not() -> None:
    headers = {"X-Forwarded-For": "203.0.113.9"}
    assert await client_seen("10.0.0.1", "10.0.0.1", headers) == "203.0.113.9"
    assert await client_seen("10.0.0.1", "127.0.0.1", headers) == "127.0.0.1"


@pytest.mark.parametrize(
    ("headers", "client"),
    [
        # The client wrote the leftmost entries itself: only the hop our proxy added counts.
        ({b"x-forwarded-for": b"1.2.3.4, 203.0.113.9"}, "203.0.113.9"),
        ({b"x-forwarded-for": b"203.0.113.9, 192.168.3.4"}, "203.0.113.9"),
        ({b"forwarded": b'for="[2001:db8::1]:4711";proto=https'}, "2001:db8::1"),
        ({b"forwarded": b"for=198.51.100.7:80, for=10.0.0.1"}, "198.51.100.7"),
        ({b"forwarded": b"for=_hidden", b"x-forwarded-for": b"1.2.3.4"}, None),
        ({b"x-forwarded-for": b"not-an-address"}, None),
        ({}, None),
    ],
)
def test_the_rightmost_untrusted_hop_is_the_client(
    headers: dict[bytes, bytes], client: str | None
) -> None:
    assert forwarded_client(headers, PROXIES) == client
