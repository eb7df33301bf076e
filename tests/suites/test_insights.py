"""Suite and shard runs are history for insights: each test counts for the file its node id
names, at the version the run pinned, so flaky tests, flaky selectors and failure clusters of a
suite appear on the right file, keyed by node id. Both databases; the runs are stored as a
worker stores them (the execution itself is covered in test_suite_runs.py)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scriptflow.config import Settings
from scriptflow.db.base import utcnow
from scriptflow.insights.extract import extract_runs, run_script_ids
from scriptflow.insights.refresh import refresh_script_insights
from scriptflow.insights.subscriptions import queue_confirmation_reruns
from scriptflow.runs.models import RunStep, RunTest, TestRun
from scriptflow.runs.repository import RunRepository
from scriptflow.runs.suites import queue_suite_confirmation
from tests.factories import create_environment, signup
from tests.suites.conftest import upload_suite

FILES = {
    "conftest.py": "import pytest\n",
    "pages/cart_page.py": "class CartPage:\n    pass\n",
    "tests/test_cart.py": "def test_total(page):\n    pass\n\ndef test_reload(page):\n    pass\n",
    "tests/test_login.py": "def test_sign_in(page):\n    pass\n",
}
RELOAD = "tests/test_cart.py::test_reload[chromium]"
TOTAL = "tests/test_cart.py::test_total[chromium]"
SIGN_IN = "tests/test_login.py::test_sign_in[chromium]"


async def _store_suite_run(
    session: AsyncSession,
    project_id: uuid.UUID,
    snapshot: dict[str, list[object]],
    index: int,
    *,
    kind: str = "suite",
) -> uuid.UUID:
    """Run ``index`` of six: the reload button's click fails on the first attempt of runs 0 and
    3 (the test passes on retry: flaky), the total fails the same way in runs 0, 2, 4."""
    created = utcnow() - timedelta(minutes=60 - index)
    reload_flaky = index in (0, 3)
    total_fails = index % 2 == 0
    run = TestRun(
        project_id=project_id,
        kind=kind,
        snapshot=snapshot,
        environment="staging",
        base_url="http://127.0.0.1:9",
        browser="chromium",
        status="failed" if total_fails else "passed",
        created_at=created,
        started_at=created,
        completed_at=created + timedelta(seconds=3),
        attempt=1,
    )
    session.add(run)
    await session.flush()
    outcomes = [
        (RELOAD, "flaky" if reload_flaky else "passed", 2 if reload_flaky else 1),
        (TOTAL, "failed" if total_fails else "passed", 1),
        (SIGN_IN, "passed", 1),
    ]
    for position, (nodeid, outcome, attempts) in enumerate(outcomes):
        error = "AssertionError: total is 0" if outcome == "failed" else None
        test = RunTest(
            run_id=run.id,
            position=position,
            name=nodeid.split("::")[1],
            nodeid=nodeid,
            file=nodeid.split("::")[0],
            outcome=outcome,
            duration_ms=1000,
            attempts=attempts,
            error=error if outcome == "failed" else ("Timeout" if outcome == "flaky" else None),
        )
        session.add(test)
        await session.flush()
        if nodeid == RELOAD:
            clicks = [(1, "failed")] if reload_flaky else []
            clicks.append((len(clicks) + 1, "passed"))
            for step_position, (attempt, step_outcome) in enumerate(clicks):
                session.add(
                    RunStep(
                        run_id=run.id,
                        test_id=test.id,
                        position=step_position,
                        attempt=attempt,
                        action="click",
                        locator='locator("#reload")',
                        duration_ms=100,
                        outcome=step_outcome,
                        error="Timeout 1000ms exceeded" if step_outcome == "failed" else None,
                    )
                )
    await session.flush()
    return run.id


async def test_suite_runs_feed_insights_per_file_keyed_by_node_id(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    account = await signup(client)
    ids = await upload_suite(client, account, FILES)
    project_id = uuid.UUID(account.project_id)
    snapshot: dict[str, list[object]] = {path: [ids[path], 1] for path in FILES}
    cart, login = uuid.UUID(ids["tests/test_cart.py"]), uuid.UUID(ids["tests/test_login.py"])
    async with sessionmaker() as session:
        run_ids = [
            await _store_suite_run(
                session, project_id, snapshot, i, kind="shard" if i == 5 else "suite"
            )
            for i in range(6)
        ]
        # A sharded parent repeats its shards' tests: it must not count twice.
        parent = TestRun(
            project_id=project_id,
            kind="sharded",
            snapshot=snapshot,
            environment="staging",
            base_url="http://127.0.0.1:9",
            browser="chromium",
            status="failed",
            completed_at=utcnow(),
        )
        session.add(parent)
        await session.flush()
        session.add(RunTest(run_id=parent.id, position=0, name="x", nodeid=TOTAL,
                            file="tests/test_cart.py", outcome="failed"))  # fmt: skip
        await session.commit()

        # What a refresh after a suite run recomputes: every file the run ran tests of.
        scripts = await session.run_sync(lambda sync: run_script_ids(sync, run_ids[0]))
        assert sorted(scripts) == sorted([cart, login])
        assert await session.run_sync(lambda sync: run_script_ids(sync, parent.id)) == []

        # One history row per run and file, with the file's own status and version.
        batches = await session.run_sync(
            lambda sync: list(extract_runs(sync, project_ids=[project_id]))
        )
        runs = [row for batch in batches for row in batch.runs.to_pylist()]
        assert len(runs) == 12 and str(parent.id) not in {r["run_id"] for r in runs}
        first = {r["script_id"]: r for r in runs if r["run_id"] == str(run_ids[0])}
        assert first[str(cart)]["status"] == "failed" and first[str(login)]["status"] == "passed"
        assert first[str(cart)]["script_version"] == 1
        assert first[str(cart)]["duration_ms"] == 2000  # its two tests, not the whole run
        tests = {(t["run_id"], t["name"]): t for b in batches for t in b.tests.to_pylist()}
        assert tests[(str(run_ids[0]), SIGN_IN)]["script_id"] == str(login)
        steps = [s for b in batches for s in b.steps.to_pylist()]
        assert {s["script_id"] for s in steps} == {str(cart)}
        # A refresh of one file reads only that file's share of the suite runs.
        only_login = await session.run_sync(lambda sync: list(extract_runs(sync, script_id=login)))
        assert {r["script_id"] for b in only_login for r in b.runs.to_pylist()} == {str(login)}
        assert sum(b.steps.num_rows for b in only_login) == 0

        cart_insights = (await refresh_script_insights(session, cart)).current
        login_insights = (await refresh_script_insights(session, login)).current
        await session.commit()

    by_type = {i.type: i for i in cart_insights}
    # Keyed by node id: the reload passed on retry twice, the total flips between runs.
    flaky = {i.summary.split()[1]: i for i in cart_insights if i.type == "flaky-test"}
    assert set(flaky) == {RELOAD, TOTAL}
    assert all(i.script_id == cart for i in flaky.values())
    assert flaky[RELOAD].details["retry_passes"] == 2
    assert set(flaky[RELOAD].details["run_ids"]) <= {str(i) for i in run_ids}
    selector = by_type["flaky-selector"]
    assert selector.script_id == cart and selector.details["locator"] == 'locator("#reload")'
    assert selector.details["executions"] == 8 and selector.details["failures"] == 2
    cluster = by_type["recurring-failure"]
    assert cluster.details["occurrences"] == 3  # the parent's copy is not a fourth
    assert not [i for i in login_insights if i.type in ("flaky-test", "flaky-selector")]

    # The same insights through the API, on the file's page.
    r = await client.get(f"/v1/scripts/{cart}/insights", headers=account.headers)
    assert r.status_code == 200, r.text
    assert any(i["type"] == "flaky-test" and RELOAD in i["summary"] for i in r.json())


async def test_a_new_flaky_suspicion_in_a_suite_run_reruns_only_the_suspected_tests(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    account = await signup(client)
    await create_environment(client, account, base_url="http://127.0.0.1:9")
    r = await client.patch(
        f"/v1/projects/{account.project_id}",
        json={"settings": {"confirm_flaky_reruns": 2}},
        headers=account.headers,
    )
    assert r.status_code == 200, r.text
    ids = await upload_suite(client, account, FILES)
    project_id, cart = uuid.UUID(account.project_id), uuid.UUID(ids["tests/test_cart.py"])
    snapshot: dict[str, list[object]] = {path: [ids[path], 1] for path in FILES}
    async with sessionmaker() as session:
        run_ids = [await _store_suite_run(session, project_id, snapshot, i) for i in range(6)]
        last = await session.get(TestRun, run_ids[-1])
        assert last is not None
        last.created_by = uuid.UUID(account.user_id)
        result = await refresh_script_insights(session, cart)
        queued = await queue_confirmation_reruns(session, settings, last.id, result.created)
        await session.commit()

        # Two reruns (the project's setting) of the cart's suspected tests only: the flaky
        # reload (a flaky test and the flaky selector it clicks) and the flipping total; not
        # the sign-in, in another file and never suspected. Same snapshot, no retries.
        assert len(queued) == 2
        reruns = [await session.get(TestRun, ident) for ident in queued]
        for rerun in reruns:
            assert rerun is not None
            assert (rerun.kind, rerun.trigger, rerun.status) == ("suite", "confirmation", "queued")
            assert rerun.selection is not None
            assert rerun.selection["select"] == sorted([RELOAD, TOTAL])
            assert rerun.snapshot == snapshot and rerun.retries == 0
            assert rerun.environment == "staging"
        pending = [i for i in result.created if i.type == "flaky-test"]
        assert pending and all(i.details["confirmation"]["status"] == "pending" for i in pending)

        # The reruns end: the reload fails once and passes once, so it is confirmed flaky.
        for position, (rerun, outcome) in enumerate(zip(reruns, ["failed", "passed"], strict=True)):
            assert rerun is not None
            rerun.status, rerun.completed_at = outcome, utcnow() + timedelta(seconds=position)
            rerun.started_at = rerun.completed_at
            for index, nodeid in enumerate([RELOAD, TOTAL]):
                session.add(
                    RunTest(
                        run_id=rerun.id, position=index, name=nodeid.split("::")[1],
                        nodeid=nodeid, file="tests/test_cart.py",
                        outcome=outcome if nodeid == RELOAD else "passed", duration_ms=900,
                    )
                )  # fmt: skip
        await session.commit()
        current = (await refresh_script_insights(session, cart)).current
        await session.commit()
    reload = next(i for i in current if i.type == "flaky-test" and RELOAD in i.summary)
    assert reload.details["confirmation"]["status"] == "confirmed"
    assert reload.details["confirmation"]["reruns"] == 2


@dataclass
class _Suspicion:
    type: str
    script_id: uuid.UUID | None
    details: dict[str, Any]


async def test_suspicions_of_one_sharded_run_in_several_files_share_sharded_reruns(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    """Insights refresh file by file and shards end one by one: the suspicions of one sharded
    run still queue one rerun per requested confirmation, sharded as the run was."""
    account = await signup(client)
    await create_environment(client, account, base_url="http://127.0.0.1:9")
    ids = await upload_suite(client, account, FILES)
    project_id, user = uuid.UUID(account.project_id), uuid.UUID(account.user_id)
    snapshot: dict[str, list[object]] = {path: [ids[path], 1] for path in FILES}
    async with sessionmaker() as session:
        common: dict[str, Any] = {
            "project_id": project_id, "snapshot": snapshot, "environment": "staging",
            "base_url": "http://127.0.0.1:9", "browser": "chromium", "created_by": user,
            "status": "passed", "shard_count": 2, "attempt": 1,
        }  # fmt: skip
        parent = TestRun(kind="sharded", **common)
        session.add(parent)
        await session.flush()
        shards = [
            TestRun(kind="shard", parent_id=parent.id, shard_index=i, **common) for i in (0, 1)
        ]
        session.add_all(shards)
        await session.flush()
        for shard, nodeids in zip(shards, [[RELOAD, TOTAL], [SIGN_IN]], strict=True):
            for position, nodeid in enumerate(nodeids):
                session.add(
                    RunTest(
                        run_id=shard.id, position=position, name=nodeid.split("::")[1],
                        nodeid=nodeid, file=nodeid.split("::")[0], outcome="flaky",
                        duration_ms=500, attempts=2,
                    )
                )  # fmt: skip
        await session.flush()

        def flaky(nodeid: str) -> _Suspicion:
            return _Suspicion("flaky-test", uuid.UUID(ids[nodeid.split("::")[0]]), {"test": nodeid})

        # Two confirmations asked for the cart's file (shard 0), then two for the login's
        # (shard 1), as two refreshes would; a worker has begun the second rerun meanwhile.
        repository = RunRepository(session)
        cart_reruns = [
            await queue_suite_confirmation(
                session, settings, shards[0], [flaky(RELOAD), flaky(TOTAL)]
            )
            for _ in range(2)
        ]
        await session.commit()
        assert all(cart_reruns) and len({r.id for r in cart_reruns if r}) == 2
        first, second = (run for run in cart_reruns if run is not None)
        for rerun in (first, second):
            assert (rerun.kind, rerun.trigger, rerun.shard_count) == ("sharded", "confirmation", 2)
            assert rerun.snapshot == snapshot and rerun.retries == 0
        (await repository.shards(second.id))[0].status = "running"
        await session.commit()
        login_reruns = [
            await queue_suite_confirmation(session, settings, shards[1], [flaky(SIGN_IN)])
            for _ in range(2)
        ]
        await session.commit()

        # The first rerun, still queued, takes the login's test, in the parent and both shards.
        assert login_reruns[0] is not None and login_reruns[0].id == first.id
        everything = sorted([RELOAD, TOTAL, SIGN_IN])
        await session.refresh(first)
        assert first.selection is not None and first.selection["select"] == everything
        parts = await repository.shards(first.id)
        assert [p.selection["select"] for p in parts if p.selection] == [everything] * 2
        # The begun one takes nothing more: the second confirmation gets a rerun of its own,
        # one shard for its one test.
        await session.refresh(second)
        assert second.selection is not None and second.selection["select"] == sorted(
            [RELOAD, TOTAL]
        )
        third = login_reruns[1]
        assert third is not None and third.id not in (first.id, second.id)
        assert (third.kind, third.selection and third.selection["select"]) == ("suite", [SIGN_IN])
        # ... which, still queued, takes a later suspicion of a test it lacks.
        total = await queue_suite_confirmation(session, settings, shards[0], [flaky(TOTAL)])
        assert total is not None and total.id == third.id
        assert total.selection is not None and total.selection["select"] == sorted([SIGN_IN, TOTAL])
