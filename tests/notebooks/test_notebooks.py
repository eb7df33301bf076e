"""Every notebook runs as a plain script against a seeded database and passes `marimo check`."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scriptflow.config import Settings
from tests.notebooks.workspace import seed_workspace

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.py"))
SCRIPT_TIMEOUT_S = 120


def test_every_step_has_a_notebook() -> None:
    names = {path.stem for path in NOTEBOOKS}
    assert {"generate", "enhance", "review", "run", "insights", "dashboard"} <= names


def test_marimo_check_passes_on_every_notebook() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "marimo", "check", "--strict", *map(str, NOTEBOOKS)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def notebook_env(settings: Settings, email: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "JWT_SECRET")}
    env.update(
        DATABASE_URL=settings.resolved_database_url,
        SCRIPTFLOW_DATA_DIR=str(settings.data_dir),
        SCRIPTFLOW_LOCAL_USER=email,
        PYTHONPATH=str(ROOT),
    )
    return env


async def run_as_script(notebook: Path, env: dict[str, str]) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(notebook),
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), SCRIPT_TIMEOUT_S)
    return process.returncode or 0, stderr.decode(errors="replace")


# One backend is enough here: notebooks only call services, which every other test runs on
# both; six notebook processes per backend would double the suite's slowest test.
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_every_notebook_runs_as_a_script_as_the_local_user(settings: Settings) -> None:
    workspace = await seed_workspace(settings)
    env = notebook_env(settings, workspace.email)
    # Two at a time: each is mostly imports, and the machine has two cores.
    slots = asyncio.Semaphore(2)

    async def one(notebook: Path) -> tuple[Path, int, str]:
        async with slots:
            return (notebook, *await run_as_script(notebook, env))

    for notebook, code, stderr in await asyncio.gather(*map(one, NOTEBOOKS)):
        assert code == 0, f"{notebook.name}:\n{stderr[-3000:]}"
