"""Insights over HTTP on SQLite and PostgreSQL: refresh after runs, list, resolve, impact."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pandas as pd
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scriptflow import events
from scriptflow.config import Settings
from scriptflow.db.engine import transaction
from scriptflow.insights import queries, warehouse_sync
from scriptflow.insights.repository import InsightRepository, WarehouseQueueRepository
from scriptflow.insights.warehouse_drain import start_drain
from scriptflow.runs.events import RunFinished
from scriptflow.scripts.models import ScriptRevision
from tests.factories import Account, create_environment, create_script, signup
from tests.insights.history import login_steps
from tests.insights.recording import record_run

HARD_WAIT = """\
def test_login(page):
    page.goto("/login")
    page.wait_for_timeout(3000)
    page.fill("#user", "demo")
    page.click("#login")
"""
CLEAN = """\
from playwright.sync_api import expect


def test_login(page):
    page.goto("/login")
    page.get_by_label("User").fill("demo")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text("Welcome")).to_be_visible()
"""


async def flaky_runs(
    sessionmaker: async_sessionmaker[AsyncSession],
    account: Account,
    script_id: str,
    *,
    count: int = 12,
    version: int = 1,
    start: datetime | None = None,
    fail_every: int = 3,
    fail_all: bool = False,
) -> list[uuid.UUID]:
    start = start or datetime.now(UTC) - timedelta(hours=2)
    ids = []
    for i in range(count):
        fails = (fail_all and i > 0) or (fail_every > 0 and i % fail_every == 1)
        ids.append(
            await record_run(
                sessionmaker,
                project_id=account.project_id,
                script_id=script_id,
                steps=login_steps(button_fails=fails),
                outcome="failed" if fails else "passed",
                version=version,
                created_at=start + timedelta(minutes=i),
                created_by=account.user_id,
            )
        )
    return ids


async def finish(
    sessionmaker: async_sessionmaker[AsyncSession],
    account: Account,
    script_id: str,
    run_id: uuid.UUID,
    status: str = "passed",
) -> None:
    """What the worker does after storing a run: dispatch RunFinished to the event table."""
    await events.dispatch(
        sessionmaker,
        RunFinished(run_id, uuid.UUID(account.project_id), uuid.UUID(script_id), status, "manual"),
    )


async def test_flaky_locator_becomes_the_seeds_flaky_selector_insight(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    account = await signup(client)
    script = await create_script(client, account, content=CLEAN)
    runs = await flaky_runs(sessionmaker, account, str(script["id"]))
    await finish(sessionmaker, account, str(script["id"]), runs[-1])

    r = await client.get(f"/scripts/{script['id']}/insights", headers=account.headers)
    assert r.status_code == 200, r.text
    items = r.json()
    selector = next(i for i in items if i["type"] == "flaky-selector")
    assert {"id", "type", "severity", "summary", "details", "created_at"} <= set(selector)
    assert selector["summary"] == "Selector #login may be flaky"
    details = selector["details"]
    assert details["locator"] == "#login" and details["environment"] == "staging"
    assert (details["failures"], details["executions"]) == (4, 12)
    assert set(details["run_ids"]) <= {str(i) for i in runs}
    assert len(details["run_ids"]) == 4
    assert any(i["type"] == "flaky-test" for i in items)
    assert all(i["status"] == "open" and i["occurrences"] == 1 for i in items)

    r = await client.get(
        f"/v1/scripts/{script['id']}/insights",
        params={"type": "flaky-selector", "severity": selector["severity"], "status": "open"},
        headers=account.headers,
    )
    assert [i["id"] for i in r.json()] == [selector["id"]]
    r = await client.get(
        f"/v1/scripts/{script['id']}/insights",
        params={"status": "resolved"},
        headers=account.headers,
    )
    assert r.json() == []
    r = await client.get(
        f"/v1/scripts/{script['id']}/insights",
        params={"severity": "urgent"},
        headers=account.headers,
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_a_recurring_finding_updates_in_place(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    account = await signup(client)
    script = await create_script(client, account, content=CLEAN)
    runs = await flaky_runs(sessionmaker, account, str(script["id"]))
    await finish(sessionmaker, account, str(script["id"]), runs[-1])
    await finish(sessionmaker, account, str(script["id"]), runs[-1])  # same evidence again
    first = await client.get(f"/v1/scripts/{script['id']}/insights", headers=account.headers)
    before = {i["fingerprint"]: i for i in first.json()}

    late = datetime.now(UTC) - timedelta(minutes=30)
    new_run = await record_run(
        sessionmaker,
        project_id=account.project_id,
        script_id=str(script["id"]),
        steps=login_steps(button_fails=True),
        outcome="failed",
        created_at=late,
    )
    await finish(sessionmaker, account, str(script["id"]), new_run, "failed")
    after = {
        i["fingerprint"]: i
        for i in (
            await client.get(f"/v1/scripts/{script['id']}/insights", headers=account.headers)
        ).json()
    }
    assert set(before) <= set(after)  # nothing duplicated: same fingerprints, same rows
    selector = next(i for i in after.values() if i["type"] == "flaky-selector")
    old = before[selector["fingerprint"]]
    assert selector["id"] == old["id"]
    assert selector["occurrences"] == 2
    assert selector["first_seen"] == old["first_seen"]
    assert selector["last_seen"] > old["last_seen"]
    assert str(new_run) in selector["details"]["run_ids"]


async def test_resolve_and_project_listing_and_other_peoples_insights(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    account = await signup(client)
    stranger = await signup(client)
    script = await create_script(client, account, content=CLEAN)
    stable = await create_script(client, account, title="Stable", content=CLEAN)
    runs = await flaky_runs(sessionmaker, account, str(script["id"]))
    steady = await flaky_runs(sessionmaker, account, str(stable["id"]), fail_every=0)
    await finish(sessionmaker, account, str(script["id"]), runs[-1])
    await finish(sessionmaker, account, str(stable["id"]), steady[-1])

    r = await client.get(f"/v1/scripts/{stable['id']}/insights", headers=account.headers)
    assert r.json() == []  # a stable script yields none

    r = await client.get(f"/v1/projects/{account.project_id}/insights", headers=account.headers)
    assert r.status_code == 200
    assert {i["script_id"] for i in r.json()} == {script["id"]}
    insight = r.json()[0]

    r = await client.get(f"/v1/projects/{account.project_id}/insights", headers=stranger.headers)
    assert r.status_code == 404
    r = await client.get(f"/v1/scripts/{script['id']}/insights", headers=stranger.headers)
    assert r.status_code == 404 and r.json()["error"]["code"] == "SCRIPT_NOT_FOUND"
    r = await client.post(f"/v1/insights/{insight['id']}/resolve", headers=stranger.headers)
    assert r.status_code == 404 and r.json()["error"]["code"] == "INSIGHT_NOT_FOUND"

    r = await client.post(f"/v1/insights/{insight['id']}/resolve", headers=account.headers)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "resolved" and r.json()["resolved_at"]
    r = await client.get(
        f"/v1/projects/{account.project_id}/insights",
        params={"status": "resolved"},
        headers=account.headers,
    )
    assert [i["id"] for i in r.json()] == [insight["id"]]


async def test_a_hard_wait_is_a_brittle_code_finding(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    account = await signup(client)
    script = await create_script(client, account, content=HARD_WAIT)
    run = await record_run(
        sessionmaker,
        project_id=account.project_id,
        script_id=str(script["id"]),
        steps=login_steps(),
    )
    await finish(sessionmaker, account, str(script["id"]), run)
    r = await client.get(
        f"/v1/scripts/{script['id']}/insights",
        params={"type": "brittle-code"},
        headers=account.headers,
    )
    items = r.json()
    waits = [i for i in items if i["details"]["category"] == "wait"]
    assert waits, items
    assert 3 in waits[0]["details"]["lines"]
    assert waits[0]["summary"].startswith("Hard wait on line 3")


async def test_did_the_fix_work_on_a_revision_and_as_an_insight(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    account = await signup(client)
    # More runs than the rollups keep at each end: the report says the window it used.
    r = await client.patch(
        f"/v1/projects/{account.project_id}",
        json={"settings": {"insights": {"window_runs": 150}}},
        headers=account.headers,
    )
    assert r.status_code == 200, r.text
    script = await create_script(client, account, content=CLEAN)
    r = await client.put(
        f"/v1/scripts/{script['id']}",
        json={"content": CLEAN + "\n# tightened\n"},
        headers=account.headers,
    )
    assert r.status_code == 200, r.text
    # As if the edit had come from an accepted change set.
    async with transaction(sessionmaker) as session:
        await session.execute(
            update(ScriptRevision)
            .where(
                ScriptRevision.script_id == uuid.UUID(str(script["id"])),
                ScriptRevision.version == 2,
            )
            .values(source="changeset")
        )
    start = datetime.now(UTC) - timedelta(hours=3)
    await flaky_runs(sessionmaker, account, str(script["id"]), count=8, fail_every=0, start=start)
    after = await flaky_runs(
        sessionmaker,
        account,
        str(script["id"]),
        count=8,
        version=2,
        fail_all=True,  # every run but the first fails after the change
        start=start + timedelta(hours=1),
    )

    r = await client.get(f"/v1/scripts/{script['id']}/revisions/2/impact", headers=account.headers)
    assert r.status_code == 200, r.text
    impact = r.json()
    assert impact["verdict"] == "worse"
    assert impact["before"]["pass_rate"] == 1.0 and impact["after"]["pass_rate"] < 0.5
    assert "pass_rate" in impact["regressions"]
    assert (impact["before"]["runs"], impact["after"]["runs"]) == (8, 8)
    assert impact["window_runs"] == 100

    await finish(sessionmaker, account, str(script["id"]), after[-1], "failed")
    r = await client.get(
        f"/v1/scripts/{script['id']}/insights",
        params={"type": "fix-regression"},
        headers=account.headers,
    )
    [regression] = r.json()
    assert regression["severity"] == "critical"
    assert regression["details"]["after"]["version"] == 2

    r = await client.get(f"/v1/scripts/{script['id']}/revisions/9/impact", headers=account.headers)
    assert r.status_code == 404


async def test_the_warehouse_catches_up_and_answers_dashboard_queries(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    account = await signup(client)
    stranger = await signup(client)
    script = await create_script(client, account, content=CLEAN)
    theirs = await create_script(client, stranger, content=CLEAN)
    runs = await flaky_runs(sessionmaker, account, str(script["id"]))
    await flaky_runs(sessionmaker, stranger, str(theirs["id"]))
    await finish(sessionmaker, account, str(script["id"]), runs[-1])
    try:
        async with transaction(sessionmaker, write=False) as session:
            reader = await warehouse_sync.open_analytics(
                session, uuid.UUID(account.user_id), settings
            )
        with reader:
            selectors = queries.flakiest_selectors(reader)
            summary = queries.insights_by_type_and_severity(reader)
            scripts_seen = reader.rows("SELECT DISTINCT script_id::VARCHAR FROM runs")
        assert scripts_seen == [(str(script["id"]),)]  # the stranger's runs stay out of view
        assert selectors.iloc[0]["locator"] == "#login"
        assert set(summary["type"]) >= {"flaky-selector", "flaky-test"}
        # One definition of the summary: over the insights a page lists from the database it
        # gives what the warehouse's mirror gives.
        async with transaction(sessionmaker, write=False) as session:
            listed = await InsightRepository(session).of_project(uuid.UUID(account.project_id))
        pd.testing.assert_frame_equal(queries.summarize_insights(listed), summary)
        only_open = queries.summarize_insights(listed, status="open")
        assert set(only_open["status"]) == {"open"}
        # A second catch-up appends nothing new; a run synced twice is not duplicated.
        async with transaction(sessionmaker, write=False) as session:
            warehouse = warehouse_sync.warehouse_for(settings)
            again = await warehouse_sync.catch_up(session, warehouse)
            await warehouse_sync.sync_runs(session, warehouse, [runs[0]])
        assert again.runs == 0
        with warehouse.reader([account.project_id]) as reader:
            assert reader.rows("SELECT count(*) FROM runs") == [(12,)]
    finally:
        warehouse_sync.close_warehouses()


@pytest.mark.parametrize("bad", ["nope", "Critical"])
async def test_unknown_filters_are_422(client: httpx.AsyncClient, bad: str) -> None:
    account = await signup(client)
    r = await client.get(
        f"/v1/projects/{account.project_id}/insights",
        params={"type": bad},
        headers=account.headers,
    )
    assert r.status_code == 422


async def test_a_new_flaky_suspicion_queues_confirmation_reruns_when_enabled(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    account = await signup(client)
    await create_environment(client, account, base_url="http://127.0.0.1:9")
    script = await create_script(client, account, content=CLEAN)

    # Off by default: nothing is queued.
    runs = await flaky_runs(sessionmaker, account, str(script["id"]))
    await finish(sessionmaker, account, str(script["id"]), runs[-1])
    r = await client.get(
        "/v1/test-runs",
        params={"script_id": str(script["id"]), "status": "queued"},
        headers=account.headers,
    )
    assert r.json() == []

    r = await client.patch(
        f"/v1/projects/{account.project_id}",
        json={"settings": {"confirm_flaky_reruns": 3}},
        headers=account.headers,
    )
    assert r.status_code == 200, r.text
    other = await create_script(client, account, title="Other", content=CLEAN)
    runs = await flaky_runs(sessionmaker, account, str(other["id"]))
    await finish(sessionmaker, account, str(other["id"]), runs[-1])
    r = await client.get(
        "/v1/test-runs",
        params={"script_id": str(other["id"]), "status": "queued"},
        headers=account.headers,
    )
    queued = r.json()
    assert len(queued) == 3
    assert {(q["script_version"], q["environment"]) for q in queued} == {(1, "staging")}
    insights = (
        await client.get(
            f"/v1/scripts/{other['id']}/insights",
            params={"type": "flaky-test"},
            headers=account.headers,
        )
    ).json()
    confirmation = insights[0]["details"]["confirmation"]
    assert confirmation["status"] == "pending" and confirmation["requested"] == 3
    assert set(confirmation["run_ids"]) == {q["id"] for q in queued}


async def test_without_an_ai_provider_a_summary_request_says_what_to_set(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    account = await signup(client)
    script = await create_script(client, account, content=CLEAN)
    runs = await flaky_runs(sessionmaker, account, str(script["id"]))
    await finish(sessionmaker, account, str(script["id"]), runs[-1])
    [insight, *_] = (
        await client.get(f"/v1/scripts/{script['id']}/insights", headers=account.headers)
    ).json()
    r = await client.post(f"/v1/insights/{insight['id']}/summary", headers=account.headers)
    assert r.status_code == 503
    error = r.json()["error"]
    assert error["code"] == "AI_PROVIDER_UNAVAILABLE" and "OPENAI_API_KEY" in error["message"]


async def test_insights_are_kept_when_confirmation_reruns_cannot_be_queued(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    account = await signup(client)  # no "staging" environment: reruns cannot be created
    r = await client.patch(
        f"/v1/projects/{account.project_id}",
        json={"settings": {"confirm_flaky_reruns": 2}},
        headers=account.headers,
    )
    assert r.status_code == 200, r.text
    script = await create_script(client, account, content=CLEAN)
    runs = await flaky_runs(sessionmaker, account, str(script["id"]))
    await finish(sessionmaker, account, str(script["id"]), runs[-1])
    items = (
        await client.get(f"/v1/scripts/{script['id']}/insights", headers=account.headers)
    ).json()
    assert {i["type"] for i in items} >= {"flaky-test", "flaky-selector"}
    assert all("confirmation" not in i["details"] for i in items)


async def test_an_accepted_change_set_reaches_the_fix_impact_chart_without_a_catch_up(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    account = await signup(client)
    script = await create_script(client, account, content=HARD_WAIT)
    script_id = str(script["id"])
    before = await flaky_runs(sessionmaker, account, script_id, count=4, fail_every=0)
    # The deployment's lake writer (an API or worker process's background task in production).
    drain = start_drain(sessionmaker, settings)
    try:
        for run_id in before:
            await finish(sessionmaker, account, script_id, run_id)
        await drained(sessionmaker)
        warehouse = warehouse_sync.warehouse_for(settings)
        with warehouse.reader([account.project_id]) as reader:
            assert queries.fix_impact(reader).empty

        r = await client.post(
            f"/scripts/{script_id}/enhance", json={"provider": "rules"}, headers=account.headers
        )
        assert r.status_code in (200, 201), r.text
        r = await client.post(
            f"/scripts/{script_id}/changesets/{r.json()['id']}/accept", headers=account.headers
        )
        assert r.status_code == 200, r.text

        with warehouse.reader([account.project_id]) as reader:
            [impact] = queries.fix_impact(reader).to_dict("records")
        assert (impact["script_id"], impact["version"]) == (script_id, 2)
        assert (impact["runs_before"], impact["runs_after"]) == (4, 0)

        # The next finished run of the new version shows up on the "after" side by itself.
        start = datetime.now(UTC) - timedelta(minutes=30)
        after = await flaky_runs(
            sessionmaker, account, script_id, count=2, version=2, fail_every=0, start=start
        )
        for run_id in after:
            await finish(sessionmaker, account, script_id, run_id)
        await drained(sessionmaker)
        with warehouse.reader([account.project_id]) as reader:
            [impact] = queries.fix_impact(reader).to_dict("records")
            mirrored = reader.rows("SELECT count(*) FROM insights")
        assert (impact["runs_before"], impact["runs_after"]) == (4, 2)
        assert mirrored[0][0] > 0  # brittle-code from the hard wait, mirrored by the refresh
    finally:
        await drain.close()
        warehouse_sync.close_warehouses()


async def drained(sessionmaker: async_sessionmaker[AsyncSession], within_s: float = 30) -> None:
    """Until the lake writer appended every queued run (it deletes entries after its commit)."""
    deadline = asyncio.get_running_loop().time() + within_s
    while True:
        async with transaction(sessionmaker, write=False) as session:
            if await WarehouseQueueRepository(session).depth() == 0:
                return
        assert asyncio.get_running_loop().time() < deadline, "the queue was never drained"
        await asyncio.sleep(0.05)
