"""`scriptflow push` then `scriptflow run` from a CI job, against a real server with a worker.

The server runs on loopback with two in-process workers executing against the demo app; the
suite goes in by push and runs in two shards; the command streams progress, prints every test,
writes the JUnit XML and exits 1 because one selected test fails.

The pushed folder is the fixture suite with one more test module, whose test needs no browser:
the selection is that test and a failing one in real Chromium, so one shard starts Chromium and
the other does not (a sandboxed run without a browser costs about a fifth of one with it).
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner, Result

from app.demo.server import DemoServer
from app.main import create_app
from app.threaded_server import ThreadedServer
from scriptflow.cli import cli
from scriptflow.runs.browsers import BrowserTarget
from scriptflow.runs.junit import parse_junit
from tests.factories import DEFAULT_PASSWORD
from tests.suites.conftest import SUITE
from tests.suites.junit_schema import assert_valid_junit
from tests.support.settings import settings_for

pytestmark = pytest.mark.browser


def scriptflow(config: Path, *args: str) -> Result:
    env = {"XDG_CONFIG_HOME": str(config), "SCRIPTFLOW_PASSWORD": DEFAULT_PASSWORD}
    return CliRunner().invoke(cli, list(args), env=env)


DATA_TEST = "tests/test_data.py::test_every_invalid_account_has_a_password"
DATA_MODULE = """import json
from pathlib import Path


def test_every_invalid_account_has_a_password() -> None:
    data = Path(__file__).parents[1] / "data" / "accounts.json"
    assert all(account["password"] for account in json.loads(data.read_text())["invalid"])
"""


def test_push_then_run_sharded_from_ci_writes_junit_and_fails_the_job(
    tmp_path: Path, sqlite_template: Path, demo: DemoServer, chromium: BrowserTarget
) -> None:
    folder = tmp_path / "suite"
    shutil.copytree(SUITE, folder, ignore=shutil.ignore_patterns("__pycache__"))
    (folder / "tests" / "test_data.py").write_text(DATA_MODULE)
    shutil.copyfile(sqlite_template, tmp_path / "scriptflow.db")
    settings = settings_for(
        f"sqlite+aiosqlite:///{tmp_path / 'scriptflow.db'}", tmp_path, workers=2
    )
    with ThreadedServer(create_app(settings)) as server:
        email = f"ci-{uuid.uuid4().hex[:10]}@example.com"
        r = httpx.post(
            f"{server.base_url}/v1/auth/register",
            json={"email": email, "password": DEFAULT_PASSWORD},
        )
        assert r.status_code == 201, r.text
        login = httpx.post(
            f"{server.base_url}/v1/auth/login", json={"email": email, "password": DEFAULT_PASSWORD}
        )
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        project = f"Shop {uuid.uuid4().hex[:6]}"
        project_id = httpx.post(
            f"{server.base_url}/v1/projects", json={"name": project}, headers=headers
        ).json()["id"]
        r = httpx.post(
            f"{server.base_url}/v1/projects/{project_id}/environments",
            json={"name": "demo", "base_url": demo.base_url},
            headers=headers,
        )
        assert r.status_code == 201, r.text
        config = tmp_path / "config"
        result = scriptflow(config, "login", "--server", server.base_url, "--email", email)
        assert result.exit_code == 0, result.output
        result = scriptflow(config, "push", str(folder), "--project", project)
        assert result.exit_code == 0, result.output

        junit = tmp_path / "report.xml"
        result = scriptflow(
            config,
            "run",
            "--project",
            project,
            "--environment",
            "demo",
            "--select",
            DATA_TEST,
            "--select",
            "tests/test_cart.py::test_cart_total_is_shown[chromium]",
            "--shards",
            "2",
            "--junit",
            str(junit),
            "--timeout",
            "240",
        )
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("run ") and "(sharded, 2 shard(s))" in lines[0]
    assert "[queued]" in lines[1] or "[running]" in lines[1]
    assert any(line.startswith("[failed]") for line in lines)
    assert "failed   tests/test_cart.py::test_cart_total_is_shown[chromium]" in lines
    assert f"passed   {DATA_TEST}" in lines
    assert_valid_junit(junit.read_bytes())
    cases = {c.node_id: c.outcome for c in parse_junit(junit.read_bytes())}
    assert cases.pop("tests/test_cart.py::test_cart_total_is_shown[chromium]") == "failed"
    assert cases == {DATA_TEST: "passed"}
