"""Rate limits on PostgreSQL hold for the deployment, not per process."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from scriptflow.db.engine import create_engine
from scriptflow.errors import RateLimited
from scriptflow.ratelimit import RateLimiter, SharedRateLimiter, rate_limiters
from tests.support.settings import settings_for


def engine_of(engine: AsyncEngine) -> Callable[[], AsyncEngine]:
    return lambda: engine


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_two_processes_share_one_limit_and_a_refused_event_is_not_counted(
    db_url: str,
) -> None:
    # Two engines stand for two API processes: nothing is shared but the database.
    engines = [create_engine(db_url), create_engine(db_url)]
    now = [1_000_020.0]
    try:
        limiters = [
            SharedRateLimiter("login", 5, engine_of(engine), wall_clock=lambda: now[0])
            for engine in engines
        ]
        for i in range(5):
            await limiters[i % 2].acheck("127.0.0.11:a@example.com")
        for limiter in limiters:
            with pytest.raises(RateLimited) as refused:
                await limiter.acheck("127.0.0.11:a@example.com")
            assert refused.value.retry_after and refused.value.retry_after > 0
        await limiters[1].acheck("127.0.0.12:b@example.com")  # another key has its own limit
        # The next minute still carries most of the previous one (a sliding window) ...
        now[0] = 1_000_080.0 + 10
        with pytest.raises(RateLimited):
            await limiters[0].acheck("127.0.0.11:a@example.com")
        # ... and is free once the old events have slid out; refusals did not count.
        now[0] = 1_000_080.0 + 55
        await limiters[0].acheck("127.0.0.11:a@example.com")
    finally:
        for engine in engines:
            await engine.dispose()


def test_the_embedded_default_keeps_its_limits_in_process(tmp_path: object) -> None:
    settings = settings_for(f"sqlite+aiosqlite:///{tmp_path}/x.db", tmp_path)  # type: ignore[arg-type]
    limiters = rate_limiters(settings, lambda: pytest.fail("no database for in-process limits"))
    assert {type(limiter) for limiter in limiters.values()} == {RateLimiter}
    assert set(limiters) == {"login", "register", "enhance", "runs"}
