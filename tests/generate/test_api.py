"""Generation through the API against the demo app: real Chromium in the run sandbox, real runs.

Browser work is expensive, so one test walks the whole rules flow (generate, verify,
provenance, same code twice, accept, a normal run) and one the openai flow (whose first look
at the page is the outline the preview answers); the cheap checks
(roles, validation, the shared rate limit) share neither a browser nor a run.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from app.demo.server import DemoServer
from app.main import create_app
from scriptflow.changesets.models import ScriptChangeSet
from scriptflow.config import Settings
from scriptflow.generate.jobs import GenerationJobs
from scriptflow.runs.pool import WorkerPool
from tests.factories import Account, create_environment, create_script, signup
from tests.runs.helpers import wait_for_status
from tests.support.openai_stub import OpenAIStub
from tests.support.settings import settings_with_openai


@pytest.fixture(scope="module")
def demo() -> Any:
    with DemoServer(flaky_rate=0.0) as server:
        yield server


async def member(client: httpx.AsyncClient, owner: Account, role: str) -> Account:
    other = await signup(client)
    r = await client.post(
        f"/v1/projects/{owner.project_id}/members",
        json={"email": other.email, "role": role},
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text
    return other


async def wait_generated(
    client: httpx.AsyncClient, account: Account, location: str, timeout_s: float = 180
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        r = await client.get(location, headers=account.headers)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        if body["status"] != "generating":
            return body
        assert time.monotonic() < deadline, "still generating"
        await asyncio.sleep(0.3)


async def generate(
    client: httpx.AsyncClient, account: Account, *, project: Account | None = None, **body: Any
) -> httpx.Response:
    """Generate in the account's own project (or in `project`'s, as a member of it)."""
    return await client.post(
        f"/v1/projects/{(project or account).project_id}/generate",
        json={"environment": "demo"} | body,
        headers=account.headers,
    )


@contextlib.asynccontextmanager
async def serve(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, FastAPI]]:
    """The app with two run workers (verification runs go side by side)."""
    app = create_app(settings, run_background=False)
    async with app.router.lifespan_context(app):
        pool = WorkerPool(app.state.sessionmaker, app.state.settings, count=2).start()
        app.state.generation_jobs = GenerationJobs()
        transport = httpx.ASGITransport(app=app)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                yield client, app
        finally:
            await app.state.generation_jobs.stop()
            await pool.stop()


@pytest.fixture
async def served(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, FastAPI]]:
    async with serve(settings) as served:
        yield served


async def stored_changesets(app: FastAPI) -> int:
    async with app.state.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(ScriptChangeSet)) or 0)


@pytest.mark.browser
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_rules_generation_is_verified_deterministic_and_accepted_into_a_passing_test(
    served: tuple[httpx.AsyncClient, FastAPI], demo: DemoServer
) -> None:
    client, _app = served
    account = await signup(client)
    await create_environment(client, account, base_url=demo.base_url, name="demo")

    # Two verification runs, not the default three: each is a sandboxed Chromium run, and two
    # already show the same code passing every time.
    r = await generate(
        client, account, path="/signup", target_path="tests/test_signup.py", verify_runs=2
    )
    assert r.status_code == 202, r.text
    started = r.json()
    assert started["status"] == "generating" and started["base_version"] == 0
    location = r.headers["location"]
    assert location == f"/v1/scripts/{started['script_id']}/changesets/{started['id']}"
    assert started["proposed_diff"].startswith(
        "diff --git a/tests/test_signup.py b/tests/test_signup.py\nnew file mode 100644\n"
        "--- /dev/null\n+++ b/tests/test_signup.py\n"
    )
    # Nothing enters the suite before it is accepted: the draft is in no listing.
    r = await client.get(f"/v1/scripts?project_id={account.project_id}", headers=account.headers)
    assert started["script_id"] not in {s["id"] for s in r.json()}

    done = await wait_generated(client, account, location)
    assert done["status"] == "proposed", done
    verification = done["verification"]
    assert (verification["runs"], verification["passed"]) == (2, 2)
    assert len(verification["run_ids"]) == 2 and all(d > 0 for d in verification["durations_ms"])
    run = (
        await client.get(f"/v1/test-runs/{verification['run_ids'][0]}", headers=account.headers)
    ).json()
    assert run["status"] == "passed"
    assert any(a["name"].endswith(".zip") for a in run["artifacts"])  # the trace

    content = done["proposed_diff"]
    code = "\n".join(
        line[1:]
        for line in content.splitlines()
        if line.startswith("+") and not line.startswith("+++")
    )
    assert 'page.goto("/signup")' in code
    assert "locator(" not in code and "nth" not in code  # role, label or test id everywhere
    assert 'page.get_by_test_id("signup-submit").click()' in code
    assert 'expect(page).to_have_url(re.compile("/signup/done(?:[?#]|$)"))' in code
    assert 'to_have_text("Your free account is ready")' in code
    # Provenance: each generated locator line names its node and the candidates it beat.
    click = next(
        f for f in done["findings"] if f["locator"] == 'page.get_by_test_id("signup-submit")'
    )
    assert click["node"] == '- button "Create account"'
    assert [c["rank"] for c in click["candidates"]] == sorted(
        c["rank"] for c in click["candidates"]
    )
    assert click["candidates"][0]["matches"] == 1 and click["unique"] is True

    # Same page in, same code out.
    again = await generate(
        client, account, path="/signup", target_path="tests/test_signup.py", verify_runs=1
    )
    assert again.status_code == 202
    assert again.json()["proposed_diff"] == done["proposed_diff"]
    # Its verification run cancelled before it ran (one Chromium run less), the copy is never
    # proposed: a generated test must pass every verification run.
    (again_run,) = again.json()["verification"]["run_ids"]
    r = await client.post(f"/v1/test-runs/{again_run}/cancel", headers=account.headers)
    assert r.status_code == 200, r.text
    refused = await wait_generated(client, account, again.headers["location"])
    assert refused["status"] == "failed", refused
    assert refused["verification"]["passed"] == 0

    r = await client.post(f"{location}/accept", headers=account.headers)
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 1
    script = (await client.get(f"/v1/scripts/{done['script_id']}", headers=account.headers)).json()
    assert script["version"] == 1 and script["path"] == "tests/test_signup.py"
    revisions = (
        await client.get(f"/v1/scripts/{done['script_id']}/revisions", headers=account.headers)
    ).json()
    assert [(rev["version"], rev["source"]) for rev in revisions] == [(1, "generated")]

    r = await client.post(
        "/v1/test-runs",
        json={"script_id": done["script_id"], "environment": "demo", "browser": "chromium"},
        headers=account.headers,
    )
    assert r.status_code == 201, r.text
    ran = await wait_for_status(
        client, account, r.json()["id"], {"passed", "failed", "error"}, timeout_s=120
    )
    assert ran["status"] == "passed", ran


GOOD_PLAN = {
    "test_name": "subscribe_to_the_newsletter",
    "steps": [
        {"action": "fill", "target": {"label": "Email"}, "value": "reader@example.com"},
        {"action": "click", "target": {"role": "button", "name": "Subscribe"}},
        {"action": "expect_text", "target": {"role": "status"}, "value": "Subscribed"},
    ],
}


@pytest.mark.browser
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_openai_plans_are_run_live_compiled_by_us_and_refused_when_they_do_not_hold(
    db_url: str, tmp_path: Path, openai_stub: OpenAIStub, demo: DemoServer
) -> None:
    settings = settings_with_openai(db_url, tmp_path, openai_stub)
    async with serve(settings) as (client, app):
        account = await signup(client)
        await create_environment(client, account, base_url=demo.base_url, name="demo")
        ask: dict[str, Any] = {
            "path": "/newsletter",
            "provider": "openai",
            "description": "subscribe, see it",
        }

        # An element the page does not have: found out on the live page, nothing stored.
        missing = {"action": "click", "target": {"role": "button", "name": "Unsubscribe"}}
        openai_stub.answer_raw(json.dumps(GOOD_PLAN | {"steps": [missing, *GOOD_PLAN["steps"]]}))
        r = await generate(client, account, **ask)
        assert r.status_code == 502, r.text
        error = r.json()["error"]
        assert error["details"]["step"] == 0 and "Unsubscribe" in error["message"]
        assert await stored_changesets(app) == 0

        openai_stub.answer_raw(json.dumps(GOOD_PLAN))
        r = await generate(client, account, **ask, verify_runs=1)
        assert r.status_code == 202, r.text
        plan_request = openai_stub.behaviour.requests[-1]["body"]
        assert 'textbox "Email"' in plan_request["messages"][1]["content"]  # the outline
        done = await wait_generated(client, account, r.headers["location"])
        assert done["status"] == "proposed", done
        assert done["provider"] == "openai" and done["verification"]["passed"] == 1
        code = done["proposed_diff"]
        assert "def test_subscribe_to_the_newsletter(page: Page) -> None:" in code
        # Our ranking, not the model's wording: role and name beat the label it named.
        assert (
            'page.get_by_role("textbox", name="Email", exact=True).fill("reader@example.com")'
            in code
        )
        assert 'expect(page.get_by_role("status")).to_contain_text("Subscribed")' in code
        assert "os.system" not in code


async def test_roles_validation_and_the_rate_limit_shared_with_enhance(
    settings: Settings, demo: DemoServer
) -> None:
    limited = settings.model_copy(update={"rate_limit_enhance_per_minute": 3})
    async with serve(limited) as (client, _app):
        owner = await signup(client)
        await create_environment(client, owner, base_url=demo.base_url, name="demo")
        viewer = await member(client, owner, "viewer")
        r = await generate(client, viewer, project=owner, path="/signup")
        assert r.status_code == 403 and r.json()["error"]["code"] == "FORBIDDEN"
        stranger = await signup(client)
        r = await client.post(
            f"/v1/projects/{owner.project_id}/generate",
            json={"environment": "demo", "path": "/signup"},
            headers=stranger.headers,
        )
        assert r.status_code == 404
        r = await generate(client, owner, path="https://evil.example/")
        assert r.status_code == 422
        r = await generate(client, owner, path="/signup", environment="nowhere")
        assert r.status_code == 422
        assert r.json()["error"]["details"]["known_environments"] == ["demo"]
        r = await generate(client, owner, path="/signup", provider="openai")
        assert r.status_code == 422  # a description is required
        # Enhance and generate draw on one per-user budget.
        script = await create_script(client, owner)
        r = await client.post(f"/v1/scripts/{script['id']}/enhance", json={}, headers=owner.headers)
        assert r.status_code == 200
        r = await generate(client, owner, path="/signup", provider="openai")
        assert r.status_code == 429 and r.json()["error"]["code"] == "RATE_LIMITED"
