"""Live run progress: the run's progress file read as hostile, published, served by the API.

The file is written by the run process, where the test script can write too, so what the
worker accepts is checked with files a hostile script could leave: links, a FIFO, a hard
link, oversized and forged lines, a file rewritten behind the reader's back.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scriptflow.runs.engine.record import ProgressLog, StepRecord
from scriptflow.runs.engine.record import TestRecord as RecordedTest
from scriptflow.runs.progress.parse import (
    MAX_LINE_BYTES,
    MAX_TEXT,
    EventPlacer,
    live_tests,
    parse_line,
)
from scriptflow.runs.progress.repository import RunEventRepository
from scriptflow.runs.progress.service import ProgressPublisher
from scriptflow.runs.progress.tail import PROGRESS_FILE, ProgressTail
from tests.factories import signup
from tests.runs.helpers import queue_run


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
