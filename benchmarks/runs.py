"""Benchmark: the demo login test through scriptflow's queue vs plain `pytest --browser chromium`.

Run from the repository root::

    .venv/bin/python -m benchmarks.runs [--samples 5] [--batch 12] [--workers N]

In one invocation it serves the demo app on loopback and starts the server (`uvicorn
app.main:app`, embedded SQLite, the embedded worker pool with ``workers`` tasks, default: the
number of cores), seeds a user, an environment pointing at the demo app and the script through
the API, then measures both sides alternately so they see the same machine load:

- latency: one `pytest --browser chromium --base-url …` invocation of the same test file in a
  scratch folder (its conftest points pytest-playwright at the same Chromium executable and
  flags) against one POST /v1/test-runs → terminal status read from the run's server-sent
  events; ``samples`` pairs, medians compared;
- throughput: ``batch`` direct invocations back to back (what a user scripting pytest in a loop
  gets) against ``batch`` runs posted at once to the pool.

Prints the figures and the ratios against the goal (latency <= 1.3x direct, throughput >= 1.5x
direct). Every run must pass, or the figures would be meaningless and it says so.
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
from dataclasses import dataclass
from pathlib import Path

import httpx

from app.demo.server import DemoServer
from scriptflow.config import Settings
from scriptflow.runs.browsers import find_chromium

REPO_ROOT = Path(__file__).resolve().parent.parent
BENCH_SECRET = "bench-" + "s" * 48
BENCH_PASSWORD = "correct horse battery staple"
LATENCY_GOAL = 1.3
THROUGHPUT_GOAL = 1.5
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

    def __init__(self, workers: int) -> None:
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
class Figures:
    direct_latency: list[float]
    our_latency: list[float]
    direct_batch_s: float = 0.0
    our_batch_s: float = 0.0
    direct_cpu_s: float = 0.0  # CPU seconds of every direct invocation
    our_cpu_s: float = 0.0  # CPU seconds of the server and its run processes, start to stop
    direct_runs: int = 0
    our_runs: int = 0


async def measure(base_url: str, samples: int, batch: int, workers: int) -> Figures:
    """Alternate direct and queued runs so both see the same machine load."""
    folder = direct_folder()
    figures = Figures([], [])

    def direct() -> float:
        before = children_cpu_s()
        seconds = direct_one(folder, base_url)
        figures.direct_cpu_s += children_cpu_s() - before
        figures.direct_runs += 1
        return seconds

    server = Server(workers)
    try:
        async with httpx.AsyncClient(timeout=300) as client:
            await server.wait_ready(client)
            headers, script_id = await seed(client, server.url, base_url)
            # Warm-up of both sides, not counted.
            await asyncio.to_thread(direct)
            await run_to_end(client, server.url, headers, script_id)
            for _ in range(samples):
                figures.direct_latency.append(await asyncio.to_thread(direct))
                seconds, status = await run_to_end(client, server.url, headers, script_id)
                if status != "passed":
                    raise SystemExit(f"a run ended {status}; figures would be meaningless")
                figures.our_latency.append(seconds)
            started = time.perf_counter()
            for _ in range(batch):
                await asyncio.to_thread(direct)
            figures.direct_batch_s = time.perf_counter() - started
            started = time.perf_counter()
            results = await asyncio.gather(
                *(run_to_end(client, server.url, headers, script_id) for _ in range(batch))
            )
            figures.our_batch_s = time.perf_counter() - started
            if {status for _, status in results} != {"passed"}:
                raise SystemExit(f"batch statuses: {sorted(s for _, s in results)}")
            figures.our_runs = 1 + samples + batch
    finally:
        figures.our_cpu_s = server.stop()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=5, help="latency samples per side")
    parser.add_argument("--batch", type=int, default=12, help="runs posted at once")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    with DemoServer(flaky_rate=0.0) as demo:
        figures = asyncio.run(measure(demo.base_url, args.samples, args.batch, args.workers))
    direct_latency = statistics.median(figures.direct_latency)
    our_latency = statistics.median(figures.our_latency)
    direct_per_min = args.batch * 60 / figures.direct_batch_s
    our_per_min = args.batch * 60 / figures.our_batch_s
    latency_ratio = our_latency / direct_latency
    throughput_ratio = our_per_min / direct_per_min
    print(f"cores: {os.cpu_count()}, embedded workers: {args.workers}, samples: {args.samples}")
    print(f"{'':34}{'latency p50':>12}{'runs/min':>10}")
    print(
        f"{'pytest --browser chromium (direct)':34}{direct_latency:>11.2f}s{direct_per_min:>10.1f}"
    )
    print(f"{'scriptflow POST -> terminal':34}{our_latency:>11.2f}s{our_per_min:>10.1f}")
    direct_cpu = figures.direct_cpu_s / max(figures.direct_runs, 1)
    our_cpu = figures.our_cpu_s / max(figures.our_runs, 1)
    print(
        f"CPU seconds per run: direct {direct_cpu:.2f}, scriptflow {our_cpu:.2f} "
        "(server, workers and run processes included)"
    )
    verdict_latency = "ok" if latency_ratio <= LATENCY_GOAL else "MISSED"
    verdict_throughput = "ok" if throughput_ratio >= THROUGHPUT_GOAL else "MISSED"
    print(f"latency ratio    {latency_ratio:.2f}x (goal <= {LATENCY_GOAL}x) {verdict_latency}")
    goal = f"(goal >= {THROUGHPUT_GOAL}x)"
    print(f"throughput ratio {throughput_ratio:.2f}x {goal} {verdict_throughput}")


if __name__ == "__main__":
    main()
