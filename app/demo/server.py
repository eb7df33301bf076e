"""Serve the demo app on loopback from a background thread (tests, the server, benchmarks)."""

from __future__ import annotations

from app.demo.site import create_demo_app
from app.threaded_server import ThreadedServer

STARTUP_TIMEOUT_S = 10.0


class DemoServer(ThreadedServer):
    """The demo app on ``127.0.0.1``; port 0 picks a free one. Use as a context manager."""

    def __init__(self, *, port: int = 0, flaky_rate: float = 0.3) -> None:
        super().__init__(
            create_demo_app(flaky_rate=flaky_rate),
            port=port,
            lifespan="off",
            startup_timeout_s=STARTUP_TIMEOUT_S,
        )
