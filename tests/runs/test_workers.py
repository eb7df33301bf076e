"""`scriptflow worker` processes: a SIGKILLed worker's run is taken over, and two workers on one
PostgreSQL never execute the same run twice."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from app.demo.server import DemoServer
from scriptflow.config import Settings
from scriptflow.db.engine import transaction
from scriptflow.runs.models import TestRun
from scriptflow.runs.worker import run_folder
from tests.factories import signup
from tests.runs.helpers import queue_run, wait_for_status
from tests.runs.test_escape import namespace_alive

REPO = Path(__file__).resolve().parents[2]


class Workers:
    """Starts `scriptflow worker` processes against the test's database and data dir."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.procs: list[subprocess.Popen[bytes]] = []
        self.egress_allow = ""  # runs reach their origin only, unless listed here

    def start(self, concurrency: int = 1) -> subprocess.Popen[bytes]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": str(REPO),
            "DATABASE_URL": self.settings.resolved_database_url,
            "SCRIPTFLOW_DATA_DIR": str(self.settings.data_dir),
            "SCRIPTFLOW_RUN_LEASE_S": "5",
            "SCRIPTFLOW_LOG_LEVEL": "WARNING",
            "SCRIPTFLOW_RUN_EGRESS_ALLOW": self.egress_allow,
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "scriptflow.cli", "worker", "--concurrency", str(concurrency)],
            cwd=REPO,
            env=env,
        )
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


class Probe:
    """A loopback endpoint that runs call to report in: they may not write outside their folder.

    ``GET /<name>?…`` is recorded; the answer is ``first`` the first time a name is seen.
    """

    def __init__(self) -> None:
        self.hits: list[str] = []
        hits = self.hits

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                name = self.path.split("?", 1)[0]
                answer = b"again" if any(h.split("?", 1)[0] == name for h in hits) else b"first"
                hits.append(self.path)
                self.send_response(200)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def probe() -> Iterator[Probe]:
    p = Probe()
    yield p
    p.server.shutdown()
    p.server.server_close()


@pytest.fixture
def workers(settings: Settings) -> Iterator[Workers]:
    w = Workers(settings)
    yield w
    w.stop_all()


async def worker_of(app: FastAPI, run_id: str) -> str:
    async with transaction(app.state.sessionmaker, write=False) as session:
        run = await session.get_one(TestRun, uuid.UUID(run_id))
        return run.worker_id or ""


# SQLite only: on PostgreSQL the same takeover, in real Chromium, is part of the scale-out test
# (tests/deploy/test_scale_out.py, `_a_sigkilled_worker_loses_nothing`), which also kills a
# worker right after it commits. Two worker processes and two browser runs less.
@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_a_sigkilled_worker_run_is_finished_by_another_worker(
    client: httpx.AsyncClient,
    app: FastAPI,
    workers: Workers,
    demo: DemoServer,
    chromium: object,
    probe: Probe,
) -> None:
    script = (
        "import os, time, urllib.request\n\n"
        "def test_slow_the_first_time(page):\n"
        "    page.goto('/')\n"
        "    namespace = os.readlink('/proc/self/ns/pid')\n"
        f"    answer = urllib.request.urlopen('{probe.url}/start?ns=' + namespace).read()\n"
        "    if answer == b'first':\n"
        "        time.sleep(60)\n"
    )
    account = await signup(client)
    run = await queue_run(client, account, script, base_url=demo.base_url)
    workers.egress_allow = probe.url
    doomed = workers.start()
    # A worker process starting its sandbox and Chromium on a loaded 2-core machine.
    deadline = time.monotonic() + 90
    while not probe.hits:
        assert time.monotonic() < deadline, "the first worker never started the run"
        await asyncio.sleep(0.1)
    namespace = probe.hits[0].split("ns=", 1)[1]
    await wait_for_status(client, account, run["id"], {"running"})
    assert f":{doomed.pid}:" in (await worker_of(app, run["id"]))
    doomed.send_signal(signal.SIGKILL)
    doomed.wait()
    # The orphaned run (its whole PID namespace) dies with its worker instead of running on.
    assert not namespace_alive(namespace, within_s=5)

    workers.start()
    body = await wait_for_status(
        client, account, run["id"], {"passed", "failed", "error"}, timeout_s=45
    )
    assert body["status"] == "passed", body["error"]
    assert body["attempt"] == 2
    assert f":{doomed.pid}:" not in (await worker_of(app, run["id"]))


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
@pytest.mark.slow
async def test_two_worker_processes_never_execute_a_run_twice(
    client: httpx.AsyncClient, app: FastAPI, workers: Workers, probe: Probe
) -> None:
    # No browser: the point is the queue, so each run is a tiny pytest session that reports
    # a token of its own (a sandboxed run cannot see its run id).
    # 8 runs over four claimers (two processes, two slots each): two a claimer, queued before
    # either process starts, so every claim races three others for the same rows.
    tokens = [uuid.uuid4().hex for _ in range(8)]
    account = await signup(client)
    ids = []
    for token in tokens:
        script = (
            "import urllib.request\n\n"
            "def test_report():\n"
            f"    urllib.request.urlopen('{probe.url}/{token}').read()\n"
        )
        ids.append((await queue_run(client, account, script))["id"])
    workers.egress_allow = probe.url
    first, second = workers.start(concurrency=2), workers.start(concurrency=2)
    runs = [
        await wait_for_status(client, account, run_id, {"passed", "failed", "error"}, timeout_s=120)
        for run_id in ids
    ]
    assert {r["status"] for r in runs} == {"passed"}
    assert {r["attempt"] for r in runs} == {1}
    executed = [hit.strip("/") for hit in probe.hits]
    assert sorted(executed) == sorted(tokens)  # each run exactly once
    pids = {int((await worker_of(app, run_id)).split(":")[1]) for run_id in ids}
    assert pids == {first.pid, second.pid}


def test_each_attempt_of_a_run_works_in_a_folder_of_its_own(tmp_path: Path) -> None:
    # A worker whose lease ran out can take the same run again while its first attempt still
    # runs; the second attempt clears its folder before it starts and removes it at its end.
    run_id = uuid.uuid4()
    first, second = run_folder(tmp_path, run_id, 1), run_folder(tmp_path, run_id, 2)
    assert first != second and first.parent == second.parent == tmp_path / "runs" / str(run_id)
    (first / "work").mkdir(parents=True)
    (first / "work" / "events.jsonl").write_text("{}\n")
    shutil.rmtree(second, ignore_errors=True)
    with contextlib.suppress(OSError):
        second.parent.rmdir()
    assert (first / "work" / "events.jsonl").read_text() == "{}\n"
