"""The run's only way out: an HTTP/CONNECT proxy the worker serves on a unix socket.

A sandboxed run has a network namespace of its own with nothing in it but loopback; the
worker binds this proxy's socket into it, and a bridge inside (``scriptflow.runs.run_process``)
exposes it as ``127.0.0.1:PROXY_PORT``, which Chromium (``--proxy-server``) and Python
(``HTTP(S)_PROXY``) use. Raw sockets reach nothing else: there is no route.

Every request names its destination (``CONNECT host:port`` or an absolute ``http://`` URL);
the proxy resolves it, checks every address against the run's ``EgressPolicy``, connects to
an address it checked (a second lookup could rebind), and otherwise answers 403 and records
the refusal for the run's results. One request per upstream connection (``Connection: close``
is forced), so a kept-alive client connection cannot switch to an unchecked host.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit

from scriptflow.runs.egress import EgressPolicy

PROXY_PORT = 3128
MAX_HEAD_BYTES = 64 * 1024
MAX_CONNECTIONS = 256
MAX_RECORDED_REFUSALS = 50
CONNECT_TIMEOUT_S = 10.0
_CHUNK = 64 * 1024
_HOP_HEADERS = {b"proxy-connection", b"proxy-authorization", b"connection", b"keep-alive"}


@dataclass(frozen=True)
class Refusal:
    """One destination the run was refused (recorded once per host, port and reason)."""

    host: str
    port: int
    reason: str

    def as_dict(self) -> dict[str, object]:
        return {"host": self.host, "port": self.port, "reason": self.reason}


@dataclass
class _Request:
    method: bytes
    host: str
    port: int
    head: bytes  # what to send upstream first (empty for CONNECT)


class BadRequest(Exception):
    pass


def parse_request_head(head: bytes) -> _Request:
    """The destination of one proxy request and the request to forward (pure)."""
    lines = head.split(b"\r\n")
    try:
        method, target, version = lines[0].split(b" ", 2)
    except ValueError:
        raise BadRequest("malformed request line") from None
    if method == b"CONNECT":
        host, _, port = target.decode("latin-1").rpartition(":")
        if not host or not port.isdigit():
            raise BadRequest("CONNECT needs host:port")
        return _Request(method, host.strip("[]").lower(), int(port), b"")
    url = urlsplit(target.decode("latin-1"))
    if url.scheme != "http" or not url.hostname:
        raise BadRequest("only absolute http:// URLs and CONNECT are proxied")
    path = (url.path or "/") + (f"?{url.query}" if url.query else "")
    headers = [line for line in lines[1:] if line]
    upgrade = any(line.lower().startswith(b"upgrade:") for line in headers)
    kept = [
        line
        for line in headers
        if line.split(b":", 1)[0].strip().lower() not in _HOP_HEADERS
        or (upgrade and line.lower().startswith(b"connection:"))
    ]
    if not upgrade:
        kept.append(b"Connection: close")
    forwarded = b"\r\n".join([method + b" " + path.encode("latin-1") + b" " + version, *kept])
    return _Request(method, url.hostname.lower(), url.port or 80, forwarded + b"\r\n\r\n")


@dataclass
class EgressProxy:
    """``async with EgressProxy(policy, socket_path) as proxy:``; then ``proxy.refused``."""

    policy: EgressPolicy
    socket_path: Path
    refused: list[Refusal] = field(default_factory=list)
    # Allowed destinations that did not answer: the run's failures are then the environment's.
    unreachable: list[Refusal] = field(default_factory=list)
    _server: asyncio.AbstractServer | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def __aenter__(self) -> EgressProxy:
        self._server = await asyncio.start_unix_server(self._accept, path=str(self.socket_path))
        # The run's uid differs from ours: it must be able to connect, nothing more.
        os.chmod(self.socket_path, 0o666)  # noqa: S103
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(OSError):
            self.socket_path.unlink()

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self._tasks) >= MAX_CONNECTIONS:
            writer.close()
            return
        task = asyncio.ensure_future(self._serve(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream: asyncio.StreamWriter | None = None
        try:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
                if len(head) > MAX_HEAD_BYTES:
                    raise BadRequest("request head too large")
                request = parse_request_head(head[:-4])
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, BadRequest) as exc:
                await _answer(writer, 400, f"scriptflow egress proxy: {exc}")
                return
            connected = await self._connect(request, writer)
            if connected is None:
                return
            up_reader, upstream = connected
            if request.method == b"CONNECT":
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            else:
                upstream.write(request.head)
            await _pipe_both(reader, writer, up_reader, upstream)
        except (ConnectionError, OSError):
            pass
        finally:
            for stream in (writer, upstream):
                if stream is not None:
                    stream.close()

    async def _connect(
        self, request: _Request, writer: asyncio.StreamWriter
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        addresses = await _resolve(request.host, request.port)
        reason = self.policy.refusal(request.host, request.port, addresses)
        if reason is not None:
            self._record(Refusal(request.host, request.port, reason))
            await _answer(writer, 403, f"scriptflow egress policy refused {reason}")
            return None
        for address in addresses:
            try:
                return await asyncio.wait_for(
                    asyncio.open_connection(address, request.port), CONNECT_TIMEOUT_S
                )
            except (OSError, TimeoutError):
                continue
        unreachable = Refusal(request.host, request.port, "unreachable")
        if unreachable not in self.unreachable and len(self.unreachable) < MAX_RECORDED_REFUSALS:
            self.unreachable.append(unreachable)
        await _answer(writer, 502, f"could not connect to {request.host}:{request.port}")
        return None

    def _record(self, refusal: Refusal) -> None:
        if refusal not in self.refused and len(self.refused) < MAX_RECORDED_REFUSALS:
            self.refused.append(refusal)


async def _resolve(host: str, port: int) -> list[str]:
    with contextlib.suppress(ValueError):
        # An address needs no lookup (getaddrinfo would return it as it is): no hop through
        # the default thread pool, which the worker's other blocking calls share, for every
        # request to a loopback or IP-addressed environment.
        return [str(ipaddress.ip_address(host))]
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return []
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def _answer(writer: asyncio.StreamWriter, status: int, message: str) -> None:
    phrase = {400: "Bad Request", 403: "Forbidden", 502: "Bad Gateway"}[status]
    body = (message + "\n").encode()
    writer.write(
        f"HTTP/1.1 {status} {phrase}\r\nContent-Type: text/plain\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body
    )
    with contextlib.suppress(ConnectionError, OSError):
        await writer.drain()


async def _copy(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    while chunk := await source.read(_CHUNK):
        sink.write(chunk)
        await sink.drain()


async def _pipe_both(
    client_reader: asyncio.StreamReader,
    client_writer: asyncio.StreamWriter,
    up_reader: asyncio.StreamReader,
    up_writer: asyncio.StreamWriter,
) -> None:
    """Copy both ways until either side is done, then drop both."""
    tasks = [
        asyncio.ensure_future(_copy(client_reader, up_writer)),
        asyncio.ensure_future(_copy(up_reader, client_writer)),
    ]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, ConnectionError, OSError):
                await task
