"""Suite runs over HTTP on both databases: validation, pinning, shards merged, JUnit in and out.

The executor is swapped for one that reports what pytest would have (the real one is exercised
in test_suite_runs.py): what is tested here is the queue, the merge and the documents.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from fastapi import FastAPI

from scriptflow.config import Settings
from scriptflow.runs.execution import ExecutionResult, RunRequest, TestResult
from scriptflow.runs.queue import claim_next_run
from scriptflow.runs.worker import RunWorker
from tests.factories import Account, create_environment, signup
from tests.suites.conftest import upload_suite
from tests.suites.junit_schema import assert_valid_junit

FILES = {
    "conftest.py": "import pytest\n",
    "pages/login_page.py": (
        "class LoginPage:\n"
        "    def __init__(self, page):\n"
        '        self.username = page.locator("div.form > input:nth-child(2)")\n'
    ),
    "tests/test_cart.py": "def test_total(page):\n    pass\n\ndef test_reload(page):\n    pass\n",
    "tests/test_login.py": "def test_sign_in(page):\n    pass\n",
    "data/accounts.json": '{"valid": 1}\r\n',
}
BRITTLE = "div.form > input:nth-child(2)"
NODES = {
    "tests/test_cart.py::test_total[chromium]": ("failed", 1, "AssertionError: no total"),
    "tests/test_cart.py::test_reload[chromium]": ("flaky", 2, "lost on reload"),
    "tests/test_login.py::test_sign_in[chromium]": ("passed", 1, None),
}


class ReportingExecutor:
    """Reports, for each run, the tests its selection and shard would have run."""

    def __init__(self) -> None:
        self.requests: list[RunRequest] = []

    async def execute(self, request: RunRequest, cancel: asyncio.Event) -> ExecutionResult:
        from scriptflow.runs.shards import shard_part

        self.requests.append(request)
        nodes = [n for n in NODES if _selected(n, request.selection)]
        if request.shard:
            shard = request.shard
            nodes = sorted(shard_part(nodes, shard["durations"], shard["index"], shard["count"]))
        tests = tuple(
            TestResult(n.split("::")[1], NODES[n][0], 100, NODES[n][1], NODES[n][2], (), n)
            for n in nodes
        )
        failed = any(t.outcome == "failed" for t in tests)
        status = "failed" if failed else "passed"
        # What the plugin notes of a locator built in a page object (see engine.record).
        hints = {BRITTLE: {"aria_snapshot": '- textbox "Username"', "file": "pages/login_page.py",
                           "line": "3"}}  # fmt: skip
        return ExecutionResult(
            status, "a test failed" if failed else None, tests, (), 300, 1, locator_hints=hints
        )


def _selected(node: str, selection: tuple[str, ...]) -> bool:
    paths = [s for s in selection if not s.startswith("-")]
    return not paths or any(node == p or node.startswith(p.rstrip("/") + "/") or
                            node.startswith(p + "::") for p in paths)  # fmt: skip


async def _project(client: httpx.AsyncClient) -> tuple[Account, dict[str, str]]:
    account = await signup(client)
    await create_environment(client, account, base_url="http://127.0.0.1:9", name="staging")
    return account, await upload_suite(client, account, FILES)


async def _drain(worker: RunWorker) -> int:
    worked = 0
    while await worker.run_once():
        worked += 1
    return worked


async def _run(client: httpx.AsyncClient, account: Account, **body: Any) -> httpx.Response:
    return await client.post(
        "/v1/test-runs",
        json={"project_id": account.project_id, "environment": "staging"} | body,
        headers=account.headers,
    )


async def test_suite_runs_validate_pin_shard_merge_and_export(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    account, ids = await _project(client)
    executor = ReportingExecutor()
    worker = RunWorker(app.state.sessionmaker, settings, executor=executor)

    hostile: list[tuple[dict[str, Any], str]] = [
        ({"select": ["-p", "evil"]}, "select"),
        ({"select": ["../etc/passwd"]}, "select"),
        ({"select": ["@args"]}, "select"),
        ({"select": ["tests/nope.py"]}, "select"),
        ({"k": "-p x"}, "k"),
        ({"markers": "a and ("}, "markers"),
    ]
    for body, field in hostile:
        r = await _run(client, account, **body)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["error"]["details"]["fields"][0]["field"] == field
    mixed: list[dict[str, Any]] = [{"shards": 17}, {"script_id": ids["tests/test_cart.py"]}]
    for body in mixed:
        assert (await _run(client, account, **body)).status_code == 422
    other = await signup(client)
    r = await _run(client, other, project_id=account.project_id)
    assert r.status_code == 404  # someone else's project does not exist for them

    # A run of one node: the whole tree is pinned, only the node is selected.
    r = await _run(client, account, select=["tests/test_cart.py::test_total[chromium]"])
    assert r.status_code == 201, r.text
    node_run = r.json()
    assert node_run["kind"] == "suite" and node_run["script_id"] is None
    assert {p: v[1] for p, v in node_run["snapshot"].items()} == dict.fromkeys(FILES, 1)
    assert await _drain(worker) == 1
    request = executor.requests[-1]
    assert request.files["data/accounts.json"] == FILES["data/accounts.json"]  # CRLF kept
    assert request.selection == ("tests/test_cart.py::test_total[chromium]",)
    body = (await client.get(f"/v1/test-runs/{node_run['id']}", headers=account.headers)).json()
    assert [(t["nodeid"], t["file"], t["outcome"]) for t in body["tests"]] == [
        ("tests/test_cart.py::test_total[chromium]", "tests/test_cart.py", "failed")
    ]

    # The page object is no run's script, yet its enhancement sees the hint built in it.
    assert body["results"]["locator_hints"][BRITTLE] == {
        "role": "textbox",
        "name": "Username",
        "file": "pages/login_page.py",
        "line": "3",
    }
    r = await client.post(
        f"/v1/scripts/{ids['pages/login_page.py']}/enhance",
        json={"provider": "rules"},
        headers=account.headers,
    )
    assert r.status_code == 200 and r.json()["status"] == "proposed", r.text
    assert (
        '+        self.username = page.get_by_role("textbox", name="Username")'
        in (r.json()["proposed_diff"])
    )

    # A sharded run: a parent no worker takes, two shards that are, merged into one run.
    r = await _run(client, account, shards=2, retries=1)
    assert r.status_code == 201, r.text
    parent = r.json()
    assert parent["kind"] == "sharded" and parent["shard_count"] == 2
    assert await _drain(worker) == 2
    merged = (await client.get(f"/v1/test-runs/{parent['id']}", headers=account.headers)).json()
    assert merged["status"] == "failed"
    assert {t["nodeid"]: t["outcome"] for t in merged["tests"]} == {
        n: o for n, (o, _, _) in NODES.items()
    }
    shards = merged["results"]["shards"]
    assert [s["index"] for s in shards] == [0, 1] and sum(s["tests"] for s in shards) == 3
    assert {s["status"] for s in shards} <= {"passed", "failed"}
    assert "durations" not in (merged["selection"] or {})
    listed = await client.get(
        "/v1/test-runs", params={"project_id": account.project_id}, headers=account.headers
    )
    assert {r["kind"] for r in listed.json()} == {"suite", "sharded", "shard"}
    # The shards' tests are history of their files: the reload that passed on retry is a flaky
    # test of tests/test_cart.py, keyed by its node id, and of no other file.
    for path, expected in (("tests/test_cart.py", True), ("tests/test_login.py", False)):
        r = await client.get(f"/v1/scripts/{ids[path]}/insights", headers=account.headers)
        flaky = [i["summary"] for i in r.json() if i["type"] == "flaky-test"]
        named = any("tests/test_cart.py::test_reload[chromium]" in summary for summary in flaky)
        assert named is expected, (path, flaky)

    r = await client.get(f"/v1/test-runs/{parent['id']}/junit.xml", headers=account.headers)
    assert r.status_code == 200
    assert_valid_junit(r.content)
    assert r.content.count(b"<testcase ") == 3 and b"<flakyFailure" in r.content
    r = await client.get(f"/v1/test-runs/{parent['id']}/junit.xml", headers=other.headers)
    assert r.status_code == 404

    # Cancelling a sharded run whose shards are queued ends them all, and it, now.
    r = await _run(client, account, shards=3)
    cancelled = r.json()
    r = await client.post(f"/v1/test-runs/{cancelled['id']}/cancel", headers=account.headers)
    assert r.status_code == 200, r.text
    body = (await client.get(f"/v1/test-runs/{cancelled['id']}", headers=account.headers)).json()
    assert body["status"] == "cancelled"
    assert await _drain(worker) == 0

    # A shard whose worker died is taken again like any run; a cancelled shard is named.
    parent = (await _run(client, account, shards=2)).json()
    lost = await claim_next_run(app.state.sessionmaker, "a-worker-that-dies", lease_s=0.05)
    assert lost is not None
    await asyncio.sleep(0.2)  # its lease expires
    assert await _drain(worker) == 2
    merged = (await client.get(f"/v1/test-runs/{parent['id']}", headers=account.headers)).json()
    assert sorted(s["attempt"] for s in merged["results"]["shards"]) == [1, 2]
    assert sum(s["tests"] for s in merged["results"]["shards"]) == 3
    parent = (await _run(client, account, shards=2)).json()
    shard_ids = [
        r["id"]
        for r in (
            await client.get(
                "/v1/test-runs", params={"project_id": account.project_id}, headers=account.headers
            )
        ).json()
        if r["parent_id"] == parent["id"]
    ]
    r = await client.post(f"/v1/test-runs/{shard_ids[0]}/cancel", headers=account.headers)
    assert r.status_code == 200, r.text
    assert await _drain(worker) == 1
    body = (await client.get(f"/v1/test-runs/{parent['id']}", headers=account.headers)).json()
    by_run = {s["run_id"]: s for s in body["results"]["shards"]}
    cancelled_shard = by_run[shard_ids[0]]
    assert cancelled_shard["status"] == "cancelled"
    assert body["status"] == "error"
    assert body["error"] == f"Shard {cancelled_shard['index'] + 1} of 2 was cancelled"


FLAKY_REPORT = b"""<?xml version="1.0" encoding="utf-8"?>
<testsuites name="pytest tests"><testsuite name="pytest" errors="0" failures="0" skipped="0"
 tests="2" time="1.5"><testcase classname="tests.test_cart" name="test_reload[chromium]"
 time="1.0"><flakyFailure type="failure" message="lost on reload">lost</flakyFailure>
</testcase><testcase classname="e2e.spec.ts" name="cart adds" time="0.5"/></testsuite>
</testsuites>"""


async def test_imported_junit_is_history_that_feeds_insights(client: httpx.AsyncClient) -> None:
    account, ids = await _project(client)
    r = await client.post(
        f"/v1/projects/{account.project_id}/results",
        content=FLAKY_REPORT,
        headers={**account.headers, "Content-Type": "application/xml"},
    )
    assert r.status_code == 201, r.text
    runs = {run["script_id"]: run for run in r.json()}
    # One run for the file of the tree, one for what the tree does not hold (a .ts spec).
    assert set(runs) == {ids["tests/test_cart.py"], None}
    assert {run["kind"] for run in runs.values()} == {"imported"}
    assert all(run["status"] == "passed" and run["attempt"] == 1 for run in runs.values())
    cart = runs[ids["tests/test_cart.py"]]
    detail = (await client.get(f"/v1/test-runs/{cart['id']}", headers=account.headers)).json()
    assert [(t["name"], t["outcome"], t["attempts"]) for t in detail["tests"]] == [
        ("test_reload", "flaky", 2)
    ]
    r = await client.get(
        f"/v1/scripts/{ids['tests/test_cart.py']}/insights", headers=account.headers
    )
    assert r.status_code == 200, r.text
    flaky = [i for i in r.json() if i["type"] == "flaky-test"]
    # Keyed by the node id, not the file or the bare name.
    assert len(flaky) == 1 and "tests/test_cart.py::test_reload[chromium]" in flaky[0]["summary"]

    for bad in (b"<!DOCTYPE x [<!ENTITY a 'b'>]><testsuites>&a;</testsuites>", b"not xml"):
        r = await client.post(
            f"/v1/projects/{account.project_id}/results",
            content=bad,
            headers={**account.headers, "Content-Type": "application/xml"},
        )
        assert r.status_code == 422 and r.json()["error"]["code"] == "VALIDATION_ERROR"
    other = await signup(client)
    r = await client.post(
        f"/v1/projects/{account.project_id}/results",
        content=FLAKY_REPORT,
        headers={**other.headers, "Content-Type": "application/xml"},
    )
    assert r.status_code == 404
