"""A deployment of two API processes and two `scriptflow worker` processes on one PostgreSQL.

Each process has a data dir of its own, as on another machine; they share only the database,
the artifact store (S3 on a moto server on loopback) and the analytics data path. One module,
processes started once: 20 runs in real Chromium spread over both workers; how long after each
run finished both APIs' insights, fix impact and dashboard queries show it; then, at once, every
artifact downloads from both APIs, a SIGKILLed worker loses nothing, and the dashboard renders
on both and on a `scriptflow notebooks` process while a compaction runs.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
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
from tests.factories import Account, create_script, signup
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
# A hard wait in every script: each one gets a brittle-code insight whose refresh shows.
SCRIPT = (
    "def test_home(page):\n    page.goto('/')\n    page.wait_for_timeout(10)\n"
    "    assert page.title() is not None\n"
)
# The goal is 2 s. On the shared 2-core machine the lag grows with the load; this test alone keeps
# it at 6-10 (two APIs, two workers, Chromium) and a whole suite around it at 13-17. Since each
# session of a run gets the run's niceness (docs/runs.md, "Scheduler autogroups"), p95 was
# 0.5-0.9 s alone and 0.8-1.4 s in the suite (docs/deploy-measured.md); before it, 1.4-2.7 s
# alone. The bounds hold at a 1-minute load up to 4 and scale with it above (at 14: p50 < 5.3 s,
# p95 < 10.5 s), since the 1-minute average trails the moment and other work may share the
# machine: a lag several times today's fails, a loaded machine does not. The figures are in the
# suite's summary.
LAG_P50_BOUND_S = 1.5
# Each surface is read again this long after its last answer: a lag is measured to within it.
# Shorter polls cost the APIs more than the pipeline does (four loops, up to 40 requests a
# round), which is load the lag itself then pays for.
POLL_S = 0.25
LAG_P95_BOUND_S = 3.0
LOAD_AT_WHICH_BOUNDS_HOLD = 4.0
# The processes' log level: INFO (run with -s) prints where each lake write's time went.
LOG_LEVEL = os.environ.get("SCRIPTFLOW_DEPLOY_TEST_LOG_LEVEL", "WARNING")


@dataclass
class Deployment:
    database_url: str
    shared: dict[str, str]
    root: Path
    apis: list[str] = field(default_factory=list)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    notebooks: str = ""

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
            "SCRIPTFLOW_LOG_LEVEL": LOG_LEVEL,
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

    def start_notebooks(self, name: str) -> str:
        """`scriptflow notebooks`: the dashboard and notebook apps in a process of their own."""
        port = free_port()
        env = self.env(name, SCRIPTFLOW_ANALYTICS_COMPACT_EVERY_S="0")
        command = [sys.executable, "-m", "scriptflow.cli", "notebooks", "--port", str(port)]
        self.processes.append(subprocess.Popen(command, cwd=REPO, env=env))
        self.notebooks = f"http://127.0.0.1:{port}"
        return self.notebooks

    def start_worker(self, name: str, **extra: str) -> subprocess.Popen[bytes]:
        # No scheduled compaction: it holds the writer lock for seconds under load, which would
        # show in the measured lag; the test compacts by hand while the dashboards render.
        # Sweeps every second and a 10 s outbox claim (defaults: 5 s and six leases): the killed
        # worker's run and outbox entry are taken over in seconds, not most of a minute. The
        # lease is 8 s: with 5 s, at load 24-29 live workers lost runs they were still running.
        env = self.env(
            name,
            SCRIPTFLOW_RUN_LEASE_S="8",
            SCRIPTFLOW_RUN_REAP_EVERY_S="1",
            SCRIPTFLOW_OUTBOX_CLAIM_S="10",
            SCRIPTFLOW_ANALYTICS_COMPACT_EVERY_S="0",
            **extra,
        )
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
        deployment.start_notebooks("notebooks")
        for worker in ("worker-a", "worker-b"):
            deployment.start_worker(worker)
        served = [*deployment.apis, deployment.notebooks]
        for api_url, process in zip(served, deployment.processes, strict=False):
            _wait_healthy(api_url, process)
        yield deployment
    finally:
        deployment.stop()


@pytest.fixture(scope="module")
def demo_site() -> Iterator[DemoServer]:
    with DemoServer(flaky_rate=0.0) as server:
        yield server


def _wait_healthy(url: str, process: subprocess.Popen[bytes], timeout_s: float = 240) -> None:
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


def _warehouse_run_ids(warehouse: Warehouse, project_id: str) -> set[str]:
    with warehouse.reader([project_id]) as reader:
        return {row[0] for row in reader.rows("SELECT run_id::VARCHAR FROM runs")}


def _epoch(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


@dataclass
class LagWatch:
    """When each finished run first showed on every surface of both APIs (and a third reader).

    Each surface is read for all runs at once (insight listings, one warehouse query, the impact
    reports of runs not yet seen there), on a loop of its own, so the lags measured are the
    pipeline's, not the polling's. The warehouse and the insight listings are judged without
    waiting for the run listing to report a run finished (a run in the lake has finished; an
    insight listing is kept and judged once the run's end is known): that listing takes seconds
    under load, which only the impact reports (asked of finished runs) still wait for.
    """

    clients: list[httpx.AsyncClient]
    account: Account
    warehouse: Warehouse
    script_of: dict[str, str]
    completed: dict[str, float] = field(default_factory=dict)
    seen: dict[str, dict[str, float]] = field(
        default_factory=lambda: {"dashboard": {}, "fix impact": {}, "insights": {}}
    )
    impact_on: dict[str, dict[int, float]] = field(default_factory=dict)  # run -> API -> when
    # Each insight listing round: when it answered, and each API's newest last_seen per script.
    listings: list[tuple[float, list[dict[str, float]]]] = field(default_factory=list)

    async def watch(self, deadline: float) -> None:
        """Each surface on a loop of its own, so a slow one never delays seeing another."""

        async def loop(check: Callable[[set[str]], Awaitable[None]], surface: str) -> None:
            while len(self.seen[surface]) < len(self.script_of):
                assert time.monotonic() < deadline, {k: len(v) for k, v in self.seen.items()}
                await check(set(self.completed))
                await asyncio.sleep(POLL_S)

        async def finished_runs() -> None:
            while len(self.completed) < len(self.script_of):
                assert time.monotonic() < deadline, f"{len(self.completed)} runs finished"
                await self._finished()
                await asyncio.sleep(POLL_S)

        await asyncio.gather(
            finished_runs(),
            loop(self._dashboard, "dashboard"),
            loop(self._impact, "fix impact"),
            loop(self._insights, "insights"),
        )

    async def _finished(self) -> None:
        account = self.account
        params: dict[str, str | int] = {"project_id": account.project_id, "limit": 200}
        for client in self.clients:
            r = await client.get("/v1/test-runs", params=params, headers=account.headers)
            assert r.status_code == 200, r.text
            for run in r.json():
                if run["id"] in self.script_of and run["status"] in DONE:
                    assert run["status"] == "passed", run["error"]
                    self.completed.setdefault(run["id"], _epoch(run["completed_at"]))

    # Each check stamps what it saw with the time its answer arrived: an upper bound of the lag.

    async def _dashboard(self, finished: set[str]) -> None:
        # The dashboard's queries read the warehouse; any process's reader sees the same lake.
        there = await asyncio.to_thread(_warehouse_run_ids, self.warehouse, self.account.project_id)
        now = time.time()
        for run_id in (there & set(self.script_of)) - set(self.seen["dashboard"]):
            self.seen["dashboard"][run_id] = now

    async def _impact(self, finished: set[str]) -> None:
        async def shown(index: int, run_id: str) -> None:
            path = f"/v1/scripts/{self.script_of[run_id]}/revisions/1/impact"
            r = await self.clients[index].get(path, headers=self.account.headers)
            assert r.status_code == 200, r.text
            if run_id in r.json()["after"]["run_ids"]:
                self.impact_on.setdefault(run_id, {})[index] = time.time()

        # An API that showed a run is not asked about it again (a run once in a report stays
        # there): fewer impact reports for the APIs to serve, the same lag. It is shown on both
        # when the later of the two showed it.
        await asyncio.gather(
            *(
                shown(index, run_id)
                for run_id in sorted(finished - set(self.seen["fix impact"]))
                for index in range(len(self.clients))
                if index not in self.impact_on.get(run_id, {})
            )
        )
        for run_id, on in self.impact_on.items():
            if len(on) == len(self.clients):
                self.seen["fix impact"].setdefault(run_id, max(on.values()))

    async def _insights(self, finished: set[str]) -> None:
        # Each script's hard wait is a brittle-code insight; the refresh after a run sets its
        # last_seen, so an insight seen at or after the run's end includes that run.
        latest: list[dict[str, float]] = []
        for client in self.clients:
            r = await client.get(
                f"/v1/projects/{self.account.project_id}/insights",
                params={"limit": 200},
                headers=self.account.headers,
            )
            assert r.status_code == 200, r.text
            by_script: dict[str, float] = {}
            for insight in r.json():
                script = str(insight["script_id"])
                by_script[script] = max(by_script.get(script, 0.0), _epoch(insight["last_seen"]))
            latest.append(by_script)
        self.listings.append((time.time(), latest))
        for run_id in finished - set(self.seen["insights"]):
            script, end = self.script_of[run_id], self.completed[run_id]
            for answered, listed in self.listings:  # the first listing on which both show it
                if all(by_script.get(script, 0.0) >= end - 0.001 for by_script in listed):
                    self.seen["insights"][run_id] = answered
                    break

    def by_run(self, surface: str) -> list[tuple[float, float]]:
        """(when it finished, after the first run did; its lag) of each run, in finish order:
        whether the lag is the first runs' (a cold start) or the runs' under load."""
        first = min(self.completed.values())
        return [
            (round(self.completed[run] - first, 1), round(at - self.completed[run], 2))
            for run, at in sorted(self.seen[surface].items(), key=lambda i: self.completed[i[0]])
        ]

    def lags(self, surface: str) -> list[float]:
        return sorted(at - self.completed[run] for run, at in self.seen[surface].items())


def _percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def test_two_apis_and_two_workers_share_runs_artifacts_analytics_and_limits(
    deployment: Deployment,
    clients: list[httpx.AsyncClient],
    account: Account,
    demo_site: DemoServer,
    record_property: Callable[[str, object], None],
    tmp_path: Path,
) -> None:
    started = time.monotonic()
    idle = asyncio.create_task(_an_idle_connection_outlives_five_seconds(deployment.apis[0]))
    first = await queue_run(clients[0], account, SCRIPT, base_url=demo_site.base_url, retries=0)

    async def queue(number: int) -> dict[str, Any]:
        client = clients[number % 2]  # queued through both APIs
        script = await create_script(client, account, title=f"Home {number}", content=SCRIPT)
        body = {"script_id": script["id"], "environment": "staging", "browser": "chromium"}
        r = await client.post("/v1/test-runs", json=body | {"retries": 0}, headers=account.headers)
        assert r.status_code == 201, r.text
        queued: dict[str, Any] = r.json()
        return queued

    runs = [first, *await asyncio.gather(*(queue(number) for number in range(1, RUNS)))]
    reader_settings = Settings.model_validate(
        {
            "DATABASE_URL": deployment.database_url,
            "data_dir": tmp_path,
            "analytics_data_path": deployment.shared["SCRIPTFLOW_ANALYTICS_DATA_PATH"],
        }
    )
    warehouse = Warehouse.for_settings(reader_settings)  # a third process's view, like a notebook
    watch = LagWatch(clients, account, warehouse, {r["id"]: r["script_id"] for r in runs})
    try:
        await watch.watch(deadline=time.monotonic() + 240)
        ids = [r["id"] for r in runs]
        assert set(ids) <= await asyncio.to_thread(
            _warehouse_run_ids, warehouse, account.project_id
        )
    finally:
        warehouse.close()
    # The goal: within 2 s of a run finishing, both APIs' insights, fix impact and dashboard
    # queries show it (figures in docs/deploy-measured.md; the bounds above say why they are
    # looser).
    report = {}
    for surface in watch.seen:
        ordered = watch.lags(surface)
        report[surface] = (_percentile(ordered, 0.5), _percentile(ordered, 0.95), ordered[-1])
    figures = "finish → shown on both APIs: " + "; ".join(
        f"{surface} p50 {p50:.2f} s p95 {p95:.2f} s max {top:.2f} s"
        for surface, (p50, p95, top) in report.items()
    )
    print(figures)
    for surface in watch.seen:
        print(f"{surface}, run by run (finished s after the first, lag s): {watch.by_run(surface)}")
    load = os.getloadavg()[0]
    scale = max(1.0, load / LOAD_AT_WHICH_BOUNDS_HOLD)
    print(f"load {load:.1f}: bounds p50 < {LAG_P50_BOUND_S * scale:.1f} s, "
          f"p95 < {LAG_P95_BOUND_S * scale:.1f} s")  # fmt: skip
    # In the suite's summary too (xdist hides prints): the lag under the whole suite's load.
    record_property("measured", f"{figures} (1-minute load {load:.1f})")
    for surface, (p50, p95, _) in report.items():
        assert p50 < LAG_P50_BOUND_S * scale, (surface, load, watch.lags(surface))
        assert p95 < LAG_P95_BOUND_S * scale, (surface, load, watch.lags(surface))

    insights = [
        (await c.get(f"/v1/projects/{account.project_id}/insights", headers=account.headers))
        for c in clients
    ]
    assert [r.status_code for r in insights] == [200, 200]
    assert insights[0].json() == insights[1].json()

    # Independent of each other: the dashboards with a compaction under them, the artifacts,
    # and a worker killed mid-run.
    await asyncio.gather(
        _every_artifact_downloads_from_both_apis(clients, account, ids),
        _a_sigkilled_worker_loses_nothing(deployment, clients, account, demo_site),
        _compaction_while_both_apis_serve_the_dashboard(deployment, account),
    )
    await idle
    print(f"scale-out test body: {time.monotonic() - started:.1f} s")


async def _an_idle_connection_outlives_five_seconds(url: str) -> None:
    """A client that reuses a connection idle for 5 s (httpx's own expiry) gets its answer.

    uvicorn's default closes an idle connection after 5 s, so a request sent down it at that
    moment was dropped ("Server disconnected without sending a response"); `scriptflow serve`
    keeps idle connections for SCRIPTFLOW_KEEP_ALIVE_S (75 s by default).
    """
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    request = f"GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    try:
        for _ in range(2):
            writer.write(request)
            await writer.drain()
            status = await asyncio.wait_for(reader.readline(), 30)
            assert status.startswith(b"HTTP/1.1 200"), status
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            await asyncio.sleep(6.5)  # past uvicorn's 5 s default, idle
    finally:
        writer.close()


async def _every_artifact_downloads_from_both_apis(
    clients: list[httpx.AsyncClient], account: Account, ids: list[str]
) -> None:
    """Byte for byte the same from either API: the workers uploaded them to the shared store."""
    downloaded = 0
    for run_id in ids:
        detail = (await _status_everywhere(clients, account, run_id))[1]
        assert detail["artifacts"], f"run {run_id} has no artifacts"
        for artifact in detail["artifacts"]:
            path = f"/v1/test-runs/{run_id}/artifacts/{artifact['name']}"
            got = [await c.get(path, headers=account.headers) for c in clients]
            assert [r.status_code for r in got] == [200, 200], got[0].text
            assert got[0].content == got[1].content != b""
            downloaded += 1
    assert downloaded >= RUNS


async def _a_sigkilled_worker_loses_nothing(
    deployment: Deployment,
    clients: list[httpx.AsyncClient],
    account: Account,
    demo_site: DemoServer,
) -> None:
    """Killed mid-run, the run is taken over; killed between the run's final commit and its
    handlers, the outbox entry written in that commit gets them run by another worker."""
    slow = (
        "import time\n\ndef test_slow(page):\n    page.goto('/')\n"
        "    page.wait_for_timeout(10)\n    time.sleep(6)\n"
    )
    run = await queue_run(clients[0], account, slow, base_url=demo_site.base_url, retries=0)
    deadline = time.monotonic() + 60
    while (await _status_everywhere(clients, account, run["id"]))[0]["status"] != "running":
        assert time.monotonic() < deadline, "the slow run never started"
        await asyncio.sleep(0.2)
    # Kill both: whichever holds the run dies mid-run.
    for worker in list(deployment.workers):
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    # The second attempt goes to a worker that kills itself right after committing the run's
    # end, before any RunFinished handler ran (a fault point, not a timing race).
    faulty = deployment.start_worker("worker-b2", SCRIPTFLOW_FAULT_INJECTION="after-run-commit")
    # Generous: a worker's start (migrate, attach), the lease's expiry and a 6 s run, at load 30.
    deadline = time.monotonic() + 180
    while faulty.poll() is None:
        assert time.monotonic() < deadline, "the orphaned run was never finished"
        await asyncio.sleep(0.5)
    assert faulty.returncode == -signal.SIGKILL
    bodies = await _status_everywhere(clients, account, run["id"])
    assert bodies[1]["status"] == "passed", bodies[1]["error"]
    assert bodies[1]["attempt"] == 2
    assert bodies[1]["artifacts"]
    for artifact in bodies[1]["artifacts"]:
        path = f"/v1/test-runs/{run['id']}/artifacts/{artifact['name']}"
        assert [(await c.get(path, headers=account.headers)).status_code for c in clients] == [
            200,
            200,
        ]
    # Only the outbox knows the handlers are owed: a fresh worker takes the entry over once the
    # dead one's claim (10 s here) expired, and the script's insights are refreshed anyway.
    deployment.start_worker("worker-c")
    ended = _epoch(bodies[1]["completed_at"])
    deadline = time.monotonic() + 90
    while not await _refreshed_everywhere(clients, account, run["script_id"], ended):
        assert time.monotonic() < deadline, "the killed worker's run never had its refresh"
        await asyncio.sleep(0.5)


async def _refreshed_everywhere(
    clients: list[httpx.AsyncClient], account: Account, script_id: str, since: float
) -> bool:
    """Whether every API lists an insight of the script last seen at or after ``since``."""
    for client in clients:
        r = await client.get(
            f"/v1/projects/{account.project_id}/insights",
            params={"script_id": script_id, "limit": 200},
            headers=account.headers,
        )
        assert r.status_code == 200, r.text
        seen = [_epoch(i["last_seen"]) for i in r.json() if str(i["script_id"]) == script_id]
        if not seen or max(seen) < since - 0.001:
            return False
    return True


def errors_into(errors: list[str]) -> Callable[[Any], None]:
    """A page-error listener that keeps the messages."""
    return lambda error: errors.append(str(error))


async def _compaction_while_both_apis_serve_the_dashboard(
    deployment: Deployment, account: Account
) -> None:
    from playwright.async_api import Browser, async_playwright

    target = find_chromium(Settings())
    assert target is not None and target.executable_path is not None
    env = deployment.env("compactor")
    compactor = subprocess.Popen(
        [sys.executable, "-m", "scriptflow.cli", "analytics", "compact"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip

    async def dashboard_on(browser: Browser, api: str) -> None:
        context = await browser.new_context(viewport={"width": 1400, "height": 1000})
        page = await context.new_page()
        # Three notebook kernels start at once on a loaded 2-core machine: the sign-in's
        # navigation may take longer than Playwright's 30 s default.
        page.set_default_timeout(90_000)
        errors: list[str] = []
        page.on("pageerror", errors_into(errors))
        await page.goto(api + "/dashboard/")
        await page.get_by_label("Email").fill(account.email)
        await page.get_by_label("Password").fill(account.password)
        await page.get_by_role("button", name="Sign in").click()
        # Several charts of the run history, drawn on each API from the shared warehouse.
        await page.locator(CHART).nth(2).wait_for(timeout=90_000)
        assert await page.get_by_text("The analytics warehouse is open").count() == 0
        assert errors == []
        await context.close()

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=target.executable_path, headless=True, args=list(target.launch_args)
        )
        try:
            # One browser, the dashboard on both APIs and on the `scriptflow notebooks` process
            # at once (their kernels start in parallel).
            served = [*deployment.apis, deployment.notebooks]
            await asyncio.gather(*(dashboard_on(browser, url) for url in served))
        finally:
            await browser.close()
    out, err = await asyncio.to_thread(compactor.communicate, timeout=120)
    assert compactor.returncode == 0, err[-2000:]
    assert "warehouse compacted" in out
