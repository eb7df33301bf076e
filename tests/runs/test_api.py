"""Test runs through the API, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from app.demo.server import DemoServer
from scriptflow.config import Settings
from scriptflow.events import HandlerContext
from scriptflow.runs.events import RunFinished
from scriptflow.runs.pool import WorkerPool
from scriptflow.wiring import EVENT_TABLE, wired_sessionmaker
from tests.factories import create_script, signup
from tests.runs.conftest import LOGIN_TEST, MISSING_BUTTON_TEST
from tests.runs.helpers import create_environment, queue_run, wait_for_status

pytestmark = pytest.mark.usefixtures("chromium")


async def test_create_pins_version_and_base_url_and_reads_back(
    client: httpx.AsyncClient,
) -> None:
    account = await signup(client)
    run = await queue_run(client, account, LOGIN_TEST, base_url="http://shop.test/")
    assert run["status"] == "queued"
    assert (run["script_version"], run["base_url"], run["browser"]) == (
        1,
        "http://shop.test",
        "chromium",
    )
    r = await client.get(f"/test-runs/{run['id']}", headers=account.headers)  # the seed's path
    body = r.json()
    assert r.status_code == 200
    assert {"id", "status", "started_at", "completed_at", "results"} <= set(body)
    assert body["completed_at"] is None and body["results"] is None


async def test_unknown_environment_is_422_listing_the_known_ones(client: httpx.AsyncClient) -> None:
    account = await signup(client)
    await create_environment(client, account, base_url="http://a.test", name="staging")
    await create_environment(client, account, base_url="http://b.test", name="prod")
    script = await create_script(client, account)
    r = await client.post(
        "/v1/test-runs",
        json={"script_id": script["id"], "environment": "qa", "browser": "chromium"},
        headers=account.headers,
    )
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert error["details"]["known_environments"] == ["prod", "staging"]
    assert "prod, staging" in error["message"]


async def test_a_browser_that_is_not_installed_is_422(client: httpx.AsyncClient) -> None:
    account = await signup(client)
    await create_environment(client, account, base_url="http://a.test")
    script = await create_script(client, account)
    r = await client.post(
        "/v1/test-runs",
        json={"script_id": script["id"], "environment": "staging", "browser": "webkit"},
        headers=account.headers,
    )
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "BROWSER_NOT_AVAILABLE"
    assert "chromium" in r.json()["error"]["details"]["available"]
    r = await client.get("/v1/browsers", headers=account.headers)
    assert [b["name"] for b in r.json()] == ["chromium"]


async def test_invalid_python_and_unknown_versions_are_rejected(client: httpx.AsyncClient) -> None:
    account = await signup(client)
    await create_environment(client, account, base_url="http://a.test")
    bad = await create_script(client, account, content="def test_x(page):\n    page.goto(\n")
    r = await client.post(
        "/v1/test-runs",
        json={"script_id": bad["id"], "environment": "staging"},
        headers=account.headers,
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "SCRIPT_SYNTAX_ERROR"
    good = await create_script(client, account)
    r = await client.post(
        "/v1/test-runs",
        json={"script_id": good["id"], "environment": "staging", "version": 7},
        headers=account.headers,
    )
    assert r.status_code == 422 and r.json()["error"]["details"]["current"] == 1


async def test_other_peoples_scripts_and_runs_are_404(client: httpx.AsyncClient) -> None:
    alice, mallory = await signup(client), await signup(client)
    run = await queue_run(client, alice, LOGIN_TEST)
    r = await client.get(f"/v1/test-runs/{run['id']}", headers=mallory.headers)
    assert r.status_code == 404 and r.json()["error"]["code"] == "TEST_RUN_NOT_FOUND"
    r = await client.post(f"/v1/test-runs/{run['id']}/cancel", headers=mallory.headers)
    assert r.status_code == 404
    r = await client.post(
        "/v1/test-runs",
        json={"script_id": run["script_id"], "environment": "staging"},
        headers=mallory.headers,
    )
    assert r.status_code == 404 and r.json()["error"]["code"] == "SCRIPT_NOT_FOUND"
    assert (await client.get("/v1/test-runs", headers=mallory.headers)).json() == []


async def test_cancel_a_queued_run_at_once_and_a_finished_one_is_409(
    client: httpx.AsyncClient,
) -> None:
    account = await signup(client)
    run = await queue_run(client, account, LOGIN_TEST)
    r = await client.post(f"/test-runs/{run['id']}/cancel", headers=account.headers)
    assert r.status_code == 200
    assert r.json() == {"id": run["id"], "status": "cancelled", "cancel_requested": True}
    body = (await client.get(f"/v1/test-runs/{run['id']}", headers=account.headers)).json()
    assert body["status"] == "cancelled" and body["completed_at"] is not None
    r = await client.post(f"/v1/test-runs/{run['id']}/cancel", headers=account.headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "INVALID_RUN_STATE"


async def test_list_filters_and_paginates_with_a_link_header(client: httpx.AsyncClient) -> None:
    account = await signup(client)
    first = await queue_run(client, account, LOGIN_TEST)
    second = await queue_run(client, account, LOGIN_TEST)
    await client.post(f"/v1/test-runs/{first['id']}/cancel", headers=account.headers)
    h = account.headers
    r = await client.get("/v1/test-runs", params={"status": "cancelled"}, headers=h)
    assert [x["id"] for x in r.json()] == [first["id"]]
    r = await client.get("/v1/test-runs", params={"script_id": second["script_id"]}, headers=h)
    assert [x["id"] for x in r.json()] == [second["id"]]
    r = await client.get("/v1/test-runs", params={"environment": "nope"}, headers=h)
    assert r.json() == []
    r = await client.get("/v1/test-runs", params={"limit": 1}, headers=h)
    assert [x["id"] for x in r.json()] == [second["id"]]
    next_url = r.headers["Link"].split(";")[0].strip("<>")
    r = await client.get(next_url, headers=h)
    assert [x["id"] for x in r.json()] == [first["id"]] and "Link" not in r.headers
    r = await client.get("/v1/test-runs", params={"status": "exploded"}, headers=h)
    assert r.status_code == 422


@pytest.fixture
def finished() -> list[RunFinished]:
    """The RunFinished events the pool dispatched, after the event table's own handlers."""
    return []


@pytest.fixture
async def pool(
    app: FastAPI, settings: Settings, finished: list[RunFinished]
) -> AsyncIterator[WorkerPool]:
    async def record(_context: HandlerContext, event: RunFinished) -> None:
        finished.append(event)

    table = {**EVENT_TABLE, RunFinished: (*EVENT_TABLE[RunFinished], record)}
    sessionmaker = wired_sessionmaker(app.state.engine, settings, table=table)
    pool = WorkerPool(sessionmaker, settings, count=1).start()
    app.state.run_pool = pool
    yield pool
    await pool.stop()


@pytest.mark.browser
async def test_a_run_executes_end_to_end_with_events_results_and_artifacts(
    client: httpx.AsyncClient, pool: WorkerPool, demo: DemoServer, finished: list[RunFinished]
) -> None:
    account = await signup(client)
    run = await queue_run(client, account, LOGIN_TEST, base_url=demo.base_url)
    r = await client.get(f"/v1/test-runs/{run['id']}/events", headers=account.headers)
    assert r.headers["content-type"].startswith("text/event-stream")
    events = [
        json.loads(line.removeprefix("data: "))
        for line in r.text.splitlines()
        if line.startswith("data: ")
    ]
    assert events[-1]["status"] == "passed"
    assert len({e["status"] for e in events}) == len(events)  # one event per change
    body = (await client.get(f"/v1/test-runs/{run['id']}", headers=account.headers)).json()
    # Hooks run right after the status is visible; a loaded machine may take seconds.
    hooks_deadline = time.monotonic() + 30
    while not finished and time.monotonic() < hooks_deadline:
        await asyncio.sleep(0.1)
    assert body["status"] == "passed" and body["attempt"] == 1
    assert body["results"]["summary"]["passed"] == 1
    (test,) = body["tests"]
    assert test["name"] == "test_login" and test["outcome"] == "passed"
    assert test["steps"][0]["action"] == "goto"
    names = {a["name"]: a for a in body["artifacts"]}
    assert {"trace.zip", "output.log"} <= set(names)
    trace = await client.get(names["trace.zip"]["url"], headers=account.headers)
    assert trace.status_code == 200 and trace.content.startswith(b"PK")
    assert [(e.run_id.hex, e.status) for e in finished] == [(run["id"].replace("-", ""), "passed")]
    other = await signup(client)
    r = await client.get(names["trace.zip"]["url"], headers=other.headers)
    assert r.status_code == 404


@pytest.mark.browser
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the queue side: test_queue.py
async def test_failed_run_and_a_cancel_mid_run(
    client: httpx.AsyncClient, pool: WorkerPool, demo: DemoServer
) -> None:
    account = await signup(client)
    failing = await queue_run(client, account, MISSING_BUTTON_TEST, base_url=demo.base_url)
    body = await wait_for_status(client, account, failing["id"], {"failed"})
    assert 'click on locator("#submit-order") failed' in body["error"]
    assert "screenshot.png" in {a["name"] for a in body["artifacts"]}

    hanging = "import time\n\ndef test_hang(page):\n    page.goto('/')\n    time.sleep(60)\n"
    run = await queue_run(client, account, hanging)
    await wait_for_status(client, account, run["id"], {"running"})
    r = await client.post(f"/v1/test-runs/{run['id']}/cancel", headers=account.headers)
    assert r.status_code == 200
    body = await wait_for_status(client, account, run["id"], {"cancelled"}, timeout_s=6)
    assert body["error"] == "Run cancelled"


async def test_many_event_streams_at_once_all_see_their_runs_end(
    client: httpx.AsyncClient,
) -> None:
    # More watchers than the SQLite connection pool has slots: none may starve the others.
    account = await signup(client)
    runs = [await queue_run(client, account, LOGIN_TEST) for _ in range(8)]
    streams = [
        asyncio.create_task(client.get(f"/v1/test-runs/{r['id']}/events", headers=account.headers))
        for r in runs
    ]
    await asyncio.sleep(0.5)
    for r in runs:
        cancel = await client.post(f"/v1/test-runs/{r['id']}/cancel", headers=account.headers)
        assert cancel.status_code == 200
    done = await asyncio.wait_for(asyncio.gather(*streams), timeout=30)
    for response in done:
        statuses = [
            json.loads(line.removeprefix("data: "))["status"]
            for line in response.text.splitlines()
            if line.startswith("data: ")
        ]
        assert statuses == ["queued", "cancelled"]


@pytest.mark.browser
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # enhance's side runs on both
async def test_a_finished_run_teaches_enhance_the_roles_behind_brittle_selectors(
    client: httpx.AsyncClient, pool: WorkerPool, demo: DemoServer
) -> None:
    account = await signup(client)
    brittle = (
        "def test_login(page):\n"
        "    page.goto('/login')\n"
        "    page.fill('#username', 'demo')\n"
        "    page.fill('#password', 'demo-password')\n"
        "    page.click('form > button:nth-child(3)')\n"
    )
    run = await queue_run(client, account, brittle, base_url=demo.base_url)
    body = await wait_for_status(client, account, run["id"], {"passed", "failed", "error"})
    assert body["status"] == "passed", body.get("error")
    r = await client.post(
        f"/v1/scripts/{body['script_id']}/enhance",
        json={"provider": "rules", "prompt": "selectors"},
        headers=account.headers,
    )
    assert r.status_code == 200, r.text
    # The role and name came from the run, not from the request.
    assert 'get_by_role("button", name="Log in").click()' in r.json()["proposed_diff"]
