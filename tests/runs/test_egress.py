"""Which addresses a runner may reach when private egress is off."""

from __future__ import annotations

import asyncio
import ipaddress
import uuid
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import given
from hypothesis import strategies as st

from app.demo.server import DemoServer
from scriptflow.config import Settings
from scriptflow.db.engine import transaction
from scriptflow.errors import ValidationFailed
from scriptflow.runs import service
from scriptflow.runs.browsers import BrowserTarget
from scriptflow.runs.egress import EgressPolicy, blocked_reason, is_public_address, parse_allow_list
from scriptflow.runs.egress_proxy import BadRequest, EgressProxy, parse_request_head
from scriptflow.runs.executor import RunRequest, SubprocessExecutor
from tests.factories import create_script, signup
from tests.runs.helpers import create_environment


# The address rules as pure data: `blocked_reason` parses the URL and judges the addresses the
# given resolver returns (a dict lookup here). Nothing connects to these addresses; the tests
# below that send traffic send it to loopback only.
@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/login",
        "http://169.254.169.254/latest/meta-data",  # cloud metadata
        "http://10.1.2.3/",
        "http://192.168.0.10/",
        "http://[::1]/",
        "http://[::ffff:10.0.0.1]/",  # IPv4-mapped private
        "http://internal.test/",  # a name that resolves privately
    ],
)
def test_private_targets_are_blocked(url: str) -> None:
    resolve = {"internal.test": ["10.9.9.9"]}.get
    assert blocked_reason(url, lambda host: resolve(host) or []) is not None


def test_public_targets_and_unresolvable_names_pass() -> None:
    assert blocked_reason("https://8.8.8.8/", lambda host: []) is None
    assert blocked_reason("https://shop.example/", lambda host: ["93.184.215.14"]) is None
    assert blocked_reason("https://nowhere.example/", lambda host: []) is None


@given(st.ip_addresses(v=4))
def test_verdict_matches_the_standard_library_for_ipv4(ip: ipaddress.IPv4Address) -> None:
    assert is_public_address(str(ip)) == (ip.is_global and not ip.is_multicast)


async def test_runs_against_private_environments_are_refused_when_egress_is_off(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings, chromium: object
) -> None:
    account = await signup(client)
    await create_environment(client, account, base_url="http://127.0.0.1:9")
    script = await create_script(client, account)
    strict = settings.model_copy(update={"allow_private_egress": False})
    async with transaction(app.state.sessionmaker) as session:
        with pytest.raises(ValidationFailed) as exc:
            await service.create_run(
                session,
                uuid.UUID(account.user_id),
                strict,
                script_id=uuid.UUID(str(script["id"])),
                environment="staging",
                browser="chromium",
            )
    assert "private" in exc.value.message


# --- the run's egress policy: pure rules (no traffic) ----------------------------------------

NON_PUBLIC = [
    ("127.0.0.1", 8000),  # the API on loopback
    ("127.0.0.1", 5432),  # the database on loopback
    ("10.1.2.3", 80),
    ("192.168.0.10", 443),
    ("169.254.169.254", 80),  # cloud metadata
    ("::1", 80),
    ("fd00::1", 80),
    ("::ffff:10.0.0.1", 80),  # IPv4-mapped private
]


@pytest.mark.parametrize("mode", ["public", "origin-only"])
@pytest.mark.parametrize(("address", "port"), NON_PUBLIC)
def test_non_public_destinations_are_refused_in_every_mode(
    mode: str, address: str, port: int
) -> None:
    policy = EgressPolicy.for_run("http://127.0.0.1:9000", mode=mode)
    assert policy.refusal(address, port, [address]) is not None


def test_the_runs_own_origin_is_allowed_even_on_loopback_but_not_its_other_ports() -> None:
    policy = EgressPolicy.for_run("http://127.0.0.1:9000/app")
    assert policy.refusal("127.0.0.1", 9000, ["127.0.0.1"]) is None
    assert policy.refusal("localhost", 9000, ["127.0.0.1"]) is None
    assert policy.refusal("127.0.0.1", 9001, ["127.0.0.1"]) is not None


def test_a_named_origin_may_resolve_privately() -> None:
    policy = EgressPolicy.for_run("https://shop.internal")
    assert policy.refusal("shop.internal", 443, ["10.0.0.5"]) is None
    assert policy.refusal("shop.internal", 8443, ["10.0.0.5"]) is not None
    assert policy.refusal("other.internal", 443, ["10.0.0.5"]) is not None


def test_public_destinations_pass_unless_origin_only() -> None:
    public = EgressPolicy.for_run("http://127.0.0.1:9000")
    strict = EgressPolicy.for_run("http://127.0.0.1:9000", mode="origin-only")
    assert public.refusal("cdn.example", 443, ["93.184.215.14"]) is None
    reason = strict.refusal("cdn.example", 443, ["93.184.215.14"])
    assert reason is not None and "origin-only" in reason


def test_every_address_of_a_name_must_pass_and_unresolvable_names_are_refused() -> None:
    policy = EgressPolicy.for_run("http://127.0.0.1:9000")
    assert policy.refusal("mixed.example", 80, ["93.184.215.14", "10.0.0.1"]) is not None
    assert policy.refusal("nowhere.example", 80, []) is not None


def test_the_allow_list_takes_origins_and_cidr_ranges() -> None:
    policy = EgressPolicy.for_run(
        "http://127.0.0.1:9000", allow="http://127.0.0.1:9001, 10.20.0.0/16", mode="origin-only"
    )
    assert policy.refusal("127.0.0.1", 9001, ["127.0.0.1"]) is None
    assert policy.refusal("db.internal", 5432, ["10.20.3.4"]) is None
    assert policy.refusal("db.internal", 5432, ["10.21.3.4"]) is not None
    assert policy.refusal("127.0.0.1", 9002, ["127.0.0.1"]) is not None


@pytest.mark.parametrize("junk", ["127.0.0.1:9000", "ftp://x", "10.0.0.0/33", "shop"])
def test_junk_in_the_allow_list_is_refused_at_start_up(junk: str) -> None:
    with pytest.raises(ValueError, match=r"origin|CIDR"):
        parse_allow_list(f"http://ok.example, {junk}")
    with pytest.raises(ValueError):
        Settings(run_egress_allow=junk)


@given(st.ip_addresses(v=4))
def test_the_gate_agrees_with_the_address_rules(ip: ipaddress.IPv4Address) -> None:
    policy = EgressPolicy.for_run("http://origin.example")
    allowed = policy.refusal("somewhere.example", 443, [str(ip)]) is None
    assert allowed == (ip.is_global and not ip.is_multicast)


def test_a_proxied_request_is_forwarded_one_per_connection_without_proxy_headers() -> None:
    head = (
        b"GET http://127.0.0.1:9000/login?next=%2F HTTP/1.1\r\nHost: 127.0.0.1:9000\r\n"
        b"Proxy-Connection: keep-alive\r\nProxy-Authorization: Basic eA==\r\n"
        b"Connection: keep-alive\r\nAccept: */*"
    )
    request = parse_request_head(head)
    assert (request.host, request.port) == ("127.0.0.1", 9000)
    forwarded = request.head.decode()
    assert forwarded.startswith("GET /login?next=%2F HTTP/1.1\r\n")
    assert "Proxy-" not in forwarded and "keep-alive" not in forwarded
    assert forwarded.endswith("Accept: */*\r\nConnection: close\r\n\r\n")
    assert parse_request_head(b"CONNECT [::1]:443 HTTP/1.1").host == "::1"
    with pytest.raises(BadRequest):
        parse_request_head(b"GET /relative HTTP/1.1")


# --- the proxy itself, with loopback traffic only -------------------------------------------


class Upstream:
    """A loopback HTTP server answering ``hello``; counts connections."""

    def __init__(self) -> None:
        self.connections = 0
        self.server: asyncio.AbstractServer | None = None
        self.port = 0

    async def start(self) -> Upstream:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
        await writer.drain()
        writer.close()

    def close(self) -> None:
        if self.server is not None:
            self.server.close()


async def _through(socket_path: Path, request: bytes) -> bytes:
    reader, writer = await asyncio.open_unix_connection(str(socket_path))
    writer.write(request)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return answer


async def test_the_proxy_passes_the_origin_and_refuses_and_records_other_loopback_ports(
    tmp_path: Path,
) -> None:
    origin, forbidden = await Upstream().start(), await Upstream().start()
    policy = EgressPolicy.for_run(f"http://127.0.0.1:{origin.port}")
    try:
        async with EgressProxy(policy, tmp_path / "proxy.sock") as proxy:
            url = f"http://127.0.0.1:{origin.port}/x"
            answer = await _through(proxy.socket_path, f"GET {url} HTTP/1.1\r\n\r\n".encode())
            assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"hello")
            tunnel = f"CONNECT 127.0.0.1:{origin.port} HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n"
            answer = await _through(proxy.socket_path, tunnel.encode())
            assert answer.startswith(b"HTTP/1.1 200 Connection established") and b"hello" in answer
            for request in (
                f"CONNECT 127.0.0.1:{forbidden.port} HTTP/1.1\r\n\r\n",
                f"GET http://127.0.0.1:{forbidden.port}/ HTTP/1.1\r\n\r\n",
            ):
                answer = await _through(proxy.socket_path, request.encode())
                assert answer.startswith(b"HTTP/1.1 403")
        assert forbidden.connections == 0 and origin.connections == 2
        assert [(r.host, r.port) for r in proxy.refused] == [("127.0.0.1", forbidden.port)]
    finally:
        origin.close()
        forbidden.close()


@pytest.mark.browser
async def test_chromium_and_python_in_a_run_share_the_one_gate(
    demo: DemoServer, chromium: BrowserTarget, tmp_path: Path
) -> None:
    forbidden, allowed = await Upstream().start(), await Upstream().start()
    script = (
        "import socket, urllib.error, urllib.request, pytest\n\n"
        "def test_gate(page):\n"
        "    page.goto('/login')  # the origin, through the proxy\n"
        f"    refused = page.goto('http://127.0.0.1:{forbidden.port}/')\n"
        "    assert refused.status == 403 and 'egress policy refused' in page.content()\n"
        "    assert page.request.get('/login').ok  # Playwright's API client: the same way out\n"
        f"    assert page.request.get('http://127.0.0.1:{forbidden.port}/').status == 403\n"
        "    with pytest.raises(urllib.error.HTTPError):\n"
        f"        urllib.request.urlopen('http://127.0.0.1:{forbidden.port}/', timeout=10)\n"
        "    with pytest.raises(OSError):\n"
        f"        socket.create_connection(('127.0.0.1', {forbidden.port}), timeout=3)\n"
        f"    listed = urllib.request.urlopen('http://127.0.0.1:{allowed.port}/')\n"
        "    assert listed.read() == b'hello'  # on the allow-list\n"
    )
    request = RunRequest(
        script=script,
        base_url=demo.base_url,
        browser=chromium,
        workdir=tmp_path / "run",
        egress_allow=f"http://127.0.0.1:{allowed.port}",
        egress_mode="origin-only",
    )
    try:
        result = await SubprocessExecutor().execute(request, asyncio.Event())
    finally:
        forbidden.close()
        allowed.close()
    assert result.status == "passed", result.error
    assert forbidden.connections == 0 and allowed.connections == 1
    refused = {(r["host"], r["port"]) for r in result.egress_refused}
    assert ("127.0.0.1", forbidden.port) in refused
