"""Failure classes: stored when a run finishes, overridden by a reviewer, and honest pass rates.

An unreachable environment is a ``system`` failure and counts as not tested: a real run of a
real script in a real Chromium against a loopback port nothing listens on.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.demo.server import DemoServer
from app.threaded_server import ThreadedServer
from scriptflow.config import Settings
from scriptflow.insights.analysis import MemoryHistory
from scriptflow.insights.extract import extract_runs
from scriptflow.insights.queries import pass_rate_over_time
from scriptflow.runs.pool import WorkerPool
from scriptflow.runs.triage import run_failure_class
from scriptflow.wiring import wired_sessionmaker
from tests.factories import Account, create_environment, create_script, signup
from tests.runs.helpers import wait_for_status
from tests.web.browsing import TIMEOUT_MS
from tests.web.conftest import ARTIFACTS_DIR, web_app

# The demo's login, with waits short enough that the unreachable run fails in seconds.
LOGIN_TEST = """
from playwright.sync_api import Page, expect


def test_login(page: Page):
    page.set_default_timeout(5_000)
    page.goto("/login")
    page.get_by_label("Username").fill("demo")
    page.get_by_label("Password").fill("demo-password")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#welcome")).to_have_text("Welcome, demo", timeout=8_000)
"""


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port that refuses connections: bound (so nobody else takes it), not listening."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.fixture
async def pool(app: FastAPI, settings: Settings) -> AsyncIterator[WorkerPool]:
    pool = WorkerPool(wired_sessionmaker(app.state.engine, settings), settings, count=1).start()
    app.state.run_pool = pool
    yield pool
    await pool.stop()


async def _member(client: httpx.AsyncClient, owner: Account, role: str) -> Account:
    member = await signup(client)
    r = await client.post(
        f"/v1/projects/{owner.project_id}/members",
        json={"email": member.email, "role": role},
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text
    return member


async def _run(client: httpx.AsyncClient, account: Account, script_id: str, env: str) -> str:
    r = await client.post(
        "/v1/test-runs",
        json={"script_id": script_id, "environment": env, "browser": "chromium"},
        headers=account.headers,
    )
    assert r.status_code == 201, r.text
    run_id: str = r.json()["id"]
    return run_id


async def _pass_rate(app: FastAPI, script_id: str) -> tuple[int, int]:
    """(runs, passed) of the script as the dashboard's pass-rate series counts them."""
    async with app.state.sessionmaker() as session:
        batches = await session.run_sync(
            lambda sync: list(extract_runs(sync, script_id=uuid.UUID(script_id)))
        )
    history = MemoryHistory(batches)
    try:
        frame = pass_rate_over_time(history, bucket="day", script_id=script_id)
    finally:
        history.close()
    return int(frame["runs"].sum()), int(frame["passed"].sum())


async def _reclassify_in_the_notebook(
    browser: Any, settings: Settings, account: Account, target: str, artifacts: Path
) -> None:
    with ThreadedServer(web_app(settings)) as server:
        context = await browser.new_context(viewport={"width": 1400, "height": 1000})
        page = await context.new_page()
        try:
            await page.goto(server.base_url + target)
            await page.get_by_label("Email").fill(account.email)
            await page.get_by_label("Password").fill(account.password)
            await page.get_by_role("button", name="Sign in").click()
            await page.get_by_text("by the rules").first.wait_for(timeout=TIMEOUT_MS)
            await page.get_by_text("not counted in pass rates").first.wait_for(timeout=TIMEOUT_MS)
            await page.get_by_text("Change the failure class").click()
            await page.get_by_role("combobox", name="Failure of").select_option(
                label="test_login (now system)"
            )
            await page.get_by_role("combobox", name="is").select_option(
                label="product: an assertion failed"
            )
            await page.get_by_role("button", name="Save the failure class").click()
            await page.get_by_text("failure class is now product").wait_for(timeout=TIMEOUT_MS)
            await page.get_by_text("set by a reviewer").first.wait_for(timeout=TIMEOUT_MS)
        finally:
            await page.screenshot(path=str(artifacts / "run-failure-class.png"), full_page=True)
            await context.close()


def _test_of(triage: dict[str, Any]) -> dict[str, Any]:
    (test,) = triage["tests"]
    return test


@pytest.mark.browser
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # both databases: the JUnit test
async def test_an_unreachable_environment_is_a_system_failure_and_leaves_the_pass_rate_alone(
    client: httpx.AsyncClient,
    app: FastAPI,
    pool: WorkerPool,
    demo: DemoServer,
    closed_port: int,
    browser: Any,
    settings: Settings,
    tmp_path: Path,
) -> None:
    artifacts = ARTIFACTS_DIR / "triage"
    artifacts.mkdir(parents=True, exist_ok=True)
    owner = await signup(client)
    await create_environment(client, owner, base_url=demo.base_url, name="staging")
    await create_environment(client, owner, base_url=f"http://127.0.0.1:{closed_port}", name="down")
    script_id = str((await create_script(client, owner, content=LOGIN_TEST))["id"])
    passed = await _run(client, owner, script_id, "staging")
    await wait_for_status(client, owner, passed, {"passed"}, timeout_s=90)
    down = await _run(client, owner, script_id, "down")
    body = await wait_for_status(client, owner, down, {"failed", "error"}, timeout_s=90)
    # Through the sandbox's egress proxy the browser gets a 502 page, then a locator times out:
    # the rules alone would call that the test code's fault.
    assert body["status"] == "failed" and body["tests"][0]["outcome"] == "failed"
    assert {"host": "127.0.0.1", "port": closed_port, "reason": "unreachable"} in body["results"][
        "unreachable"
    ] or "ERR_CONNECTION_REFUSED" in str(body["tests"])

    r = await client.get(f"/v1/test-runs/{down}/triage", headers=owner.headers)
    assert r.status_code == 200, r.text
    triage = r.json()
    assert (triage["failure_class"], triage["failure_class_source"]) == ("system", "rules")
    test = _test_of(triage)
    assert (test["failure_class"], test["failure_class_source"]) == ("system", "rules")
    assert test["failure_class_by"] is None and triage["can_edit"] is True
    ok = (await client.get(f"/v1/test-runs/{passed}/triage", headers=owner.headers)).json()
    assert ok["failure_class"] is None and _test_of(ok)["failure_class"] is None

    # Not tested: one run in the pass rate, and it passed.
    assert await _pass_rate(app, script_id) == (1, 1)

    # A reviewer, on the run page, says the product was at fault: the run counts again.
    reviewer = await _member(client, owner, "reviewer")
    await _reclassify_in_the_notebook(
        browser, settings, reviewer, f"/notebooks/run/?script={script_id}&run={down}", artifacts
    )
    url = f"/v1/test-runs/{down}/tests/{test['id']}"
    r = await client.get(f"/v1/test-runs/{down}/triage", headers=reviewer.headers)
    changed = _test_of(r.json())
    assert (changed["failure_class"], changed["failure_class_source"]) == ("product", "reviewer")
    assert changed["failure_class_by"] == reviewer.user_id and changed["failure_class_at"]
    assert r.json()["failure_class"] == "product"  # the run follows its test
    assert await _pass_rate(app, script_id) == (2, 1)

    # null returns to the rules' class.
    r = await client.patch(url, json={"failure_class": None}, headers=owner.headers)
    assert r.status_code == 200, r.text
    back = _test_of(r.json())
    assert (back["failure_class"], back["failure_class_source"], back["failure_class_by"]) == (
        "system",
        "rules",
        None,
    )
    assert await _pass_rate(app, script_id) == (1, 1)

    # Editors and viewers may read, not reclassify; a stranger sees nothing.
    editor = await _member(client, owner, "editor")
    r = await client.patch(url, json={"failure_class": "product"}, headers=editor.headers)
    assert r.status_code == 403 and r.json()["error"]["details"]["required_role"] == "reviewer"
    seen = (await client.get(f"/v1/test-runs/{down}/triage", headers=editor.headers)).json()
    assert seen["can_edit"] is False and seen["failure_class"] == "system"
    stranger = await signup(client)
    r = await client.patch(url, json={"failure_class": "product"}, headers=stranger.headers)
    assert r.status_code == 404
    r = await client.get(f"/v1/test-runs/{down}/triage", headers=stranger.headers)
    assert r.status_code == 404

    # A test that passed has no failure class to set; a class is one of three words.
    passed_test = _test_of(ok)["id"]
    r = await client.patch(
        f"/v1/test-runs/{passed}/tests/{passed_test}",
        json={"failure_class": "system"},
        headers=owner.headers,
    )
    assert r.status_code == 422
    r = await client.patch(url, json={"failure_class": "flaky"}, headers=owner.headers)
    assert r.status_code == 422
    r = await client.patch(
        f"/v1/test-runs/{passed}/tests/{test['id']}",  # another run's test
        json={"failure_class": "product"},
        headers=owner.headers,
    )
    assert r.status_code == 404


FAILING_REPORT = b"""<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" errors="0" failures="2" skipped="0" tests="3" time="3">
<testcase classname="tests.test_cart" name="test_total" time="1.0"><failure
 message="AssertionError">AssertionError: Locator expected to have text "3"</failure></testcase>
<testcase classname="tests.test_cart" name="test_open" time="1.0"><failure
 message="net::ERR_CONNECTION_REFUSED">Page.goto: net::ERR_CONNECTION_REFUSED at
 http://127.0.0.1:9/</failure></testcase>
<testcase classname="tests.test_cart" name="test_empty" time="1.0"/>
</testsuite></testsuites>"""


async def test_imported_failures_are_classed_and_a_run_override_sticks(
    client: httpx.AsyncClient,
) -> None:
    owner = await signup(client)
    r = await client.post(
        f"/v1/projects/{owner.project_id}/results",
        content=FAILING_REPORT,
        headers={**owner.headers, "Content-Type": "application/xml"},
    )
    assert r.status_code == 201, r.text
    (run,) = r.json()
    triage = (await client.get(f"/v1/test-runs/{run['id']}/triage", headers=owner.headers)).json()
    classes = {t["name"]: t["failure_class"] for t in triage["tests"]}
    assert classes == {"test_total": "product", "test_open": "system", "test_empty": None}
    assert triage["failure_class"] == "product"  # one product failure makes the run's class

    url = f"/v1/test-runs/{run['id']}/failure-class"
    r = await client.patch(url, json={"failure_class": "system"}, headers=owner.headers)
    assert r.status_code == 200, r.text
    assert (r.json()["failure_class"], r.json()["failure_class_source"]) == ("system", "reviewer")
    # The run's own override survives a change to one of its tests.
    test_id = next(t["id"] for t in triage["tests"] if t["name"] == "test_open")
    r = await client.patch(
        f"/v1/test-runs/{run['id']}/tests/{test_id}",
        json={"failure_class": "automation"},
        headers=owner.headers,
    )
    assert r.status_code == 200 and r.json()["failure_class"] == "system"
    r = await client.patch(url, json={"failure_class": None}, headers=owner.headers)
    assert (r.json()["failure_class"], r.json()["failure_class_source"]) == ("product", "rules")


@pytest.mark.parametrize(
    ("status", "error", "tests", "expected"),
    [
        ("failed", "3 failed", ["system", "product", None], "product"),
        ("failed", "2 failed", ["system", "automation"], "automation"),
        ("failed", "1 failed", ["system", None], "system"),
        ("error", "net::ERR_CONNECTION_REFUSED at http://127.0.0.1:9/", [], "system"),
        ("passed", None, [None], None),
    ],
)
def test_a_runs_class_follows_its_most_telling_test(
    status: str, error: str | None, tests: list[str | None], expected: str | None
) -> None:
    assert run_failure_class(status, error, tests) == expected
