"""Live run progress: the run's progress file read as hostile, published, served by the API.

The file is written by the run process, where the test script can write too, so what the
worker accepts is checked with files a hostile script could leave: links, a FIFO, a hard
link, oversized and forged lines, a file rewritten behind the reader's back.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.web.run_progress import live_headline, live_step_rows, live_test_rows
from app.web.tables import duration
from scriptflow.db.engine import transaction
from scriptflow.runs.browsers import BrowserTarget
from scriptflow.runs.engine.record import ProgressLog, StepRecord
from scriptflow.runs.engine.record import TestRecord as RecordedTest
from scriptflow.runs.execution import RunRequest
from scriptflow.runs.executor import SubprocessExecutor
from scriptflow.runs.models import TestRun
from scriptflow.runs.progress.parse import (
    MAX_LINE_BYTES,
    MAX_TEXT,
    EventPlacer,
    live_tests,
    parse_line,
    without_seen_starts,
)
from scriptflow.runs.progress.repository import RunEventRepository
from scriptflow.runs.progress.service import (
    ProgressPublisher,
    live_view,
    publishing_progress,
    run_progress,
)
from scriptflow.runs.progress.tail import PROGRESS_FILE, ProgressTail
from tests.factories import create_environment, signup
from tests.runs.helpers import queue_run
from tests.suites.conftest import upload_suite


def line(**fields: object) -> bytes:
    return json.dumps(fields).encode()


def test_only_well_formed_events_are_accepted_with_bounded_fields() -> None:
    started = parse_line(line(kind="test_started", test="test_a", nodeid="t.py::test_a"))
    assert started is not None and (started.test_name, started.nodeid) == ("test_a", "t.py::test_a")
    step = parse_line(
        line(kind="step", action="click", locator="#go", duration_ms=-5, outcome="failed",
             error="x" * 5000, attempt=True)
    )  # fmt: skip
    assert step is not None
    assert (step.duration_ms, step.test_attempt, len(step.error or "")) == (0, None, MAX_TEXT)
    finished = parse_line(line(kind="test_finished", outcome="flaky", duration_ms=10**12))
    assert finished is not None and finished.duration_ms == 7 * 24 * 3600 * 1000
    for bad in (
        b"not json",
        b"[1, 2]",
        line(kind="run_finished", outcome="passed"),  # no such kind
        line(kind="test_started"),  # a test without a name
        line(kind="step", action="click", outcome="exploded"),
        line(kind="test_finished", outcome="passed!"),
        line(kind="step", action={"nested": 1}, outcome="passed"),
        b"[" * 100_000,  # deeper than the parser allows, and over the line cap
        line(kind="test_started", test="x" * MAX_LINE_BYTES),
    ):
        assert parse_line(bad) is None, bad[:40]


def test_events_belong_to_the_last_started_test_whatever_the_line_claims() -> None:
    lines = [
        parse_line(line(kind="step", action="goto", outcome="passed")),  # before any test
        parse_line(line(kind="test_started", test="test_a", test_position=7, run_id="forged")),
        parse_line(line(kind="step", action="click", outcome="passed", test="test_b")),
        parse_line(line(kind="test_finished", outcome="passed", duration_ms=5)),
        parse_line(line(kind="step", action="late", outcome="passed")),  # after its test ended
        parse_line(line(kind="test_started", test="test_b")),
    ]
    placed = EventPlacer().place([x for x in lines if x is not None])
    assert [(p.test_position, p.test_name, p.line.kind) for p in placed] == [
        (0, "test_a", "test_started"),
        (0, "test_a", "step"),
        (0, "test_a", "test_finished"),
        (1, "test_b", "test_started"),
    ]


def test_the_tail_reads_complete_new_lines_only(tmp_path: Path) -> None:
    tail = ProgressTail(tmp_path)
    assert tail.read_lines() == []  # nothing written yet
    progress = tmp_path / PROGRESS_FILE
    progress.write_bytes(b'{"a": 1}\n{"b"')
    assert tail.read_lines() == [b'{"a": 1}']
    with progress.open("ab") as fh:
        fh.write(b": 2}\n" + b"y" * (MAX_LINE_BYTES + 1))
    assert tail.read_lines() == [b'{"b": 2}']
    with progress.open("ab") as fh:  # the end of the oversized line, then a good one
        fh.write(b'yyy\n{"c": 3}\n')
    assert tail.read_lines() == [b'{"c": 3}']
    progress.write_bytes(b'{"d": 4}\n')  # rewritten shorter behind the reader's back
    assert tail.read_lines() == [] and tail.stopped


@pytest.mark.parametrize("kind", ["symlink", "fifo", "hardlink"])
def test_the_tail_refuses_what_is_not_the_runs_own_regular_file(tmp_path: Path, kind: str) -> None:
    secret = tmp_path / "secret.jsonl"
    secret.write_bytes(b'{"kind": "test_started", "test": "from outside"}\n')
    work = tmp_path / "work"
    work.mkdir()
    target = work / PROGRESS_FILE
    if kind == "symlink":
        target.symlink_to(secret)
    elif kind == "hardlink":
        os.link(secret, target)
    else:
        os.mkfifo(target)  # opening it must not block the worker
    tail = ProgressTail(work)
    assert tail.read_lines() == []
    assert tail.stopped or kind == "symlink"


def test_the_tail_stops_at_its_byte_budget(tmp_path: Path) -> None:
    (tmp_path / PROGRESS_FILE).write_bytes(b'{"kind": "x"}\n' * 1000)
    tail = ProgressTail(tmp_path, max_total_bytes=140)
    assert len(tail.read_lines()) == 10
    assert tail.read_lines() == [] and tail.stopped


async def test_published_progress_is_served_after_a_cursor_and_hidden_from_strangers(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    account = await signup(client)
    run = await queue_run(client, account, "def test_a(page):\n    pass\n")
    run_id = uuid.UUID(run["id"])
    # Written by the plugin's own writer, as a run process does, with a forged line between.
    log = ProgressLog(tmp_path / PROGRESS_FILE)
    test = RecordedTest(name="test_a", nodeid="test_script.py::test_a[chromium]")
    log.test_started(test)
    log.step(StepRecord(1, "goto", None, 120, "passed"))
    with (tmp_path / PROGRESS_FILE).open("ab") as fh:
        fh.write(line(kind="step", action="forged", outcome="maybe") + b"\n")
    publisher = ProgressPublisher(sessionmaker, run_id, 1, tmp_path)
    assert await publisher.publish_once()

    url = f"/v1/test-runs/{run_id}/progress"
    r = await client.get(url, headers=account.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "queued" and body["next_after"] == 2
    assert [(e["seq"], e["kind"], e["test_name"], e["action"]) for e in body["events"]] == [
        (1, "test_started", "test_a", None),
        (2, "step", "test_a", "goto"),
    ]

    test.outcome, test.duration_ms, test.attempts = "passed", 300, 1
    log.step(StepRecord(1, "click", "#go", 80, "passed"))
    log.test_finished(test)
    assert await publisher.publish_once()
    body = (await client.get(url, params={"after": 2}, headers=account.headers)).json()
    assert [(e["seq"], e["kind"], e["locator"]) for e in body["events"]] == [
        (3, "step", "#go"),
        (4, "test_finished", None),
    ]
    assert body["next_after"] == 4
    empty = (await client.get(url, params={"after": 4}, headers=account.headers)).json()
    assert empty["events"] == [] and empty["next_after"] == 4

    # What the run page folds them into: one finished test with its two steps.
    async with sessionmaker() as session:
        rows = await RunEventRepository(session).after(run_id, 0, 100)
    (live,) = live_tests(rows, attempt=1)
    assert (live.name, live.outcome, live.duration_ms, len(live.steps)) == (
        "test_a",
        "passed",
        300,
        2,
    )

    stranger = await signup(client)
    r = await client.get(url, headers=stranger.headers)
    assert r.status_code == 404 and r.json()["error"]["code"].endswith("NOT_FOUND")
    r = await client.get(url, params={"after": -1}, headers=account.headers)
    assert r.status_code == 422 and "error" in r.json()


def stored(**fields: object) -> SimpleNamespace:
    """A stored event as the live view reads it (the row's attributes)."""
    base: dict[str, object] = {"attempt": 1, "test_position": 0, "test_name": "test_a"}
    base.update({"test_attempt": 1, "locator": None, "outcome": None, "duration_ms": None})
    base.update({"error": None, "created_at": datetime(2026, 1, 1, tzinfo=UTC)})
    return SimpleNamespace(**(base | fields))


def test_a_long_step_shows_running_with_its_time_until_its_end() -> None:
    start = parse_line(line(kind="step_started", attempt=1, action="goto", locator="/slow"))
    assert start is not None and (start.kind, start.action, start.locator) == (
        "step_started",
        "goto",
        "/slow",
    )
    assert parse_line(line(kind="step_started", locator="x")) is None  # no action
    # A start its end follows in the same read costs no row; one still going on is kept.
    placer = EventPlacer()
    lines = [
        line(kind="test_started", test="test_a"),
        line(kind="step_started", attempt=1, action="click", locator="#a"),
        line(kind="step", attempt=1, action="click", locator="#a", outcome="passed"),
        line(kind="step_started", attempt=1, action="goto", locator="/slow"),
    ]
    placed = without_seen_starts(placer.place([p for p in map(parse_line, lines) if p]))
    assert [p.line.kind for p in placed] == ["test_started", "step", "step_started"]

    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    events = [
        stored(kind="test_started", created_at=t0),
        stored(kind="step", action="click", outcome="passed", duration_ms=40, created_at=t0),
        stored(kind="step_started", action="goto", locator="/slow", created_at=t0),
    ]
    (test,) = live_tests(events, attempt=1)
    now = t0 + timedelta(seconds=7)
    rows = live_step_rows([test], now)
    assert [(r["step"], r["action"], r["outcome"], r["duration"]) for r in rows] == [
        (2, "goto", "running", duration(7000)),
        (1, "click", "passed", duration(40)),
    ]
    assert live_headline([test]).endswith("1 step so far, 1 running")
    # Its end replaces it, in place.
    ended = stored(kind="step", action="goto", outcome="passed", duration_ms=7100, created_at=now)
    (test,) = live_tests([*events, ended], attempt=1)
    assert [(s.action, s.kind, s.duration_ms) for s in test.steps] == [
        ("click", "step", 40),
        ("goto", "step", 7100),
    ]


async def test_the_last_lines_are_published_though_the_file_is_cleared(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    account = await signup(client)
    run_id = uuid.UUID((await queue_run(client, account, "def test_a(page):\n    pass\n"))["id"])
    work = tmp_path / "work"
    work.mkdir()
    log = ProgressLog(work / PROGRESS_FILE)
    test = RecordedTest(name="test_a", nodeid="test_script.py::test_a")
    # The publisher never ticks during the block: only the last read and publish can store.
    async with publishing_progress(sessionmaker, run_id, 1, work, every_s=3600) as progress:
        log.test_started(test)
        log.step(StepRecord(1, "goto", None, 120, "passed"))
        test.outcome, test.duration_ms, test.attempts = "passed", 300, 1
        log.test_finished(test)
        progress.read_rest()  # what the executor calls before it clears the work dir
        shutil.rmtree(work)
    async with sessionmaker() as session:
        rows = await RunEventRepository(session).after(run_id, 0, 100)
    assert [(r.seq, r.kind) for r in rows] == [
        (1, "test_started"),
        (2, "step"),
        (3, "test_finished"),
    ]


async def test_a_worker_that_lost_the_lease_publishes_no_more_of_that_run(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    account = await signup(client)
    run_id = uuid.UUID((await queue_run(client, account, "def test_a(page):\n    pass\n"))["id"])

    async def held_by(worker_id: str, attempt: int) -> None:  # as a claim leaves the run
        async with transaction(sessionmaker) as session:
            await session.execute(
                update(TestRun)
                .where(TestRun.id == run_id)
                .values(status="running", worker_id=worker_id, attempt=attempt)
            )

    old_work, new_work = tmp_path / "old", tmp_path / "new"
    old_work.mkdir()
    new_work.mkdir()
    old_log, new_log = ProgressLog(old_work / PROGRESS_FILE), ProgressLog(new_work / PROGRESS_FILE)
    await held_by("worker-old", 1)
    async with publishing_progress(
        sessionmaker, run_id, 1, old_work, every_s=3600, held_by="worker-old"
    ) as old:
        old_log.test_started(RecordedTest(name="test_a"))
        assert await old.publish_once()  # seq 1, while it holds the run
        # Its lease expires and another worker takes the run over.
        await held_by("worker-new", 2)
        # The old run process's last lines: read before its clean-up, then the last publish.
        old_log.step(StepRecord(1, "goto", None, 120, "passed"))
        old.read_rest()
    assert old.lost
    assert not await old.publish_once()
    # The new owner numbers on from what is stored: the old attempt's last step is not there.
    new = ProgressPublisher(sessionmaker, run_id, 2, new_work, held_by="worker-new")
    new_log.test_started(RecordedTest(name="test_a"))
    assert await new.publish_once() and not new.lost
    async with sessionmaker() as session:
        rows = await RunEventRepository(session).after(run_id, 0, 100)
    assert [(r.seq, r.attempt, r.kind) for r in rows] == [
        (1, 1, "test_started"),
        (2, 2, "test_started"),
    ]
    # The new owner's numbering goes on undisturbed.
    new_log.step(StepRecord(1, "goto", None, 90, "passed"))
    assert await new.publish_once()
    async with sessionmaker() as session:
        rows = await RunEventRepository(session).after(run_id, 2, 100)
    assert [(r.seq, r.attempt, r.kind) for r in rows] == [(3, 2, "step")]


async def test_a_sharded_runs_progress_merges_its_shards_each_with_its_cursor(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    account = await signup(client)
    await create_environment(client, account, base_url="http://127.0.0.1:9", name="staging")
    files = {"tests/test_a.py": "def test_one(page):\n    pass\n\ndef test_two(page):\n    pass\n"}
    await upload_suite(client, account, files)
    r = await client.post(
        "/v1/test-runs",
        json={"project_id": account.project_id, "environment": "staging", "shards": 2},
        headers=account.headers,
    )
    assert r.status_code == 201, r.text
    parent = r.json()
    async with sessionmaker() as session:
        shards = await RunEventRepository(session).shards_of(uuid.UUID(parent["id"]))
    assert [s.shard_index for s in shards] == [0, 1]
    async with transaction(sessionmaker) as session:  # as two workers' claims leave them
        ids = [s.id for s in shards]
        await session.execute(
            update(TestRun).where(TestRun.id.in_(ids)).values(status="running", attempt=1)
        )
    publishers = []
    for shard, name in zip(shards, ("test_one", "test_two"), strict=True):
        folder = tmp_path / str(shard.shard_index)
        folder.mkdir()
        log = ProgressLog(folder / PROGRESS_FILE)
        log.test_started(RecordedTest(name=name))
        log.step(StepRecord(1, "goto", None, 10, "passed"))
        publisher = ProgressPublisher(sessionmaker, shard.id, 1, folder)
        assert await publisher.publish_once()
        publishers.append((publisher, log))

    url = f"/v1/test-runs/{parent['id']}/progress"
    body = (await client.get(url, headers=account.headers)).json()
    assert {(e["shard_index"], e["test_name"], e["kind"]) for e in body["events"]} == {
        (0, "test_one", "test_started"),
        (0, "test_one", "step"),
        (1, "test_two", "test_started"),
        (1, "test_two", "step"),
    }
    assert [(s["shard_index"], s["run_id"], s["next_after"]) for s in body["shards"]] == [
        (0, str(shards[0].id), 2),
        (1, str(shards[1].id), 2),
    ]
    # Shard 1 moves on: with each shard's cursor, only its new event comes.
    publisher, log = publishers[1]
    log.step(StepRecord(1, "click", "#go", 10, "passed"))
    assert await publisher.publish_once()
    params = {"shard_after": [2, 2]}
    body = (await client.get(url, params=params, headers=account.headers)).json()
    assert [(e["shard_index"], e["seq"], e["locator"]) for e in body["events"]] == [(1, 3, "#go")]
    assert [s["next_after"] for s in body["shards"]] == [2, 3]

    # The run page's view: each shard's test, labelled with its shard.
    async with sessionmaker() as session:
        view = live_view(
            await run_progress(session, uuid.UUID(account.user_id), uuid.UUID(parent["id"]))
        )
    assert [(t.shard, t.name, len(t.steps)) for t in view] == [
        (0, "test_one", 1),
        (1, "test_two", 2),
    ]
    assert [r["shard"] for r in live_test_rows(view, datetime.now(UTC))] == [1, 2]

    stranger = await signup(client)
    assert (await client.get(url, headers=stranger.headers)).status_code == 404
    bad = await client.get(url, params={"shard_after": -1}, headers=account.headers)
    assert bad.status_code == 422 and "error" in bad.json()


@pytest.mark.browser
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the database side: above
async def test_a_real_run_shows_its_step_in_progress_and_loses_no_last_line(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    chromium: BrowserTarget,
    tmp_path: Path,
) -> None:
    account = await signup(client)
    script = "def test_wait(page):\n    page.wait_for_timeout(2500)\n"
    run_id = uuid.UUID((await queue_run(client, account, script))["id"])
    folder = tmp_path / "run"
    left_at_clear: list[bytes] = []

    async def step_seen_running() -> str | None:
        while True:
            async with sessionmaker() as session:
                rows = await RunEventRepository(session).after(run_id, 0, 100)
            if any(r.kind == "step_started" for r in rows):
                return rows[-1].action
            await asyncio.sleep(0.2)

    async with publishing_progress(sessionmaker, run_id, 1, folder / "work") as progress:

        def before_clear() -> None:
            left_at_clear.append((folder / "work" / PROGRESS_FILE).read_bytes())
            progress.read_rest()

        request = RunRequest(
            script=script,
            base_url="http://127.0.0.1:9",
            browser=chromium,
            workdir=folder,
            before_clear=before_clear,
        )
        watcher = asyncio.create_task(step_seen_running())
        result = await SubprocessExecutor().execute(request, asyncio.Event())
        running = await asyncio.wait_for(watcher, 5)
    assert result.status == "passed", result.error
    assert running == "wait_for_timeout"  # seen while it waited, before its end was written
    assert b'"test_finished"' in left_at_clear[0] and not (folder / "work").exists()
    async with sessionmaker() as session:
        rows = await RunEventRepository(session).after(run_id, 0, 100)
    assert [r.kind for r in rows] == ["test_started", "step_started", "step", "test_finished"]
    (test,) = live_tests(rows, attempt=1)
    assert test.outcome == "passed" and [s.kind for s in test.steps] == ["step"]
