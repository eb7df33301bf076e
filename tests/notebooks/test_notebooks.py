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


# Every notebook as `python notebooks/x.py` runs it (`app.run()` under `__main__`), one after
# the other in one process: the same script runs, and the imports (marimo, pandas, altair,
# SQLAlchemy), most of each notebook's time, are paid once instead of seven times.
RUN_AS_SCRIPTS = """
import runpy, sys
for path in sys.argv[1:]:
    print(f"== {path}", file=sys.stderr, flush=True)
    runpy.run_path(path, run_name="__main__")
"""


async def run_as_scripts(notebooks: list[Path], env: dict[str, str]) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        RUN_AS_SCRIPTS,
        *map(str, notebooks),
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), SCRIPT_TIMEOUT_S)
    return process.returncode or 0, stderr.decode(errors="replace")


# One backend is enough here: notebooks only call services, which every other test runs on
# both.
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_every_notebook_runs_as_a_script_as_the_local_user(settings: Settings) -> None:
    workspace = await seed_workspace(settings)
    code, stderr = await run_as_scripts(NOTEBOOKS, notebook_env(settings, workspace.email))
    assert code == 0, stderr[-3000:]
    # Every notebook ran: a cell that raises stops the loop there, with its traceback.
    assert [line for line in stderr.splitlines() if line.startswith("== ")] == [
        f"== {path}" for path in NOTEBOOKS
    ]
