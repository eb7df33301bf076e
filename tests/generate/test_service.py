"""A generated change set's life on both databases: generating, verified, failed, accepted.

The page's exploration is replayed from a report the sandbox wrote for the demo's sign-up page
(the explorer is an edge behind `PageExplorer`); the verification runs are real queued runs,
finished here the way a worker's fenced update finishes them.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import update

from app.background import start_generation_jobs
from scriptflow.generate.service import verify_generated
from scriptflow.runs.models import TestRun
from tests.factories import Account, create_environment, signup

REPORT = json.loads((Path(__file__).parent / "reports" / "signup.json").read_text())


class ReplayedPage:
    """The explorer edge answering what the sandbox once saw of the page."""

    def __init__(self, report: dict[str, Any]) -> None:
        self.report = report
        self.jobs: list[dict[str, Any]] = []

    async def explore(self, base_url: str, job: dict[str, Any]) -> dict[str, Any]:
        self.jobs.append(job)
        return self.report


async def finish_runs(app: FastAPI, run_ids: list[str], statuses: list[str]) -> None:
    async with app.state.sessionmaker() as session:
        for run_id, status in zip(run_ids, statuses, strict=True):
            await session.execute(
                update(TestRun)
                .where(TestRun.id == uuid.UUID(run_id))
                .values(
                    status=status,
                    results={"duration_ms": 1234},
                    error=None if status == "passed" else "expect failed",
                )
            )
        await session.commit()


async def generated(
    client: httpx.AsyncClient, app: FastAPI, owner: Account, **body: Any
) -> dict[str, Any]:
    r = await client.post(
        f"/v1/projects/{owner.project_id}/generate",
        json={"environment": "demo", "path": "/signup", "verify_runs": 2} | body,
        headers=owner.headers,
    )
    assert r.status_code == 202, r.text
    started: dict[str, Any] = r.json()
    await app.state.generation_jobs.stop()  # the wait is driven by hand below
    return started


async def test_a_generated_file_is_verified_then_accepted_as_version_one(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    app.state.page_explorer = ReplayedPage(REPORT)
    owner = await signup(client)
    await create_environment(client, owner, base_url="http://127.0.0.1:9", name="demo")
    started = await generated(client, app, owner, target_path="tests/test_signup.py")
    location = f"/v1/scripts/{started['script_id']}/changesets/{started['id']}"
    run_ids = started["verification"]["run_ids"]
    assert len(run_ids) == 2
    run = (await client.get(f"/v1/test-runs/{run_ids[0]}", headers=owner.headers)).json()
    assert (run["status"], run["script_version"]) == ("queued", 0)

    listed = (
        await client.get(f"/v1/scripts?project_id={owner.project_id}", headers=owner.headers)
    ).json()
    assert started["script_id"] not in {s["id"] for s in listed}
    files = await client.get(f"/v1/projects/{owner.project_id}/files", headers=owner.headers)
    assert files.status_code == 200 and files.json() == []

    r = await client.post(f"{location}/accept", headers=owner.headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "INVALID_CHANGESET_STATE"

    await finish_runs(app, run_ids, ["passed", "passed"])
    await verify_generated(
        app.state.sessionmaker, uuid.UUID(started["id"]), settings=app.state.settings, poll_s=0.01
    )
    done = (await client.get(location, headers=owner.headers)).json()
    assert done["status"] == "proposed"
    assert done["verification"] == {
        "runs": 2,
        "passed": 2,
        "run_ids": run_ids,
        "durations_ms": [1234, 1234],
    }
    listed = (
        await client.get(f"{location.rsplit('/', 1)[0]}?status=proposed", headers=owner.headers)
    ).json()
    assert [c["id"] for c in listed] == [started["id"]]

    r = await client.post(f"{location}/accept", headers=owner.headers)
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 1
    script = (await client.get(f"/v1/scripts/{started['script_id']}", headers=owner.headers)).json()
    assert (script["path"], script["version"]) == ("tests/test_signup.py", 1)
    assert script["content"] == done["proposed_diff"].split("@@\n", 1)[1].replace("\n+", "\n")[1:]
    revisions = (
        await client.get(f"/v1/scripts/{started['script_id']}/revisions", headers=owner.headers)
    ).json()
    assert [(v["version"], v["source"]) for v in revisions] == [(1, "generated")]
    assert revisions[0]["diff"].startswith(
        "diff --git a/tests/test_signup.py b/tests/test_signup.py\nnew file"
    )
    files = (
        await client.get(f"/v1/projects/{owner.project_id}/files", headers=owner.headers)
    ).json()
    assert [f["path"] for f in files] == ["tests/test_signup.py"]

    # The same target again: verified, but the path is taken when it comes to accepting.
    second = await generated(client, app, owner, target_path="tests/test_signup.py")
    await finish_runs(app, second["verification"]["run_ids"], ["passed", "passed"])
    await verify_generated(
        app.state.sessionmaker, uuid.UUID(second["id"]), settings=app.state.settings, poll_s=0.01
    )
    r = await client.post(
        f"/v1/scripts/{second['script_id']}/changesets/{second['id']}/accept", headers=owner.headers
    )
    assert r.status_code == 409 and "tests/test_signup.py" in r.json()["error"]["message"]


async def test_a_generated_file_that_fails_one_verification_run_is_failed(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    app.state.page_explorer = ReplayedPage(REPORT)
    owner = await signup(client)
    await create_environment(client, owner, base_url="http://127.0.0.1:9", name="demo")
    started = await generated(client, app, owner)
    assert started["target_path"] == "tests/test_generated_signup.py"
    await finish_runs(app, started["verification"]["run_ids"], ["passed", "failed"])
    await verify_generated(
        app.state.sessionmaker, uuid.UUID(started["id"]), settings=app.state.settings, poll_s=0.01
    )
    location = f"/v1/scripts/{started['script_id']}/changesets/{started['id']}"
    done = (await client.get(location, headers=owner.headers)).json()
    assert done["status"] == "failed"
    assert done["verification"]["passed"] == 1
    assert done["failure_reason"].startswith("1 of 2 verification runs passed")
    assert "expect failed" in done["failure_reason"]
    r = await client.post(f"{location}/accept", headers=owner.headers)
    assert r.status_code == 409


FINAL = json.loads((Path(__file__).parent / "reports" / "login_recording.json").read_text())
RECORDING = """from playwright.sync_api import Playwright, sync_playwright


def run(playwright: Playwright) -> None:
    browser = playwright.chromium.launch(headless=False)
    context = browser.new_context()
    page = context.new_page()
    page.goto("http://127.0.0.1:8123/login")
    page.get_by_label("Username").fill("demo")
    page.get_by_label("Password").fill("demo-password")
    page.get_by_role("button", name="Log in").click()
    context.close()
    browser.close()


with sync_playwright() as playwright:
    run(playwright)
"""


async def test_a_recording_becomes_a_test_asserting_where_it_left_the_page(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    page = ReplayedPage(FINAL)
    app.state.page_explorer = page
    owner = await signup(client)
    await create_environment(client, owner, base_url="http://127.0.0.1:9", name="demo")
    r = await client.post(
        f"/v1/projects/{owner.project_id}/generate",
        json={"environment": "demo", "recording": RECORDING, "verify_runs": 1},
        headers=owner.headers,
    )
    assert r.status_code == 202, r.text
    started = r.json()
    await app.state.generation_jobs.stop()
    # The steps ran in the sandbox first: the recording's, as written, with a relative URL.
    assert page.jobs[0]["mode"] == "final"
    assert page.jobs[0]["recorded"]["body"][0] == 'page.goto("/login")'
    assert started["provider"] == "recording"
    assert started["target_path"] == "tests/test_generated_login.py"
    code = started["proposed_diff"]
    assert "headless" not in code and "sync_playwright" not in code and "127.0.0.1" not in code
    assert '+def test_recording_login(page: Page) -> None:\n+    page.goto("/login")\n' in code
    assert '+    expect(page).to_have_url(re.compile("/welcome(?:[?#]|$)"))\n' in code
    assert "+import re\n" in code
    rules = {f["rule"] for f in started["findings"]}
    assert rules == {"generate:recording"}


async def test_a_server_starting_again_resumes_the_verification_wait(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    app.state.page_explorer = ReplayedPage(REPORT)
    owner = await signup(client)
    await create_environment(client, owner, base_url="http://127.0.0.1:9", name="demo")
    started = await generated(client, app, owner)  # its wait stopped, as at a shutdown
    await finish_runs(app, started["verification"]["run_ids"], ["passed", "passed"])
    stop = await start_generation_jobs(app)
    try:
        await asyncio.wait_for(app.state.generation_jobs.drain(), timeout=30)
    finally:
        await stop()
    location = f"/v1/scripts/{started['script_id']}/changesets/{started['id']}"
    assert (await client.get(location, headers=owner.headers)).json()["status"] == "proposed"


async def test_the_preview_answers_the_outline_to_members_only(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    page = ReplayedPage(REPORT)
    app.state.page_explorer = page
    owner = await signup(client)
    await create_environment(client, owner, base_url="http://127.0.0.1:9", name="demo")
    preview = f"/v1/projects/{owner.project_id}/generate/preview"
    r = await client.get(
        preview, params={"environment": "demo", "path": "/signup"}, headers=owner.headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["outline"] == REPORT["outline"] and r.json()["title"] == "Sign up"
    assert page.jobs == [{"mode": "outline", "path": "/signup"}]
    stranger = await signup(client)
    r = await client.get(
        preview, params={"environment": "demo", "path": "/signup"}, headers=stranger.headers
    )
    assert r.status_code == 404
    r = await client.get(preview, params={"environment": "demo"}, headers=owner.headers)
    assert r.status_code == 422
    assert len(page.jobs) == 1
