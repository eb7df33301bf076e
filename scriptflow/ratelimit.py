"""Per-key sliding-window rate limits, in process (one server process per database in dev)."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from scriptflow.errors import RateLimited


class RateLimiter:
    """Allows `per_minute` events per key in any 60-second window."""

    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.window = 60.0
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
