"""Dashboard and notebook apps benchmark: navigation to interactive, in headless Chromium.

Two histories behind the same served app: a demo-sized one (a few dozen runs) and a synthetic
one of 1M runs with 10M step rows in the analytics warehouse. For each, a signed-in browser
navigates to /dashboard/ repeatedly; a navigation counts as done when every chart has drawn and
the headline numbers are on the page. On the demo-sized history every other app is measured
the same way, done when its last cell's output (the element a user acts on next) is on the
page. Goal: every app under 2.5 s, the dashboard at 1M runs too.

    .venv/bin/python benchmarks/dashboard.py [--runs 1000000] [--navigations 5] [--no-apps]
        [--cells] [--cold] [--compare] [--only /notebooks/run/ ...]

``--compare`` alternates every navigation between the kernel started with the page request
(``app.web.prestart``) and started when the frontend's websocket opens (marimo's own way),
and reports both, at the same load; it starts every app's kernel with its page, where the
server does so for the dashboard only.

``--cells`` also prints where each app's time goes on its last navigation: until the kernel's
first cell starts (page, assets, websocket, kernel start), the cells (the slowest named, from
the kernel's own cell-op messages on the websocket), and after the last cell until ready
(rendering, charts drawing).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.main import create_app  # noqa: E402
from app.threaded_server import ThreadedServer  # noqa: E402
from app.web import prestart  # noqa: E402
from benchmarks.synthetic_history import synthetic_batches  # noqa: E402
from scriptflow.config import Settings  # noqa: E402
from scriptflow.db import migrate  # noqa: E402
from scriptflow.db.engine import create_engine, create_sessionmaker, transaction  # noqa: E402
from scriptflow.insights.result_cache import RESULTS  # noqa: E402
from scriptflow.insights.warehouse import Warehouse  # noqa: E402
from scriptflow.projects.accounts import register  # noqa: E402
from scriptflow.projects.service import create_environment, member_project_ids  # noqa: E402
from scriptflow.runs.browsers import BrowserTarget, find_chromium  # noqa: E402
from scriptflow.scripts.service import create_script  # noqa: E402

EMAIL = "bench@example.com"
PASSWORD = "benchmark-password"
CHART = ".vega-embed canvas, .vega-embed svg.marks"
CHARTS = 7
GOAL_S = 2.5
# The two ways `--compare` alternates (shown after the page's path).
PRESTART = ""
AT_WEBSOCKET = " (kernel at websocket)"
# Each app's last output a user acts on, by the text it shows once its cells are done.
APP_READY = {
    "/notebooks/generate/": "Create script",
    "/notebooks/enhance/": "Propose changes",
    "/notebooks/review/": "No change sets",
    "/notebooks/run/": "No runs of this script yet.",
    "/notebooks/insights/": "Pick an insight",
    "/notebooks/runs/": "No runs match these filters.",
}


async def seed(settings: Settings, runs: int, scripts: int = 10) -> None:
    """A user with a project of `scripts` scripts and `runs` finished runs in the warehouse."""
    await asyncio.to_thread(migrate.upgrade, settings.resolved_database_url)
    engine = create_engine(settings.resolved_database_url)
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            user = await register(session, EMAIL, PASSWORD)
            project_id = (await member_project_ids(session, user.id))[0]
            await create_environment(
                session, user.id, project_id, name="staging", base_url="http://127.0.0.1:9"
            )
            script_ids = [
                str(
                    (
                        await create_script(
                            session,
                            user.id,
                            project_id=project_id,
                            title=f"Checkout {n}",
                            content=f"def test_{n}(page):\n    page.goto('/')\n",
                        )
                    ).id
                )
                for n in range(scripts)
            ]
    finally:
        await engine.dispose()
    warehouse = Warehouse.for_data_dir(settings.data_dir)
    try:
        for batch in synthetic_batches(
            project_id=str(project_id), script_ids=script_ids, runs=runs, steps_per_run=10
        ):
            warehouse.append(batch)
        warehouse.connection().execute("CHECKPOINT")
    finally:
        warehouse.close()


def chromium() -> BrowserTarget:
    """The Chromium that runs use, found the same way."""
    target = find_chromium(Settings())
    if target is None or target.executable_path is None:
        raise SystemExit("Chromium is not installed")
    return target


NOTEBOOK_FILES = {
    "/dashboard/": "dashboard.py",
    **{path: path.strip("/").split("/")[-1] + ".py" for path in APP_READY},
}


def cell_labels(path: str) -> dict[str, str]:
    """Each cell id of the app at ``path`` → its first line of code (run mode hides code)."""
    spec = importlib.util.spec_from_file_location(
        "bench_nb", ROOT / "notebooks" / NOTEBOOK_FILES[path]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    manager = module.app._cell_manager
    labels = {}
    for cell_id in manager.cell_ids():
        lines = [
            line.strip()
            for line in manager.cell_data_at(cell_id).code.splitlines()
            if line.strip() and not line.strip().startswith("#")
        ]
        labels[str(cell_id)] = (lines[0] if lines else "(empty)")[:70]
    return labels


class CellClock:
    """The kernel's cell-op messages of the page's marimo websocket: when each cell ran."""

    def __init__(self, page: object) -> None:
        self.events: list[tuple[float, str, str]] = []  # (kernel time, cell id, status)
        # Wall-clock moments of the page's start-up: the document parsed, the websocket
        # opened (the frontend booted), the kernel's first message (the session exists).
        self.moments: dict[str, float] = {}
        page.on("websocket", self._watch)  # type: ignore[attr-defined]
        page.on("domcontentloaded", lambda _page: self._mark("document"))  # type: ignore[attr-defined]

    def clear(self) -> None:
        self.events.clear()
        self.moments.clear()

    def _mark(self, name: str) -> None:
        self.moments.setdefault(name, time.time())

    def _watch(self, ws: object) -> None:
        self._mark("websocket")
        ws.on("framereceived", self._frame)  # type: ignore[attr-defined]

    def _frame(self, payload: str | bytes) -> None:
        self._mark("first message")
        try:
            message = json.loads(payload)
        except ValueError:
            return
        data = message.get("data", message) if isinstance(message, dict) else None
        if not isinstance(data, dict) or message.get("op") != "cell-op":
            return
        if data.get("status") in ("running", "idle") and "timestamp" in data:
            self.events.append((float(data["timestamp"]), str(data["cell_id"]), data["status"]))

    def report(self, started: float, ready: float, labels: dict[str, str]) -> list[str]:
        """Where one navigation's time went (wall clock, seconds from its start)."""
        runs: dict[str, float] = {}
        spent: dict[str, float] = {}
        for moment, cell, status in self.events:
            if status == "running":
                runs.setdefault(cell, moment)
            elif cell in runs:
                spent[cell] = spent.get(cell, 0.0) + moment - runs.pop(cell)
        if not self.events:
            return ["  (no cell-op messages seen)"]
        first = min(m for m, _, _ in self.events) - started
        last = max(m for m, _, _ in self.events) - started
        boot = " · ".join(
            f"{name} {moment - started:.2f} s" for name, moment in self.moments.items()
        )
        lines = [
            f"  {boot}",
            f"  first cell starts {first:.2f} s · last cell ends {last:.2f} s · "
            f"ready {ready - started:.2f} s · cells busy {sum(spent.values()):.2f} s",
        ]
        for cell, seconds in sorted(spent.items(), key=lambda kv: -kv[1])[:6]:
            lines.append(f"    {seconds:6.3f} s  {labels.get(cell, cell)}")
        return lines


async def measure(
    base_url: str,
    navigations: int,
    apps: bool,
    cells: bool = False,
    only: list[str] | None = None,
    loads: dict[str, float] | None = None,
    compare: bool = False,
    cold: bool = False,
) -> dict[str, list[float]]:
    """Seconds from navigation start to interactive, per page and navigation (after a warm-up).

    ``loads`` gets each page's highest 1-minute load average while it was measured: on a
    shared machine a figure means little without it. ``cold``: the process's warehouse result
    cache is emptied before every navigation, as on a first visit after new runs committed (a
    warm navigation answers from it).
    """
    loads = {} if loads is None else loads
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        target = chromium()
        browser = await pw.chromium.launch(
            executable_path=target.executable_path, headless=True, args=list(target.launch_args)
        )
        page = await browser.new_page(viewport={"width": 1400, "height": 1000})
        clock = CellClock(page) if cells else None
        await page.goto(base_url + "/login")
        await page.get_by_label("Email").fill(EMAIL)
        await page.get_by_label("Password").fill(PASSWORD)
        await page.get_by_role("button", name="Sign in").click()
        if only is None or "/dashboard/" in only:
            await page.locator(CHART).nth(CHARTS - 1).wait_for(timeout=120_000)  # warm-up
        else:
            await page.wait_for_url("**/dashboard/**")

        async def dashboard_ready() -> None:
            await page.locator(CHART).nth(CHARTS - 1).wait_for(timeout=120_000)
            await page.get_by_text("Finished runs").wait_for(timeout=120_000)

        def text_ready(text: str) -> Callable[[], Awaitable[None]]:
            async def ready() -> None:
                await page.get_by_text(text).first.wait_for(timeout=120_000)

            return ready

        pages: dict[str, Callable[[], Awaitable[None]]] = {"/dashboard/": dashboard_ready}
        if apps:
            pages.update({path: text_ready(text) for path, text in APP_READY.items()})
        if only is not None:
            pages = {path: ready for path, ready in pages.items() if path in only}
        variants = (PRESTART, AT_WEBSOCKET) if compare else (PRESTART,)
        if compare:  # every app, not only those the server starts with the page by default
            prestart.POLICY.apps = frozenset(path.rstrip("/") for path in pages)
        times: dict[str, list[float]] = {
            path + variant: [] for path in pages for variant in variants
        }
        for path, ready in pages.items():
            loads[path] = os.getloadavg()[0]
            if path != "/dashboard/" or only is not None:  # a warm-up: built on first request
                await page.goto(base_url + path)
                await ready()
            for round_ in range(navigations):
                # Alternated, and in turn first, so neither side gets the quieter moments.
                for variant in variants if round_ % 2 == 0 else variants[::-1]:
                    prestart.POLICY.enabled = variant == PRESTART
                    await page.goto("about:blank")
                    if cold:
                        RESULTS.clear()
                    if clock is not None:
                        clock.clear()
                    wall = time.time()  # the kernel stamps its messages with the wall clock
                    start = time.perf_counter()
                    await page.goto(base_url + path, wait_until="commit")
                    await ready()
                    times[path + variant].append(time.perf_counter() - start)
            prestart.POLICY.enabled = True
            loads[path] = max(loads[path], os.getloadavg()[0])
            if clock is not None:
                print(f"[{path}{variant}] last navigation:", flush=True)
                took = times[path + variant][-1]
                print("\n".join(clock.report(wall, wall + took, cell_labels(path))), flush=True)
                print(f"  {await navigation_timing(page)}", flush=True)
        await browser.close()
    return times


async def navigation_timing(page: object) -> str:
    """The page's own clock: when the HTML's first and last bytes came and the scripts ran."""
    timing = await page.evaluate(  # type: ignore[attr-defined]
        """() => {
            const n = performance.getEntriesByType("navigation")[0];
            return [n.responseStart, n.responseEnd, n.domInteractive, n.domContentLoadedEventEnd];
        }"""
    )
    names = ("html first byte", "html done", "dom interactive", "scripts ran")
    return " · ".join(f"{name} {ms / 1000:.2f} s" for name, ms in zip(names, timing, strict=True))


def run_scenario(
    label: str,
    runs: int,
    navigations: int,
    apps: bool,
    cells: bool = False,
    only: list[str] | None = None,
    compare: bool = False,
    cold: bool = False,
) -> list[tuple[str, str, int, list[float], float]]:
    data_dir = Path(tempfile.mkdtemp(prefix="sf-dash-bench-"))
    try:
        settings = Settings(data_dir=data_dir, JWT_SECRET="b" * 48, workers=0, DATABASE_URL=None)
        started = time.perf_counter()
        asyncio.run(seed(settings, runs))
        print(
            f"[{label}] seeded {runs:,} runs in {time.perf_counter() - started:.1f} s", flush=True
        )
        with ThreadedServer(create_app(settings, run_background=False)) as server:
            loads: dict[str, float] = {}
            times = asyncio.run(
                measure(server.base_url, navigations, apps, cells, only, loads, compare, cold)
            )
        return [
            (label, name, runs, values, loads[name.removesuffix(AT_WEBSOCKET)])
            for name, values in times.items()
        ]
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--demo-runs", type=int, default=40)
    parser.add_argument("--navigations", type=int, default=5)
    parser.add_argument("--no-apps", action="store_true", help="measure the dashboard only")
    parser.add_argument("--no-large", action="store_true", help="skip the 1M-run history")
    parser.add_argument("--cells", action="store_true", help="where each app's time goes")
    parser.add_argument("--only", nargs="+", metavar="PATH", help="these pages (/dashboard/ …)")
    parser.add_argument(
        "--cold", action="store_true", help="empty the warehouse result cache before each visit"
    )
    parser.add_argument(
        "--compare", action="store_true", help="alternate with the kernel started at websocket"
    )
    args = parser.parse_args()
    results = run_scenario(
        "demo history",
        args.demo_runs,
        args.navigations,
        not args.no_apps,
        args.cells,
        args.only,
        args.compare,
        args.cold,
    )
    if not args.no_large:
        results += run_scenario(
            "large history",
            args.runs,
            args.navigations,
            False,
            args.cells,
            None,
            args.compare,
            args.cold,
        )
    print()
    print(
        f"{'history':<15}{'page':<44}{'runs':>11}{'median s':>10}{'best s':>9}{'worst s':>9}"
        f"{'load':>6}  goal"
    )
    for label, path, runs, times, load in results:
        median = statistics.median(times)
        verdict = "ok" if median < GOAL_S else f"over {GOAL_S} s"
        print(
            f"{label:<15}{path:<44}{runs:>11,}{median:>10.2f}{min(times):>9.2f}"
            f"{max(times):>9.2f}{load:>6.1f}  {verdict}"
        )
    print(
        f"({args.navigations} navigations each, after a warm-up; load: the highest 1-minute "
        f"load average while the page was measured, on {os.cpu_count()} cores)"
    )


if __name__ == "__main__":
    main()
