"""`scriptflow run`: start a suite run from CI, follow it, exit non-zero when a test fails.

It talks to the server the stored login names (``scriptflow login``), polls the run until it
ends while printing each change, prints every test, optionally writes the run's JUnit XML, and
exits 0 only when the run passed (1 when tests failed, 2 when the run itself could not finish).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from scriptflow.client.api import ServerClient, ServerError
from scriptflow.client.credentials import NotLoggedIn, load_credentials

POLL_S = 1.0
TERMINAL = {"passed", "failed", "error", "cancelled"}


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=code)


def exit_code(status: str) -> int:
    """0 passed, 1 failed tests, 2 the run did not finish (error, cancelled)."""
    return {"passed": 0, "failed": 1}.get(status, 2)


def follow(client: ServerClient, run_id: str, *, timeout_s: float, poll_s: float = POLL_S) -> Any:
    """Poll a run until it ends, printing each status (and each shard's) as it changes."""
    deadline = time.monotonic() + timeout_s
    last: tuple[str, ...] = ()
    while True:
        run = client.get_json(f"/v1/test-runs/{run_id}")
        summary = (run.get("results") or {}).get("summary") or {}
        seen = (run["status"], str(summary.get("total", "")))
        if seen != last:
            counts = ", ".join(f"{k} {v}" for k, v in summary.items() if v and k != "total")
            typer.echo(f"[{run['status']}] {counts}".rstrip())
            last = seen
        if run["status"] in TERMINAL:
            return run
        if time.monotonic() > deadline:
            raise _fail(f"run {run_id} still {run['status']} after {timeout_s:g} s")
        time.sleep(poll_s)


def run_command(
    project: Annotated[str, typer.Option("--project", help="The project's name")],
    environment: Annotated[str, typer.Option("--environment", help="The environment's name")],
    select: Annotated[
        list[str] | None,
        typer.Option("--select", help="A tree path or node id (repeat for more)"),
    ] = None,
    keyword: Annotated[str | None, typer.Option("-k", help="pytest -k expression")] = None,
    markers: Annotated[str | None, typer.Option("-m", help="pytest -m expression")] = None,
    shards: Annotated[int, typer.Option("--shards", min=1, max=16)] = 1,
    retries: Annotated[int, typer.Option("--retries", min=0, max=5)] = 0,
    browser: Annotated[str, typer.Option("--browser")] = "chromium",
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="Follow the run to its end")
    ] = True,
    junit: Annotated[
        Path | None, typer.Option("--junit", help="Write the run's JUnit XML here")
    ] = None,
    timeout_s: Annotated[float, typer.Option("--timeout", help="Give up after (s)")] = 3600,
) -> None:
    """Run a project's suite (or a selection) on the server, for CI pipelines."""
    try:
        with ServerClient(load_credentials()) as client:
            body: dict[str, Any] = {
                "project_id": client.project_id(project),
                "environment": environment,
                "browser": browser,
                "shards": shards,
                "retries": retries,
            }
            if select:
                body["select"] = select
            if keyword:
                body["k"] = keyword
            if markers:
                body["markers"] = markers
            created = client.request("POST", "/v1/test-runs", json=body).json()
            typer.echo(f"run {created['id']} queued ({created['kind']}, {shards} shard(s))")
            if not wait:
                return
            run = follow(client, created["id"], timeout_s=timeout_s)
            for test in run.get("tests") or []:
                typer.echo(f"{test['outcome']:<8} {test.get('nodeid') or test['name']}")
            if run.get("error"):
                typer.echo(run["error"], err=True)
            if junit is not None:
                document = client.request("GET", f"/v1/test-runs/{run['id']}/junit.xml").content
                junit.write_bytes(document)
                typer.echo(f"JUnit XML written to {junit}")
    except (NotLoggedIn, ServerError, httpx.HTTPError) as exc:
        raise _fail(str(exc)) from exc
    raise typer.Exit(code=exit_code(run["status"]))
