"""`scriptflow worker` processes: a SIGKILLed worker's run is taken over, and two workers on one
PostgreSQL never execute the same run twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from scriptflow.config import Settings
from scriptflow.db.engine import transaction
from scriptflow.demo.server import DemoServer
from scriptflow.runs.models import TestRun
from tests.conftest import signup
from tests.runs.helpers import queue_run, wait_for_status

REPO = Path(__file__).resolve().parents[2]


class Workers:
    """Starts `scriptflow worker` processes against the test's database and data dir."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, concurrency: int = 1) -> subprocess.Popen[bytes]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": str(REPO),
            "DATABASE_URL": self.settings.resolved_database_url,
            "SCRIPTFLOW_DATA_DIR": str(self.settings.data_dir),
            "SCRIPTFLOW_RUN_LEASE_S": "5",
            "SCRIPTFLOW_LOG_LEVEL": "WARNING",
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


@pytest.fixture
def workers(settings: Settings) -> Iterator[Workers]:
    w = Workers(settings)
    yield w
    w.stop_all()


async def worker_of(app: FastAPI, run_id: str) -> str:
    async with transaction(app.state.sessionmaker, write=False) as session:
        run = await session.get_one(TestRun, uuid.UUID(run_id))
        return run.worker_id or ""


def group_gone(pgid: int, within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


@pytest.mark.browser
@pytest.mark.slow
async def test_a_sigkilled_worker_run_is_finished_by_another_worker(
    client: httpx.AsyncClient,
    app: FastAPI,
    workers: Workers,
    demo: DemoServer,
    chromium: object,
    tmp_path: Path,
) -> None:
    marker = tmp_path / "first-attempt-pgid"
    script = (
        "import os, time\n\n"
        "def test_slow_the_first_time(page):\n"
        "    page.goto('/')\n"
        f"    if not os.path.exists({str(marker)!r}):\n"
        f"        open({str(marker)!r}, 'w').write(str(os.getpgid(0)))\n"
        "        time.sleep(60)\n"
    )
    account = await signup(client)
    run = await queue_run(client, account, script, base_url=demo.base_url)
    doomed = workers.start()
    deadline = time.monotonic() + 30
    while not (marker.exists() and marker.read_text()):
        assert time.monotonic() < deadline, "the first worker never started the run"
        time.sleep(0.1)
    await wait_for_status(client, account, run["id"], {"running"})
    assert f":{doomed.pid}:" in (await worker_of(app, run["id"]))
    doomed.send_signal(signal.SIGKILL)
    doomed.wait()
    # The orphaned run process group dies with its worker instead of running on.
    assert group_gone(int(marker.read_text()), within_s=5)

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
    client: httpx.AsyncClient, app: FastAPI, workers: Workers, tmp_path: Path
) -> None:
    log = tmp_path / "executions.log"
    # No browser: the point is the queue, so each run is a tiny pytest session.
    script = (
        "import os\n\n"
        "def test_mark():\n"
        f"    with open({str(log)!r}, 'a') as fh:\n"
        "        fh.write(os.getcwd() + '\\n')\n"
    )
    account = await signup(client)
    ids = [(await queue_run(client, account, script))["id"] for _ in range(50)]
    first, second = workers.start(concurrency=2), workers.start(concurrency=2)
    runs = [
        await wait_for_status(client, account, run_id, {"passed", "failed", "error"}, timeout_s=120)
        for run_id in ids
    ]
    assert {r["status"] for r in runs} == {"passed"}
    assert {r["attempt"] for r in runs} == {1}
    executed = [Path(line).parent.name for line in log.read_text().splitlines()]
    assert sorted(executed) == sorted(ids)  # each run exactly once
    pids = {int((await worker_of(app, run_id)).split(":")[1]) for run_id in ids}
    assert pids == {first.pid, second.pid}
