"""End to end in real Chromium: runs of the demo app become evidenced insights."""

from __future__ import annotations

import asyncio
import itertools
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from app.demo.site import create_demo_app
from scriptflow.config import Settings
from scriptflow.events import HandlerContext
from scriptflow.runs.events import RunFinished
from scriptflow.runs.pool import WorkerPool
from scriptflow.wiring import EVENT_TABLE, wired_sessionmaker
from tests.factories import Account, create_script, signup
from tests.runs.conftest import LOGIN_TEST, chromium  # noqa: F401  (fixture)
from tests.runs.helpers import create_environment, wait_for_status

pytestmark = [
    pytest.mark.browser,
    pytest.mark.usefixtures("chromium"),
    # One backend is enough here: the API tests cover both; this one is about real browsers.
    pytest.mark.parametrize("db_url", ["sqlite"], indirect=True),
]

FLAKY_TEST = """
def test_continue(page):
    page.goto("/flaky")
    page.locator("#continue").click(timeout=1500)
"""

HARD_WAIT_TEST = """
def test_login_slowly(page):
    page.goto("/login")
    page.wait_for_timeout(200)
    page.get_by_label("Username").fill("demo")
"""

# The misbehaving page breaks on loads 2 and 5: deterministic flakiness.
FLAKY_RUNS = 6


@pytest.fixture(scope="module")
def misbehaving_demo() -> Iterator[str]:
    """The demo app, whose /flaky page misbehaves on every third load (its ``roll`` seam)."""
    rolls = itertools.cycle([0.99, 0.0, 0.99])
    app = create_demo_app(flaky_rate=0.5, roll=lambda: next(rolls))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "demo app did not start"
        time.sleep(0.01)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(timeout=5)
    sock.close()


hooks_done: set[str] = set()


async def _after_insights(_context: HandlerContext, event: RunFinished) -> None:
    hooks_done.add(str(event.run_id))


@pytest.fixture
async def pool(app: FastAPI, settings: Settings) -> AsyncIterator[WorkerPool]:
    # Handlers run in table order, so this one runs after the insights refresh is done.
    table = {**EVENT_TABLE, RunFinished: (*EVENT_TABLE[RunFinished], _after_insights)}
    sessionmaker = wired_sessionmaker(app.state.engine, settings, table=table)
    pool = WorkerPool(sessionmaker, settings, count=1).start()
    app.state.run_pool = pool
    yield pool
    await pool.stop()


async def run_to_end(client: httpx.AsyncClient, account: Account, script_id: str) -> dict:
    """Queue a run, wait for its end and for the insights refresh that follows it."""
    r = await client.post(
        "/v1/test-runs",
        json={"script_id": script_id, "environment": "demo", "browser": "chromium"},
        headers=account.headers,
    )
    assert r.status_code == 201, r.text
    body = await wait_for_status(
        client, account, r.json()["id"], {"passed", "failed", "error"}, timeout_s=120
    )
    deadline = time.monotonic() + 30
    while body["id"] not in hooks_done:
        assert time.monotonic() < deadline, "the run-finished hooks did not complete"
        await asyncio.sleep(0.05)
    return body


async def insights_of(client: httpx.AsyncClient, account: Account, script_id: str) -> list:
    r = await client.get(f"/scripts/{script_id}/insights", headers=account.headers)
    assert r.status_code == 200, r.text
    items: list = r.json()
    return items


async def test_runs_of_the_demo_app_become_evidenced_insights(
    client: httpx.AsyncClient, pool: WorkerPool, misbehaving_demo: str
) -> None:
    account = await signup(client)
    await create_environment(client, account, base_url=misbehaving_demo, name="demo")
    flaky = await create_script(client, account, title="Flaky", content=FLAKY_TEST)
    stable = await create_script(client, account, title="Stable", content=LOGIN_TEST)
    waits = await create_script(client, account, title="Hard wait", content=HARD_WAIT_TEST)

    outcomes = [
        (await run_to_end(client, account, str(flaky["id"])))["status"] for _ in range(FLAKY_RUNS)
    ]
    assert outcomes == ["passed", "failed", "passed"] * 2
    for _ in range(2):
        assert (await run_to_end(client, account, str(stable["id"])))["status"] == "passed"
    assert (await run_to_end(client, account, str(waits["id"])))["status"] == "passed"

    found = {i["type"]: i for i in await insights_of(client, account, str(flaky["id"]))}
    selector = found["flaky-selector"]
    assert "#continue" in selector["details"]["locator"]
    assert "#continue" in selector["summary"] and selector["summary"].endswith("may be flaky")
    assert (selector["details"]["failures"], selector["details"]["executions"]) == (2, 6)
    assert len(selector["details"]["run_ids"]) == 2
    assert selector["details"]["environment"] == "demo"
    assert found["flaky-test"]["details"]["flips"] == 4

    assert await insights_of(client, account, str(stable["id"])) == []

    brittle = await insights_of(client, account, str(waits["id"]))
    assert [i["type"] for i in brittle] == ["brittle-code"]
    assert brittle[0]["details"]["category"] == "wait"
    assert 4 in brittle[0]["details"]["lines"]
