"""The shared fixture suite, uploaded into a project, and the same folder under plain pytest."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx

from scriptflow.runs.browsers import BrowserTarget
from tests.factories import Account
from tests.runs.conftest import chromium, demo

__all__ = ["chromium", "demo"]  # the demo app and real Chromium, as the run tests have them

SUITE = Path(__file__).parents[1] / "fixtures" / "suite"

# pytest-playwright finds no browser of its own here: point its launch at the system Chromium.
LAUNCH_PLUGIN = """
import pytest

@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": %r, "args": %r}
"""


def suite_files(root: Path = SUITE) -> dict[str, str]:
    """The suite's files by tree path, as a user's repository holds them."""
    return {
        path.relative_to(root).as_posix(): path.read_text(encoding="utf-8")
        for path in sorted(root.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


async def upload_suite(
    client: httpx.AsyncClient, account: Account, files: dict[str, str] | None = None
) -> dict[str, str]:
    """Every file (the fixture suite's by default) into the account's project; path → id."""
    ids = {}
    for path, content in (suite_files() if files is None else files).items():
        r = await client.post(
            "/v1/scripts",
            json={
                "project_id": account.project_id,
                "title": path,
                "content": content,
                "path": path,
            },
            headers=account.headers,
        )
        assert r.status_code == 201, r.text
        ids[path] = r.json()["id"]
    return ids


def plain_pytest(
    tmp: Path, base_url: str, chromium: BrowserTarget, *args: str, workers: int = 0
) -> tuple[Path, float]:
    """Run the suite's folder with plain pytest + pytest-playwright (xdist with ``workers``);
    returns its JUnit XML file and wall time."""
    import time

    suite = tmp / "suite"
    shutil.copytree(SUITE, suite, ignore=shutil.ignore_patterns("__pycache__"))
    plugins = tmp / "plugins"
    plugins.mkdir()
    (plugins / "system_chromium.py").write_text(
        LAUNCH_PLUGIN % (str(chromium.executable_path), list(chromium.launch_args))
    )
    junit = tmp / "plain.xml"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PYTEST")},
        "PYTHONPATH": str(plugins),
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    xdist = ["-p", "xdist.plugin", "-n", str(workers)] if workers else []
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "pytest_playwright.pytest_playwright",
        "-p",
        "system_chromium",
        "-p",
        "no:cacheprovider",
        *xdist,
        "--base-url",
        base_url,
        "--junitxml",
        str(junit),
        "-o",
        "junit_family=xunit2",
        "-q",
        *args,
    ]
    started = time.monotonic()
    subprocess.run(command, cwd=suite, env=env, capture_output=True, timeout=300, check=False)
    elapsed = time.monotonic() - started
    assert junit.exists(), "plain pytest wrote no JUnit report"
    return junit, elapsed
