"""Benchmark: the demo login test through scriptflow's queue (sandboxed) vs plain `pytest`.

Run from the repository root::

    .venv/bin/python -m benchmarks.runs [--samples 5] [--batch 12] [--workers N]

In one invocation it serves the demo app on loopback and starts two servers (`uvicorn
app.main:app`, embedded SQLite, the embedded worker pool with ``workers`` tasks, default: the
number of cores): one running runs in the bubblewrap namespaces (``SCRIPTFLOW_RUN_ISOLATION=
namespaces``), one in the legacy Landlock sandbox (``legacy``). It seeds a user, an environment
pointing at the demo app and the script through each server's API, then measures the three sides
in turn so they see the same machine load:

- latency: one `pytest --browser chromium --base-url …` invocation of the same test file in a
  scratch folder (its conftest points pytest-playwright at the same Chromium executable and
  flags) against one POST /v1/test-runs → terminal status read from the run's server-sent
  events; ``samples`` pairs, medians compared;
- throughput: ``batch`` direct invocations back to back (what a user scripting pytest in a loop
  gets) against ``batch`` runs posted at once to the pool.

Prints the figures and the ratios against the goals (sandboxed latency <= 1.0x direct,
throughput >= 1.5x direct, isolation costs at most 150 ms per run over the legacy sandbox).
Every run must pass, or the figures would be meaningless and it says so.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from app.demo.server import DemoServer
from scriptflow.config import Settings
from scriptflow.runs.browsers import find_chromium

REPO_ROOT = Path(__file__).resolve().parent.parent
BENCH_SECRET = "bench-" + "s" * 48
BENCH_PASSWORD = "correct horse battery staple"
LATENCY_GOAL = 1.0
THROUGHPUT_GOAL = 1.5
ISOLATION_COST_GOAL_S = 0.150
SANDBOXES = ("namespaces", "legacy")
TERMINAL = {"passed", "failed", "error", "cancelled"}

LOGIN_TEST = """from playwright.sync_api import Page, expect


def test_login(page: Page) -> None:
    page.goto("/login")
    page.get_by_label("Username").fill("demo")
    page.get_by_label("Password").fill("demo-password")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#welcome")).to_have_text("Welcome, demo")
"""

DIRECT_CONFTEST = """import pytest

EXECUTABLE = {executable!r}
ARGS = {args!r}


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {{**browser_type_launch_args, "executable_path": EXECUTABLE, "args": ARGS}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`uvicorn app.main:app` on a free port with its own data dir and embedded SQLite."""

    def __init__(self, workers: int, isolation: str) -> None:
        self.port = free_port()
        self.data_dir = Path(tempfile.mkdtemp(prefix="bench-runs-"))
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": str(REPO_ROOT),
            "JWT_SECRET": BENCH_SECRET,
            "SCRIPTFLOW_DATA_DIR": str(self.data_dir),
            "SCRIPTFLOW_WORKERS": str(workers),
            "SCRIPTFLOW_LOG_LEVEL": "WARNING",
            "SCRIPTFLOW_RATE_LIMIT_RUNS_PER_MINUTE": "100000",
            "SCRIPTFLOW_RUN_ISOLATION": isolation,
        }
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "app.main:app",
                "--port",
                str(self.port),
                "--log-level",
                "warning",
            ],
            cwd=REPO_ROOT,
            env=env,
        )
        self.url = f"http://127.0.0.1:{self.port}"

    async def wait_ready(self, client: httpx.AsyncClient) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if (await client.get(f"{self.url}/healthz")).status_code < 500:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
        raise SystemExit("the server did not start")

    def stop(self) -> float:
        """Stop the server; the CPU seconds it and its (reaped) run processes used."""
        self.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            pid, _, usage = os.wait4(self.proc.pid, os.WNOHANG)
            if pid:
                self.proc.returncode = 0
                return usage.ru_utime + usage.ru_stime
            time.sleep(0.05)
        self.proc.kill()
        _, _, usage = os.wait4(self.proc.pid, 0)
        self.proc.returncode = -9
        return usage.ru_utime + usage.ru_stime


async def seed(client: httpx.AsyncClient, url: str, base_url: str) -> tuple[dict[str, str], str]:
    """A user, an environment pointing at the demo app and the login script."""
    email = f"bench-{time.time_ns()}@example.com"
    creds = {"email": email, "password": BENCH_PASSWORD}
    (await client.post(f"{url}/v1/auth/register", json=creds)).raise_for_status()
    token = (await client.post(f"{url}/v1/auth/login", json=creds)).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    project = (await client.get(f"{url}/v1/projects", headers=headers)).json()[0]["id"]
    r = await client.post(
        f"{url}/v1/projects/{project}/environments",
        json={"name": "demo", "base_url": base_url},
        headers=headers,
    )
    r.raise_for_status()
    r = await client.post(
        f"{url}/v1/scripts",
        json={"project_id": project, "title": "Demo login", "content": LOGIN_TEST},
        headers=headers,
    )
    r.raise_for_status()
    return headers, r.json()["id"]


async def run_to_end(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], script_id: str
) -> tuple[float, str]:
    """POST a run and poll until it ends; (seconds, status)."""
    started = time.perf_counter()
    r = await client.post(
        f"{url}/v1/test-runs",
        json={"script_id": script_id, "environment": "demo", "browser": "chromium"},
        headers=headers,
    )
    r.raise_for_status()
    run_id = r.json()["id"]
    status = "unknown"
    events = f"{url}/v1/test-runs/{run_id}/events"
    async with client.stream("GET", events, headers=headers) as stream:
        async for line in stream.aiter_lines():
            if line.startswith("data: "):
                status = json.loads(line.removeprefix("data: "))["status"]
                if status in TERMINAL:
                    break
    return time.perf_counter() - started, status


def direct_one(folder: Path, base_url: str) -> float:
    """Wall seconds of one `pytest --browser chromium` invocation."""
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "--browser",
        "chromium",
        "--base-url",
        base_url,
        "test_login.py",
    ]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=folder, capture_output=True, check=False)
    if done.returncode != 0:
        print(done.stdout.decode()[-2000:])
        raise SystemExit("the direct pytest run failed")
    return time.perf_counter() - started


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def direct_folder() -> Path:
    """A scratch project with the login test and a conftest for the same Chromium."""
    target = find_chromium(Settings())
    if target is None or target.executable_path is None:
        raise SystemExit("Chromium is not installed")
    folder = Path(tempfile.mkdtemp(prefix="bench-direct-"))
    (folder / "test_login.py").write_text(LOGIN_TEST)
    (folder / "pytest.ini").write_text("[pytest]\n")
    (folder / "conftest.py").write_text(
        DIRECT_CONFTEST.format(
            executable=str(target.executable_path), args=list(target.launch_args)
        )
    )
    return folder


@dataclass
class Side:
    """What one way of running the test measured."""

    latency: list[float] = field(default_factory=list)
    batch_s: float = 0.0
    cpu_s: float = 0.0  # direct: every invocation; a server: it and its run processes
    runs: int = 0


async def measure(base_url: str, samples: int, batch: int, workers: int) -> dict[str, Side]:
    """Alternate direct and queued runs (both sandboxes) so all see the same machine load."""
    folder = direct_folder()
    sides = {"direct": Side(), **{name: Side() for name in SANDBOXES}}

    def direct() -> float:
        before = children_cpu_s()
        seconds = direct_one(folder, base_url)
        sides["direct"].cpu_s += children_cpu_s() - before
        sides["direct"].runs += 1
        return seconds

    servers = {name: Server(workers, name) for name in SANDBOXES}
    try:
        async with httpx.AsyncClient(timeout=300) as client:
            seeded = {}
            for name, server in servers.items():
                await server.wait_ready(client)
                seeded[name] = await seed(client, server.url, base_url)
            # Warm-up of every side, not counted.
            await asyncio.to_thread(direct)
            for name, server in servers.items():
                await run_to_end(client, server.url, *seeded[name])
            for _ in range(samples):
                sides["direct"].latency.append(await asyncio.to_thread(direct))
                for name, server in servers.items():
                    seconds, status = await run_to_end(client, server.url, *seeded[name])
                    if status != "passed":
                        raise SystemExit(f"a {name} run ended {status}; figures meaningless")
                    sides[name].latency.append(seconds)
            started = time.perf_counter()
            for _ in range(batch):
                await asyncio.to_thread(direct)
            sides["direct"].batch_s = time.perf_counter() - started
            for name, server in servers.items():
                started = time.perf_counter()
                results = await asyncio.gather(
                    *(run_to_end(client, server.url, *seeded[name]) for _ in range(batch))
                )
                sides[name].batch_s = time.perf_counter() - started
                if {status for _, status in results} != {"passed"}:
                    raise SystemExit(f"{name} batch statuses: {sorted(s for _, s in results)}")
                sides[name].runs = 1 + samples + batch
    finally:
        for name, server in servers.items():
            sides[name].cpu_s = server.stop()
    return sides


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=5, help="latency samples per side")
    parser.add_argument("--batch", type=int, default=12, help="runs posted at once")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    with DemoServer(flaky_rate=0.0) as demo:
        sides = asyncio.run(measure(demo.base_url, args.samples, args.batch, args.workers))
    latency = {name: statistics.median(side.latency) for name, side in sides.items()}
    per_min = {name: args.batch * 60 / side.batch_s for name, side in sides.items()}
    labels = {
        "direct": "pytest --browser chromium (direct)",
        "namespaces": "scriptflow, namespaces sandbox",
        "legacy": "scriptflow, legacy sandbox",
    }
    print(f"cores: {os.cpu_count()}, embedded workers: {args.workers}, samples: {args.samples}")
    print(f"{'':36}{'latency p50':>12}{'runs/min':>10}{'CPU s/run':>11}")
    for name, side in sides.items():
        # A sandbox's processes are reaped inside its namespace, whose init bwrap does not
        # wait for: their CPU time never reaches the server's rusage, so it is not shown.
        cpu = "n/a" if name == "namespaces" else f"{side.cpu_s / max(side.runs, 1):.2f}"
        print(f"{labels[name]:36}{latency[name]:>11.2f}s{per_min[name]:>10.1f}{cpu:>11}")
    print("(CPU per legacy run includes its server, workers and run processes)")
    for name in SANDBOXES:
        latency_ratio = latency[name] / latency["direct"]
        throughput_ratio = per_min[name] / per_min["direct"]
        verdict = "ok" if latency_ratio <= LATENCY_GOAL else "MISSED"
        goal = f"(goal <= {LATENCY_GOAL}x)" if name == "namespaces" else ""
        print(f"{name:10} latency ratio    {latency_ratio:.2f}x {goal} {verdict if goal else ''}")
        verdict = "ok" if throughput_ratio >= THROUGHPUT_GOAL else "MISSED"
        goal = f"(goal >= {THROUGHPUT_GOAL}x)"
        print(f"{name:10} throughput ratio {throughput_ratio:.2f}x {goal} {verdict}")
    cost = latency["namespaces"] - latency["legacy"]
    verdict = "ok" if cost <= ISOLATION_COST_GOAL_S else "MISSED"
    goal_ms = ISOLATION_COST_GOAL_S * 1000
    print(f"isolation cost per run (p50, namespaces - legacy): {cost * 1000:+.0f} ms "
          f"(goal <= {goal_ms:.0f} ms) {verdict}")  # fmt: skip


if __name__ == "__main__":
    main()
