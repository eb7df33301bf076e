"""Benchmark: a 24-test suite as one scriptflow suite run in 2 shards vs ``pytest -n 2``.

Run from the repository root::

    .venv/bin/python -m benchmarks.suites [--rounds 1] [--shards 2]

In one invocation it serves the demo app on loopback, writes a 24-test Playwright-for-Python
suite (a page object, a conftest fixture, four test modules of six tests) into a scratch
folder, and starts a scriptflow server on loopback (embedded SQLite, two in-process workers,
runs in the run sandbox). It pushes the suite's files through the API, then measures in turn,
so both see the same machine load:

- scriptflow: POST /v1/test-runs {project_id, shards: 2} until the sharded run has ended (the
  wall time a CI job waits, queueing, sandboxes and merging included);
- pytest-xdist: ``pytest -n 2`` on the same folder with pytest-playwright, pointed at the same
  Chromium executable and flags.

Every test must pass on both sides, or the figures would mean nothing and it says so. Prints
both wall times and the ratio against the goal (<= 1.1x xdist's), and the CPU time of every
process each side started (the sandboxes and what runs in them; xdist's workers and theirs):
on this shared two-core machine the load moves wall times more than any change, CPU less.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from app.demo.server import DemoServer
from app.main import create_app
from app.threaded_server import ThreadedServer
from scriptflow.config import Settings
from scriptflow.db import migrate
from scriptflow.runs.browsers import BrowserTarget, find_chromium

GOAL = 1.1
PASSWORD = "correct horse battery staple"

CONFTEST = """import pytest


@pytest.fixture(params=["Apple", "Banana", "Cherry"])
def product(request):
    return request.param
"""
PAGE = """from playwright.sync_api import Page


class Shop:
    def __init__(self, page: Page) -> None:
        self.page = page

    def sign_in(self) -> None:
        self.page.goto("/login")
        self.page.get_by_label("Username").fill("demo")
        self.page.get_by_label("Password").fill("demo-password")
        self.page.get_by_role("button", name="Log in").click()

    def add(self, name: str) -> None:
        self.page.goto("/products")
        self.page.locator("li").filter(has_text=name).get_by_role("button").click()
"""
MODULE = """from playwright.sync_api import Page, expect

from pages.shop import Shop


def test_sign_in_{n}(page: Page) -> None:
    Shop(page).sign_in()
    expect(page.locator("#welcome")).to_have_text("Welcome, demo")


def test_add_{n}(page: Page, product: str) -> None:
    Shop(page).add(product)
    expect(page.get_by_role("status")).to_have_text(f"{{product}} is in your cart")


def test_home_{n}(page: Page) -> None:
    page.goto("/")
    expect(page.locator("body")).to_be_visible()


def test_empty_cart_{n}(page: Page) -> None:
    page.goto("/cart")
    expect(page.get_by_role("status")).to_have_text("Your cart is empty")
"""
LAUNCH_PLUGIN = """import pytest


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {{**browser_type_launch_args, "executable_path": {exe!r}, "args": {args!r}}}
"""


def write_suite(root: Path) -> dict[str, str]:
    """24 tests: four modules of sign-in, three parametrised adds, home and empty cart."""
    files = {"conftest.py": CONFTEST, "pages/__init__.py": "", "pages/shop.py": PAGE}
    for n in range(1, 5):
        files[f"tests/test_shop_{n}.py"] = MODULE.format(n=n)
    for path, content in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(content)
    return files


def run_xdist(
    suite: Path, base_url: str, chromium: BrowserTarget, workers: int
) -> tuple[float, float]:
    """pytest -n on the suite's folder: (wall s, CPU s of it and of this process)."""
    plugins = suite.parent / "plugins"
    plugins.mkdir(exist_ok=True)
    (plugins / "system_chromium.py").write_text(
        LAUNCH_PLUGIN.format(exe=str(chromium.executable_path), args=list(chromium.launch_args))
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PYTEST")},
        "PYTHONPATH": str(plugins),
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
    }
    command = [
        sys.executable, "-m", "pytest", "-p", "pytest_playwright.pytest_playwright",
        "-p", "system_chromium", "-p", "xdist.plugin", "-p", "no:cacheprovider",
        "-n", str(workers), "--base-url", base_url, "-q",
    ]  # fmt: skip
    started, cpu = time.monotonic(), _own_cpu_s()
    with DescendantsCpu() as descendants:
        done = subprocess.run(
            command, cwd=suite, env=env, capture_output=True, text=True, check=False
        )
    elapsed, cpu = time.monotonic() - started, _own_cpu_s() - cpu
    children = descendants.total_s
    print(
        f"    xdist: this process (the demo app) used {cpu:5.2f} s of CPU, pytest -n {workers}"
        f" with everything it started {children:5.2f} s"
    )
    if done.returncode != 0 or "24 passed" not in done.stdout:
        raise SystemExit(f"pytest -n {workers} did not pass all 24 tests:\n{done.stdout[-2000:]}")
    return elapsed, cpu + children


def run_scriptflow(
    server: ThreadedServer, files: dict[str, str], base_url: str, shards: int
) -> tuple[float, float]:
    """One sharded suite run: (wall s, CPU s of this process and of all the shards started)."""
    http = httpx.Client(base_url=server.base_url, timeout=60)
    email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
    http.post("/v1/auth/register", json={"email": email, "password": PASSWORD}).raise_for_status()
    token = http.post("/v1/auth/login", json={"email": email, "password": PASSWORD}).json()
    http.headers["Authorization"] = f"Bearer {token['access_token']}"
    project = http.post("/v1/projects", json={"name": "bench"}).json()["id"]
    http.post(
        f"/v1/projects/{project}/environments", json={"name": "demo", "base_url": base_url}
    ).raise_for_status()
    for path, content in files.items():
        http.post(
            "/v1/scripts",
            json={"project_id": project, "title": path, "content": content, "path": path},
        ).raise_for_status()
    started, cpu = time.monotonic(), _own_cpu_s()
    with DescendantsCpu() as descendants:
        run = http.post(
            "/v1/test-runs", json={"project_id": project, "environment": "demo", "shards": shards}
        ).json()
        # Wait on the run's event stream, which ends when the run does: no poll of the whole
        # run every 0.1 s loading the server, whose event loop also carries the egress proxies.
        with http.stream("GET", f"/v1/test-runs/{run['id']}/events", timeout=None) as events:
            for _ in events.iter_lines():
                pass
    elapsed, cpu = time.monotonic() - started, _own_cpu_s() - cpu
    children = descendants.total_s
    run = http.get(f"/v1/test-runs/{run['id']}").json()
    summary = (run.get("results") or {}).get("summary") or {}
    if run["status"] != "passed" or summary.get("passed") != 24:
        raise SystemExit(f"the scriptflow run did not pass all 24 tests: {run['error']} {summary}")
    print_breakdown(http, run)
    print(
        f"    this process (server, workers, egress proxies, demo app) used {cpu:5.2f} s of CPU,"
        f" the shards' sandboxes with everything they started {children:5.2f} s"
    )
    return elapsed, cpu + children


def _own_cpu_s() -> float:
    """CPU seconds of this process's threads: the server, its workers and the demo app."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class DescendantsCpu:
    """CPU seconds of every process this one starts while it watches, and of theirs: the run
    sandboxes (pytest, Playwright's driver, Chromium) or pytest-xdist's workers alike.

    Sampled from /proc every 0.1 s (the kernel's own child accounting does not see through
    bubblewrap's PID namespace nor Playwright's driver, which do not wait for every process
    they start), each process by its PID and start time: a process's CPU after the last sample
    before it exits is missed, a few percent of a test's browser processes on either side.
    """

    def __init__(self, every_s: float = 0.1) -> None:
        self.every_s = every_s
        self.seen: dict[tuple[int, str], float] = {}
        self._stop = threading.Event()
        self._tick = os.sysconf("SC_CLK_TCK")
        self._thread = threading.Thread(target=self._watch, name="bench-cpu", daemon=True)

    def __enter__(self) -> DescendantsCpu:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    @property
    def total_s(self) -> float:
        return sum(self.seen.values())

    def _watch(self) -> None:
        while not self._stop.wait(self.every_s):
            self._sample()

    def _sample(self) -> None:
        me = os.getpid()
        todo, pids = [me], []
        while todo:
            pid = todo.pop()
            for task in _listdir(f"/proc/{pid}/task"):
                with contextlib.suppress(OSError):
                    children = Path(f"/proc/{pid}/task/{task}/children").read_text()
                    todo += [int(child) for child in children.split()]
            if pid != me:
                pids.append(pid)
        for pid in pids:
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                used = (int(fields[11]) + int(fields[12])) / self._tick
                key = (pid, fields[19])  # the start time tells a reused PID apart
                self.seen[key] = max(self.seen.get(key, 0.0), used)


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []


def _moment(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def print_breakdown(http: httpx.Client, parent: dict[str, Any]) -> None:
    """Where a sharded run's wall time went: each shard's wait for a worker, its execution
    (sandbox, pytest and Chromium start, tests, artifacts) against the time its tests took,
    and the merge after the last shard."""
    created = _moment(parent["created_at"])
    shards = []
    for entry in parent["results"].get("shards") or []:
        shard = http.get(f"/v1/test-runs/{entry['run_id']}").json()
        shards.append(shard)
        started, completed = _moment(shard["started_at"]), _moment(shard["completed_at"])
        tests_ms = sum(int(t.get("duration_ms") or 0) for t in shard.get("tests") or [])
        steps_ms = sum(
            int(step.get("duration_ms") or 0)
            for t in shard.get("tests") or []
            for step in t.get("steps") or []
        )
        execution = (completed - started).total_seconds()
        waited = (started - created).total_seconds()
        print(
            f"    shard {entry['index'] + 1}: claimed after {waited:5.2f} s,"
            f" executed {execution:5.2f} s ({len(shard.get('tests') or [])} tests took"
            f" {tests_ms / 1000:5.2f} s, the rest {execution - tests_ms / 1000:5.2f} s:"
            f" sandbox, pytest, Chromium, artifacts)\n"
            f"             steps took {steps_ms / 1000:5.2f} s of the tests' time, set-up and"
            f" teardown (contexts, traces) {(tests_ms - steps_ms) / 1000:5.2f} s"
        )
    if shards:
        last = max(_moment(s["completed_at"]) for s in shards)
        merged = (_moment(parent["completed_at"]) - last).total_seconds()
        print(f"    merged {merged:5.2f} s after the last shard ended")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--shards", type=int, default=2)
    parser.add_argument(
        "--isolation",
        choices=["auto", "namespaces", "legacy"],
        default="auto",
        help="the run sandbox (legacy: no network namespace nor egress proxy), to compare",
    )
    options = parser.parse_args()
    chromium = find_chromium(Settings())
    if chromium is None:
        raise SystemExit("Chromium is not installed")
    scratch = Path(tempfile.mkdtemp(prefix="sf-bench-suites-"))
    try:
        suite = scratch / "suite"
        files = write_suite(suite)
        database = scratch / "scriptflow.db"
        migrate.upgrade(f"sqlite+aiosqlite:///{database}")
        settings = Settings(
            DATABASE_URL=f"sqlite+aiosqlite:///{database}",
            JWT_SECRET="bench-" + "s" * 48,
            data_dir=scratch / "data",
            workers=options.shards,
            run_isolation=options.isolation,
            rate_limit_runs_per_minute=1000,
            rate_limit_login_per_minute=1000,
            rate_limit_register_per_minute=1000,
        )
        ours, theirs, our_cpu, their_cpu = [], [], [], []
        loads = [os.getloadavg()[0]]
        with DemoServer(flaky_rate=0.0) as demo, ThreadedServer(create_app(settings)) as server:
            for round_number in range(options.rounds):
                wall, cpu = run_scriptflow(server, files, demo.base_url, options.shards)
                ours.append(wall)
                our_cpu.append(cpu)
                loads.append(os.getloadavg()[0])
                wall, cpu = run_xdist(suite, demo.base_url, chromium, options.shards)
                theirs.append(wall)
                their_cpu.append(cpu)
                loads.append(os.getloadavg()[0])
                print(
                    f"  round {round_number + 1}: scriptflow {ours[-1]:6.2f} s, xdist"
                    f" {theirs[-1]:6.2f} s (load {loads[-3]:.1f} -> {loads[-2]:.1f} ->"
                    f" {loads[-1]:.1f}); CPU {our_cpu[-1]:5.1f} s against {their_cpu[-1]:5.1f} s"
                )
        mine, xdist = statistics.median(ours), statistics.median(theirs)
        print(
            f"24 tests, {options.shards} shards / workers, {options.rounds} round(s), median"
            f" (1-minute load {min(loads):.1f}-{max(loads):.1f}):"
        )
        print(f"  scriptflow suite run, {options.shards} shards: {mine:6.2f} s")
        print(f"  pytest -n {options.shards} (xdist):          {xdist:6.2f} s")
        verdict = "meets" if mine / xdist <= GOAL else "misses"
        print(f"  ratio {mine / xdist:.2f}x ({verdict} the goal of <= {GOAL}x)")
        cpu_mine, cpu_xdist = statistics.median(our_cpu), statistics.median(their_cpu)
        print(
            f"  CPU of each side, this process included (server or not, demo app, sandboxes,"
            f" pytest, drivers, Chromium):"
            f" {cpu_mine:5.1f} s against {cpu_xdist:5.1f} s, {cpu_mine / cpu_xdist:.2f}x"
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
