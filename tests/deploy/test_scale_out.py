"""A deployment of two API processes and two `scriptflow worker` processes on one PostgreSQL.

Each process has a data dir of its own, as on another machine; they share only the database,
the artifact store (S3 on a moto server on loopback) and the analytics data path. One module,
processes started once: 20 runs in real Chromium spread over both workers, both APIs see each
run, its artifacts and the warehouse; the dashboard renders on both; a SIGKILLed worker loses
nothing; compaction while both APIs read gives no error.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.demo.server import DemoServer
from scriptflow.config import Settings
from scriptflow.insights.warehouse import Warehouse
from scriptflow.runs.browsers import find_chromium
from tests.factories import Account, signup
from tests.runs.helpers import queue_run
from tests.support.ci import need
from tests.support.postgres import PostgresCluster, free_port

# Expensive (four processes, 21 browser runs): one module, processes started once.
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(600)]

REPO = Path(__file__).resolve().parents[2]
RUNS = 20
SECRET = "deploy-test-" + "k" * 40
BUCKET = "scriptflow-artifacts"
CHART = ".vega-embed canvas, .vega-embed svg.marks"
DONE = {"passed", "failed", "error", "cancelled"}
LAG_BOUND_S = 45.0


@dataclass
class Deployment:
    database_url: str
    shared: dict[str, str]
    root: Path
    apis: list[str] = field(default_factory=list)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def env(self, name: str, **extra: str) -> dict[str, str]:
        data_dir = self.root / name  # a machine of its own
        data_dir.mkdir(exist_ok=True)
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": str(REPO),
            "HOME": str(data_dir),
            "DATABASE_URL": self.database_url,
            "JWT_SECRET": SECRET,
            "SCRIPTFLOW_DATA_DIR": str(data_dir),
            "SCRIPTFLOW_LOG_LEVEL": "WARNING",
            **self.shared,
            **extra,
        }

    def cli(self, *args: str, name: str = "cli", timeout: float = 120) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "scriptflow.cli", *args],
            cwd=REPO, env=self.env(name), capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    def start_api(self, name: str) -> str:
        port = free_port()
        env = self.env(name, SCRIPTFLOW_WORKERS="0", SCRIPTFLOW_ANALYTICS_COMPACT_EVERY_S="0")
        command = [sys.executable, "-m", "scriptflow.cli", "serve", "--port", str(port)]
        self.processes.append(subprocess.Popen(command, cwd=REPO, env=env))
        url = f"http://127.0.0.1:{port}"
        self.apis.append(url)
        return url

    def start_worker(self, name: str) -> subprocess.Popen[bytes]:
        env = self.env(name, SCRIPTFLOW_RUN_LEASE_S="5", SCRIPTFLOW_LOG_LEVEL="WARNING")
        proc = subprocess.Popen(
            [sys.executable, "-m", "scriptflow.cli", "worker", "--concurrency", "2"],
            cwd=REPO, env=env,
        )  # fmt: skip
        self.processes.append(proc)
        self.workers.append(proc)
        return proc

    def stop(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.processes:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="module")
def moto_s3() -> Iterator[str]:
    try:
        import boto3
        from moto.server import ThreadedMotoServer
    except ImportError as exc:
        need(f"moto[server] is not installed: {exc}")
        raise
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id="test", aws_secret_access_key="test",
    ).create_bucket(Bucket=BUCKET)  # fmt: skip
    try:
        yield endpoint
    finally:
        server.stop()


@pytest.fixture(scope="module")
def deployment(
    pg_cluster: PostgresCluster,
    moto_s3: str,
    demo_site: DemoServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Deployment]:
    if find_chromium(Settings()) is None:
        need("Chromium is not installed")
    root = tmp_path_factory.mktemp("deployment")
    name = f"deploy_{os.getpid()}_{int(time.time())}"
    url = pg_cluster.create_database(name)
    shared = {
        "SCRIPTFLOW_ARTIFACTS_URL": f"s3://{BUCKET}/artifacts",
        "SCRIPTFLOW_ANALYTICS_DATA_PATH": str(root / "shared-analytics"),
        "AWS_ENDPOINT_URL": moto_s3,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_REGION": "us-east-1",
    }
    deployment = Deployment(url, shared, root)
    out = deployment.cli("migrate")
    assert "analytics catalog created" in out
    try:
        for api in ("api-a", "api-b"):
            deployment.start_api(api)
        for worker in ("worker-a", "worker-b"):
            deployment.start_worker(worker)
        for api_url, process in zip(deployment.apis, deployment.processes, strict=False):
            _wait_healthy(api_url, process)
        yield deployment
    finally:
        deployment.stop()


@pytest.fixture(scope="module")
def demo_site() -> Iterator[DemoServer]:
    with DemoServer(flaky_rate=0.0) as server:
        yield server


def _wait_healthy(url: str, process: subprocess.Popen[bytes], timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the API on {url} exited with {process.returncode}"
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} never became healthy")


@pytest.fixture(scope="module")
async def clients(deployment: Deployment) -> AsyncIterator[list[httpx.AsyncClient]]:
    made = [httpx.AsyncClient(base_url=url, timeout=30) for url in deployment.apis]
    try:
        yield made
    finally:
        for client in made:
            await client.aclose()


@pytest.fixture(scope="module")
async def account(clients: list[httpx.AsyncClient]) -> Account:
    return await signup(clients[0], password="deploy-password-1")


async def _status_everywhere(
    clients: list[httpx.AsyncClient], account: Account, run_id: str
) -> list[dict[str, Any]]:
    bodies = []
    for client in clients:
        r = await client.get(f"/v1/test-runs/{run_id}", headers=account.headers)
        assert r.status_code == 200, r.text
        bodies.append(r.json())
    return bodies


def _in_warehouse(warehouse: Warehouse, account: Account, run_id: str) -> bool:
    with warehouse.reader([account.project_id]) as reader:
        rows = reader.rows("SELECT count(*) FROM runs WHERE run_id = $id::UUID", {"id": run_id})
    return bool(rows[0][0])


def _warehouse_run_ids(settings: Settings, project_id: str) -> set[str]:
    warehouse = Warehouse.for_settings(settings)
    try:
        with warehouse.reader([project_id]) as reader:
            return {row[0] for row in reader.rows("SELECT run_id::VARCHAR FROM runs")}
    finally:
        warehouse.close()


async def test_two_apis_and_two_workers_share_runs_artifacts_analytics_and_limits(
    deployment: Deployment,
    clients: list[httpx.AsyncClient],
    account: Account,
    demo_site: DemoServer,
    tmp_path: Path,
) -> None:
    started = time.monotonic()
    script = "def test_home(page):\n    page.goto('/')\n    assert page.title() is not None\n"
    ids = []
    for i in range(RUNS):
        client = clients[i % 2]  # queued through both APIs
        run = await queue_run(client, account, script, base_url=demo_site.base_url, retries=0)
        ids.append(run["id"])
    reader_settings = Settings.model_validate(
        {
            "DATABASE_URL": deployment.database_url,
            "data_dir": tmp_path,
            "analytics_data_path": deployment.shared["SCRIPTFLOW_ANALYTICS_DATA_PATH"],
        }
    )
    warehouse = Warehouse.for_settings(reader_settings)  # a third process's view, like a notebook
    seen: dict[str, float] = {}
    lags: dict[str, float] = {}
    deadline = time.monotonic() + 240
    try:
        while len(seen) < RUNS:
            assert time.monotonic() < deadline, f"{RUNS - len(seen)} runs never finished"
            for run_id in [r for r in ids if r not in seen]:
                bodies = await _status_everywhere(clients, account, run_id)
                if not all(b["status"] in DONE for b in bodies):
                    continue
                in_warehouse = await asyncio.to_thread(_in_warehouse, warehouse, account, run_id)
                if in_warehouse:
                    seen[run_id] = time.time()
                    completed = datetime.fromisoformat(bodies[0]["completed_at"]).timestamp()
                    lags[run_id] = seen[run_id] - completed
            await asyncio.sleep(0.2)
    finally:
        warehouse.close()
    # Both APIs answer from one database at once; the warehouse gets each run from its
    # worker's run-finished handler. The goal is 2 s; on this shared 2-core machine under load
    # it measured 1-18 s (docs/deploy.md), so the bound here only catches a broken pipeline.
    ordered = sorted(lags.values())
    print(f"finish → both APIs and the warehouse: p50 {ordered[len(ordered) // 2]:.2f} s, "
          f"max {ordered[-1]:.2f} s")  # fmt: skip
    assert ordered[-1] < LAG_BOUND_S, ordered

    details = [(await _status_everywhere(clients, account, run_id))[1] for run_id in ids]
    assert {d["status"] for d in details} == {"passed"}, [d["error"] for d in details]
    insights = [
        (await c.get(f"/v1/projects/{account.project_id}/insights", headers=account.headers))
        for c in clients
    ]
    assert [r.status_code for r in insights] == [200, 200]
    assert insights[0].json() == insights[1].json()

    # Every artifact downloads from both APIs, byte for byte the same.
    downloaded = 0
    for detail in details:
        assert detail["artifacts"], f"run {detail['id']} has no artifacts"
        for artifact in detail["artifacts"]:
            path = f"/v1/test-runs/{detail['id']}/artifacts/{artifact['name']}"
            got = [await c.get(path, headers=account.headers) for c in clients]
            assert [r.status_code for r in got] == [200, 200], got[0].text
            assert got[0].content == got[1].content != b""
            downloaded += 1
    assert downloaded >= RUNS

    await _a_sigkilled_worker_loses_nothing(deployment, clients, account, demo_site)
    await _compaction_while_both_apis_serve_the_dashboard(deployment, account)
    assert set(ids) <= await asyncio.to_thread(
        _warehouse_run_ids, reader_settings, account.project_id
    )
    print(f"scale-out test body: {time.monotonic() - started:.1f} s")


async def _a_sigkilled_worker_loses_nothing(
    deployment: Deployment,
    clients: list[httpx.AsyncClient],
    account: Account,
    demo_site: DemoServer,
) -> None:
    slow = "import time\n\ndef test_slow(page):\n    page.goto('/')\n    time.sleep(6)\n"
    run = await queue_run(clients[0], account, slow, base_url=demo_site.base_url, retries=0)
    deadline = time.monotonic() + 60
    while (await _status_everywhere(clients, account, run["id"]))[0]["status"] != "running":
        assert time.monotonic() < deadline, "the slow run never started"
        await asyncio.sleep(0.2)
    # Kill both: whichever holds the run dies mid-run; a fresh worker takes it over.
    for worker in list(deployment.workers):
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    deployment.start_worker("worker-c")
    deadline = time.monotonic() + 90
    while True:
        bodies = await _status_everywhere(clients, account, run["id"])
        if bodies[1]["status"] in DONE:
            break
        assert time.monotonic() < deadline, "the orphaned run was never finished"
        await asyncio.sleep(0.5)
    assert bodies[1]["status"] == "passed", bodies[1]["error"]
    assert bodies[1]["attempt"] == 2
    for artifact in bodies[1]["artifacts"]:
        path = f"/v1/test-runs/{run['id']}/artifacts/{artifact['name']}"
        assert [(await c.get(path, headers=account.headers)).status_code for c in clients] == [
            200,
            200,
        ]


def errors_into(errors: list[str]) -> Callable[[Any], None]:
    """A page-error listener that keeps the messages."""
    return lambda error: errors.append(str(error))


async def _compaction_while_both_apis_serve_the_dashboard(
    deployment: Deployment, account: Account
) -> None:
    from playwright.async_api import async_playwright

    target = find_chromium(Settings())
    assert target is not None and target.executable_path is not None
    env = deployment.env("compactor")
    compactor = subprocess.Popen(
        [sys.executable, "-m", "scriptflow.cli", "analytics", "compact"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=target.executable_path, headless=True, args=list(target.launch_args)
        )
        try:
            for api in deployment.apis:
                context = await browser.new_context(viewport={"width": 1400, "height": 1000})
                page = await context.new_page()
                errors: list[str] = []
                page.on("pageerror", errors_into(errors))
                await page.goto(api + "/dashboard/")
                await page.get_by_label("Email").fill(account.email)
                await page.get_by_label("Password").fill(account.password)
                await page.get_by_role("button", name="Sign in").click()
                # Several charts of the run history, drawn on each API from the shared warehouse.
                await page.locator(CHART).nth(2).wait_for(timeout=60_000)
                assert await page.get_by_text("The analytics warehouse is open").count() == 0
                assert errors == []
                await context.close()
        finally:
            await browser.close()
    out, err = compactor.communicate(timeout=120)
    assert compactor.returncode == 0, err[-2000:]
    assert "warehouse compacted" in out
