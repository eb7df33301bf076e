"""`scriptflow demo`: a working installation with real history, from one command.

It migrates, creates a demo user and a project whose environment points at the demo web app on
loopback, adds a handful of scripts as people write them (some with hard waits and brittle
selectors), executes real runs, accepts the rules provider's enhancements, runs again so the
dashboard can say whether the fixes worked, and serves the API, dashboard and notebooks.
A second start finds the demo project and reuses its history.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from app.demo.seeding import (
    DEFAULT_PASSWORD,
    FLAKY_RATE,
    build_history,
    planned_runs,
    prepare_workspace,
    sync_analytics,
)
from app.demo.seeding_status import write_status
from scriptflow.config import Settings
from scriptflow.db.engine import create_engine
from scriptflow.errors import ScriptflowError
from scriptflow.wiring import wired_sessionmaker


def describe_error(exc: ScriptflowError) -> str:
    """One line for the terminal."""
    return f"{exc.code}: {exc.message}"


def run_demo(
    settings: Settings,
    *,
    email: str,
    password: str,
    host: str,
    port: int,
    echo: Callable[[str], None] = print,
) -> None:
    """Prepare (or reuse) the demo, then serve until interrupted."""
    asyncio.run(_demo(settings, email=email, password=password, host=host, port=port, echo=echo))


async def _demo(
    settings: Settings,
    *,
    email: str,
    password: str,
    host: str,
    port: int,
    echo: Callable[[str], None],
) -> None:
    import uvicorn
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from app.demo.server import DemoServer

    target = DemoServer(port=settings.demo_app_port, flaky_rate=FLAKY_RATE).start()
    try:
        workspace = await prepare_workspace(
            settings, email=email, password=password, demo_base_url=target.base_url
        )
        # By import string, as `scriptflow serve` does: the same settings (and log level, which
        # `scriptflow demo` keeps at warnings unless SCRIPTFLOW_LOG_LEVEL asks for more).
        server = uvicorn.Server(
            uvicorn.Config("app.main:app", host=host, port=port, log_level="warning")
        )
        serving = asyncio.create_task(server.serve())
        while not server.started:
            if serving.done():
                serving.result()
                raise SystemExit(f"scriptflow demo could not listen on {host}:{port}")
            await asyncio.sleep(0.05)
        # The server answers now: say where and as whom at once; the history (real runs,
        # a minute or two on a first start) is built while it serves.
        base = f"http://{host}:{port}"
        echo("")
        echo(f"  Dashboard  {base}/dashboard/")
        echo(f"  Notebooks  {base}/notebooks/review/  (generate, enhance, review, run, insights)")
        echo(f"  Runs       {base}/notebooks/runs/")
        echo(f"  API        {base}/docs")
        shown = password if password == DEFAULT_PASSWORD else "(the password you gave)"
        echo(f"  Sign in as {workspace.email} / {shown}")
        echo("")
        if workspace.finished_runs >= planned_runs(workspace):
            echo(f"Reusing the demo history ({workspace.finished_runs} finished runs).")
            engine = create_engine(settings.resolved_database_url)
            try:
                await sync_analytics(wired_sessionmaker(engine, settings), settings)
            finally:
                await engine.dispose()
        else:
            echo(f"Building history: real runs in Chromium against {target.base_url}")
            with Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn()
            ) as bar:
                task = bar.add_task("runs", total=planned_runs(workspace))
                # The dashboard says how far it is (it reads this file from the data dir).
                write_status(settings.data_dir, 0, planned_runs(workspace))

                def advance(done: int, total: int, label: str) -> None:
                    bar.update(task, completed=done, total=total, description=label)
                    write_status(settings.data_dir, done, total)
                    if not bar.console.is_terminal:  # a log file gets one line per run
                        echo(label)

                try:
                    for note in await build_history(settings, workspace, advance):
                        echo(note)
                except ScriptflowError as exc:
                    echo(f"Could not build the history: {describe_error(exc)}")
                finally:
                    write_status(settings.data_dir, 0, 0, finished=True)
        echo("Ready. Press Ctrl+C to stop.")
        await serving
    finally:
        target.stop()
