"""Dashboard and notebook apps benchmark: navigation to interactive, in headless Chromium.

Two histories behind the same served app: a demo-sized one (a few dozen runs) and a synthetic
one of 1M runs with 10M step rows in the analytics warehouse. For each, a signed-in browser
navigates to /dashboard/ repeatedly; a navigation counts as done when every chart has drawn and
the headline numbers are on the page. On the demo-sized history every other app is measured
the same way, done when its last cell's output (the element a user acts on next) is on the
page. Goal: every app under 2.5 s, the dashboard at 1M runs too.

    .venv/bin/python benchmarks/dashboard.py [--runs 1000000] [--navigations 5] [--no-apps]
"""

from __future__ import annotations

import argparse
import asyncio
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
from benchmarks.synthetic_history import synthetic_batches  # noqa: E402
from scriptflow.config import Settings  # noqa: E402
from scriptflow.db import migrate  # noqa: E402
from scriptflow.db.engine import create_engine, create_sessionmaker, transaction  # noqa: E402
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


async def measure(base_url: str, navigations: int, apps: bool) -> dict[str, list[float]]:
    """Seconds from navigation start to interactive, per page and navigation (after a warm-up)."""
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        target = chromium()
        browser = await pw.chromium.launch(
            executable_path=target.executable_path, headless=True, args=list(target.launch_args)
        )
        page = await browser.new_page(viewport={"width": 1400, "height": 1000})
        await page.goto(base_url + "/login")
        await page.get_by_label("Email").fill(EMAIL)
        await page.get_by_label("Password").fill(PASSWORD)
        await page.get_by_role("button", name="Sign in").click()
        await page.locator(CHART).nth(CHARTS - 1).wait_for(timeout=120_000)  # warm-up

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
        times: dict[str, list[float]] = {path: [] for path in pages}
        for path, ready in pages.items():
            if path != "/dashboard/":  # one warm-up each: the app is built on first request
                await page.goto(base_url + path)
                await ready()
            for _ in range(navigations):
                await page.goto("about:blank")
                start = time.perf_counter()
                await page.goto(base_url + path, wait_until="commit")
                await ready()
                times[path].append(time.perf_counter() - start)
        await browser.close()
    return times


def run_scenario(
    label: str, runs: int, navigations: int, apps: bool
) -> list[tuple[str, str, int, list[float]]]:
    data_dir = Path(tempfile.mkdtemp(prefix="sf-dash-bench-"))
    try:
        settings = Settings(data_dir=data_dir, JWT_SECRET="b" * 48, workers=0, DATABASE_URL=None)
        started = time.perf_counter()
        asyncio.run(seed(settings, runs))
        print(
            f"[{label}] seeded {runs:,} runs in {time.perf_counter() - started:.1f} s", flush=True
        )
        with ThreadedServer(create_app(settings, run_background=False)) as server:
            times = asyncio.run(measure(server.base_url, navigations, apps))
        return [(label, path, runs, values) for path, values in times.items()]
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--demo-runs", type=int, default=40)
    parser.add_argument("--navigations", type=int, default=5)
    parser.add_argument("--no-apps", action="store_true", help="measure the dashboard only")
    args = parser.parse_args()
    results = [
        *run_scenario("demo history", args.demo_runs, args.navigations, not args.no_apps),
        *run_scenario("large history", args.runs, args.navigations, False),
    ]
    print()
    print(
        f"{'history':<15}{'page':<22}{'runs':>11}{'median s':>10}{'best s':>9}{'worst s':>9}  goal"
    )
    for label, path, runs, times in results:
        median = statistics.median(times)
        verdict = "ok" if median < GOAL_S else f"over {GOAL_S} s"
        print(
            f"{label:<15}{path:<22}{runs:>11,}{median:>10.2f}{min(times):>9.2f}"
            f"{max(times):>9.2f}  {verdict}"
        )
    print(f"({args.navigations} navigations each, after a warm-up)")


if __name__ == "__main__":
    main()
