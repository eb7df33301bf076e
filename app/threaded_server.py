"""An ASGI app on loopback from a background thread: browser tests, benchmarks, the demo target.

Real browsers and real pytest runs need a real HTTP server they can reach; one implementation
serves the whole app and the demo site alike (the `scriptflow demo` command uses it, so it
ships with the web face rather than with the tests).
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Literal, Self

import uvicorn
from starlette.types import ASGIApp

STARTUP_TIMEOUT_S = 60.0


class ThreadedServer:
    """Serve an ASGI app on ``127.0.0.1`` (port 0 picks a free one) until stopped."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        lifespan: Literal["auto", "on", "off"] = "auto",
        startup_timeout_s: float = STARTUP_TIMEOUT_S,
    ) -> None:
        # Binding here, before the thread starts, makes the port known (and taken) up front.
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.host = host
        self.port: int = self._sock.getsockname()[1]
        self._startup_timeout_s = startup_timeout_s
        config = uvicorn.Config(
            app, log_level="warning", access_log=False, ws="auto", lifespan=lifespan
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> Self:
        """Start serving; returns once the app's lifespan has run and it accepts connections."""
        self._thread.start()
        deadline = time.monotonic() + self._startup_timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=15)
        self._sock.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
