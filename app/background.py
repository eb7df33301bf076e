"""Background services started with the app (run workers, …) and stopped in reverse order.

Each entry is `async def start(app) -> stop`, where `stop` is an async callable.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI

Stopper = Callable[[], Awaitable[None]]
Starter = Callable[[FastAPI], Awaitable[Stopper]]

BACKGROUND_SERVICES: list[Starter] = []
