"""Per-key rate limits: in process on the embedded default, shared by the deployment on PostgreSQL.

``RateLimiter`` is a sliding window in memory (one server process per database in development).
``SharedRateLimiter`` counts in the ``rate_limit_counters`` table with one atomic upsert per
event, so N API processes on one PostgreSQL hold one limit between them: a sliding window
approximated from this minute's and the previous minute's counters (the previous one weighted
by how much of it is still inside the window).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from scriptflow.config import Settings
from scriptflow.db.rate_limits import count_event
from scriptflow.errors import RateLimited

WINDOW_S = 60


class RateLimiter:
    """Allows `per_minute` events per key in any 60-second window."""

    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.window = float(WINDOW_S)
        self._clock = clock
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, key: str) -> None:
        """Record one event for `key`, or raise RateLimited with the seconds to wait."""
        if self.per_minute <= 0:
            return
        now = self._clock()
        with self._lock:
            events = self._events.setdefault(key, deque())
            while events and events[0] <= now - self.window:
                events.popleft()
            if len(events) >= self.per_minute:
                retry_after = max(events[0] + self.window - now, 0.1)
                raise RateLimited("Too many requests; slow down", retry_after=retry_after)
            events.append(now)
            if len(self._events) > 10_000:  # bound memory under many distinct keys
                self._events = {k: v for k, v in self._events.items() if v and v[-1] > now - 60}

    async def acheck(self, key: str) -> None:
        """`check`, for async callers (the shared limiter asks the database)."""
        self.check(key)


class SharedRateLimiter(RateLimiter):
    """One limit for every process on the same PostgreSQL database."""

    def __init__(
        self,
        name: str,
        per_minute: int,
        engine: Callable[[], AsyncEngine],
        *,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(per_minute)
        self.name = name
        self._engine = engine
        self._wall_clock = wall_clock
        self._last_prune = 0.0

    async def acheck(self, key: str) -> None:
        """Count one event deployment-wide, or raise RateLimited (the event is not counted)."""
        if self.per_minute <= 0:
            return
        now = self._wall_clock()
        window = int(now // WINDOW_S) * WINDOW_S
        prune = now - self._last_prune > WINDOW_S
        if prune:
            self._last_prune = now
        allowed = await count_event(
            self._engine(),
            self.name,
            key[:512],
            window,
            limit=lambda current, previous: (
                current + previous * (1 - (now - window) / WINDOW_S) <= self.per_minute
            ),
            prune_before=window - WINDOW_S if prune else None,
        )
        if not allowed:
            raise RateLimited(
                "Too many requests; slow down", retry_after=max(window + WINDOW_S - now, 1.0)
            )


def rate_limiters(settings: Settings, engine: Callable[[], AsyncEngine]) -> dict[str, RateLimiter]:
    """The API's limits: shared through the database on PostgreSQL, in process otherwise.

    ``engine`` gives the server's engine once it exists (it is made in the app's lifespan).
    """
    limits = {
        "login": settings.rate_limit_login_per_minute,
        "register": settings.rate_limit_register_per_minute,
        "enhance": settings.rate_limit_enhance_per_minute,
        "runs": settings.rate_limit_runs_per_minute,
    }
    if not settings.resolved_database_url.startswith("postgresql"):
        return {name: RateLimiter(per_minute) for name, per_minute in limits.items()}
    return {
        name: SharedRateLimiter(name, per_minute, engine) for name, per_minute in limits.items()
    }
