"""The multi-file fixture suite run by scriptflow in real Chromium, next to plain pytest.

One project, one pool of two workers and one demo app serve every run here: a file, node ids
narrowed by ``-k``, and the whole suite in two shards; each must give the outcomes plain pytest
gives on the same folder, node id by node id. The sharded run's JUnit export is checked against
the junit-10 schema pytest validates with, and plain pytest's own report is imported back.
"""

from __future__ import annotations

import asyncio
import io
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from app.demo.server import DemoServer
from scriptflow.config import Settings
from scriptflow.runs.browsers import BrowserTarget
from scriptflow.runs.junit import parse_junit
from scriptflow.runs.pool import WorkerPool
from scriptflow.wiring import wired_sessionmaker
from tests.factories import Account, create_environment, signup
from tests.runs.helpers import wait_for_status
from tests.suites.conftest import plain_pytest, suite_files, upload_suite
from tests.suites.junit_schema import assert_valid_junit

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("db_url", ["sqlite"], indirect=True),  # the API parts: test_api.py
]

TERMINAL = {"passed", "failed", "error", "cancelled"}
LOGIN_PAGE = suite_files()["pages/login_page.py"].splitlines()
USERNAME_LINE = next(i + 1 for i, line in enumerate(LOGIN_PAGE) if '"#username"' in line)
PASSWORD_LINE = next(i + 1 for i, line in enumerate(LOGIN_PAGE) if '"#password"' in line)


@pytest.fixture
async def pool(app: FastAPI, settings: Settings) -> AsyncIterator[WorkerPool]:
    sessionmaker = wired_sessionmaker(app.state.engine, settings)
    pool = WorkerPool(sessionmaker, settings, count=2).start()
    app.state.run_pool = pool
    yield pool
    await pool.stop()


async def queue_suite_run(client: httpx.AsyncClient, account: Account, **body: object) -> str:
    r = await client.post(
        "/v1/test-runs",
        json={"project_id": account.project_id, "environment": "demo"} | body,
        headers=account.headers,
    )
    assert r.status_code == 201, r.text
    run_id: str = r.json()["id"]
    return run_id


def outcomes(run: dict[str, object]) -> dict[str, str]:
    tests = run["tests"]
    assert isinstance(tests, list)
    return {t["nodeid"]: t["outcome"] for t in tests}


async def test_the_suite_runs_as_file_node_selection_and_shards_like_plain_pytest(
    client: httpx.AsyncClient,
    pool: WorkerPool,
    demo: DemoServer,
    chromium: BrowserTarget,
    tmp_path: Path,
) -> None:
    # Plain pytest on the same folder, beside the runs (it is the reference, not a rival).
    reference = asyncio.create_task(
        asyncio.to_thread(plain_pytest, tmp_path, demo.base_url, chromium)
    )
    account = await signup(client)
    await create_environment(client, account, base_url=demo.base_url, name="demo")
    ids = await upload_suite(client, account)

    # Queued at once, run two at a time by the pool: a file (the seed's body), node ids
    # narrowed by -k with a retry, and the whole suite in two shards. Node ids and -k share one
    # run (one sandboxed Chromium less): the -k drops a node the selection names, and nothing
    # the selection does not name is collected.
    node = "tests/test_cart.py::test_added_product_is_in_the_cart[Banana-chromium]"
    total = "tests/test_cart.py::test_cart_total_is_shown[chromium]"
    reload = "tests/test_cart.py::test_cart_survives_a_reload[chromium]"
    apple = "tests/test_cart.py::test_added_product_is_in_the_cart[Apple-chromium]"
    r = await client.post(
        "/v1/test-runs",
        json={"script_id": ids["tests/test_login.py"], "environment": "demo"},
        headers=account.headers,
    )
    assert r.status_code == 201, r.text
    queued = {
        "file": r.json()["id"],
        "k": await queue_suite_run(
            client, account, select=[node, total, reload, apple], k="not Apple", retries=1
        ),
        "sharded": await queue_suite_run(client, account, shards=2),
    }
    runs = {
        what: await wait_for_status(client, account, run_id, TERMINAL, timeout_s=300)
        for what, run_id in queued.items()
    }
    by_file, by_k, sharded = runs["file"], runs["k"], runs["sharded"]
    junit, _ = await reference
    plain = {c.node_id: c.outcome for c in parse_junit(junit.read_bytes(), ["tests/test_cart.py"])}
    # 7 tests: the parametrised fixture and mark, one broken, one flaky (fails first time).
    assert len(plain) == 7
    assert plain["tests/test_cart.py::test_cart_total_is_shown[chromium]"] == "failed"
    assert plain["tests/test_cart.py::test_cart_survives_a_reload[chromium]"] == "failed"

    # The seed's run of one file sees its tree: page objects, conftest and data file.
    login = {n: o for n, o in plain.items() if n.startswith("tests/test_login.py")}
    assert outcomes(by_file) == login
    assert by_file["status"] == "passed" and by_file["kind"] == "script"
    assert set(by_file["snapshot"]) == set(ids)  # every file pinned
    # Hints say where the locator was built: in the page object, not in the test.
    hint = by_file["results"]["locator_hints"]["#username"]
    assert (hint["file"], hint["role"]) == ("pages/login_page.py", "textbox")
    assert hint["line"] == str(USERNAME_LINE)
    # A chained locator (built from get_by_text) is noted where the chain was built too.
    chained = by_file["results"]["locator_hints"]["#password"]
    assert (chained["file"], chained["line"]) == ("pages/login_page.py", str(PASSWORD_LINE))

    assert by_k["status"] == "failed"
    # The named nodes but the one -k drops; with a retry, the flaky test is flaky and the
    # broken one still fails; the node that passes under plain pytest passes.
    assert outcomes(by_k) == {node: "passed", total: "failed", reload: "flaky"}
    assert plain[node] == "passed"
    assert {t["file"] for t in by_k["tests"]} == {"tests/test_cart.py"}

    assert sharded["kind"] == "sharded" and sharded["status"] == "failed"
    assert outcomes(sharded) == plain
    shards = sharded["results"]["shards"]
    assert [s["index"] for s in shards] == [0, 1]
    assert sum(s["tests"] for s in shards) == 7 and all(s["tests"] > 0 for s in shards)

    # A suite run keeps failing attempts' traces only, with DOM snapshots from a test's
    # retry on: the total failed twice (2 traces, the second with snapshots), the reload's
    # failed first attempt left one without; its passing retry left none. Playwright records
    # the network only with the snapshots (docs/runs.md says so); every trace has the actions.
    kept = []
    for artifact in (a for a in by_k["artifacts"] if a["kind"] == "trace"):
        r = await client.get(artifact["url"], headers=account.headers)
        with zipfile.ZipFile(io.BytesIO(r.content)) as trace:
            names = trace.namelist()
            events = b"".join(trace.read(n) for n in names if n.endswith(".trace"))
            network = b"".join(trace.read(n) for n in names if n.endswith(".network"))
        assert b'"before"' in events and b'"after"' in events  # the actions, with their ends
        kept.append((b'"frame-snapshot"' in events, b'"resource-snapshot"' in network))
    assert sorted(kept) == [(False, False), (False, False), (True, True)]

    # JUnit out: pytest's shape, valid against the junit-10 schema, the same cases.
    r = await client.get(f"/v1/test-runs/{by_k['id']}/junit.xml", headers=account.headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/xml")
    assert_valid_junit(r.content)
    assert b"<flakyFailure" in r.content and b"<rerunFailure" in r.content
    exported = await client.get(f"/v1/test-runs/{sharded['id']}/junit.xml", headers=account.headers)
    assert_valid_junit(exported.content)
    assert {c.node_id: c.outcome for c in parse_junit(exported.content, ids)} == plain

    # JUnit in: plain pytest's own report becomes an imported run, never executed.
    r = await client.post(
        f"/v1/projects/{account.project_id}/results",
        content=junit.read_bytes(),
        headers={**account.headers, "Content-Type": "application/xml"},
    )
    assert r.status_code == 201, r.text
    imported = r.json()
    assert len(imported) == 2  # one per test module of the tree
    assert {(i["kind"], i["trigger"]) for i in imported} == {("imported", "import")}
    assert {t["nodeid"]: t["outcome"] for i in imported for t in i["results"]["tests"]} == plain
