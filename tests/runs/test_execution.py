"""Real Chromium runs against the demo app, through the executor (one process group each)."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
import zipfile
from pathlib import Path

import pytest

from app.demo.server import DemoServer
from scriptflow.runs.browsers import BrowserTarget
from scriptflow.runs.executor import (
    TIMEOUT_WRAP_UP_GRACE_S,
    ExecutionResult,
    RunRequest,
    SubprocessExecutor,
)
from tests.runs.conftest import CODEGEN_SCRIPT, LOGIN_TEST, MISSING_BUTTON_TEST

pytestmark = pytest.mark.browser


async def execute(
    script: str,
    demo: DemoServer,
    chromium: BrowserTarget,
    tmp_path: Path,
    *,
    cancel: asyncio.Event | None = None,
    **options: object,
) -> ExecutionResult:
    request = RunRequest(
        script=script,
        base_url=demo.base_url,
        browser=chromium,
        workdir=tmp_path / "run",
        **options,  # type: ignore[arg-type]
    )
    return await SubprocessExecutor().execute(request, cancel or asyncio.Event())


def artifact(result: ExecutionResult, name: str) -> Path:
    found = {a.name: a.path for a in result.artifacts}
    assert name in found, sorted(found)
    return found[name]


async def test_passing_test_reports_steps_and_a_trace(
    demo: DemoServer, chromium: BrowserTarget, tmp_path: Path
) -> None:
    result = await execute(LOGIN_TEST, demo, chromium, tmp_path)
    assert result.status == "passed", result.error
    (test,) = result.tests
    assert (test.name, test.outcome, test.attempts) == ("test_login", "passed", 1)
    assert [(s.action, s.locator) for s in test.steps] == [
        ("goto", None),
        ("fill", 'get_by_label("Username")'),
        ("fill", 'get_by_label("Password")'),
        ("click", 'get_by_role("button", name="Log in")'),
        ("expect.to_have_text", 'locator("#welcome")'),
    ]
    assert all(s.outcome == "passed" and s.duration_ms >= 0 for s in test.steps)
    with zipfile.ZipFile(artifact(result, "trace.zip")) as trace:
        assert {"trace.trace", "trace.network"} <= set(trace.namelist())


async def test_failure_names_the_locator_and_action_with_a_screenshot(
    demo: DemoServer, chromium: BrowserTarget, tmp_path: Path
) -> None:
    result = await execute(MISSING_BUTTON_TEST, demo, chromium, tmp_path)
    assert result.status == "failed"
    (test,) = result.tests
    assert test.outcome == "failed"
    assert test.error is not None
    assert test.error.startswith('click on locator("#submit-order") failed:')
    assert "Timeout 1000ms exceeded" in test.error
    assert (
        test.steps[-1].outcome == "failed" and test.steps[-1].locator == 'locator("#submit-order")'
    )
    assert artifact(result, "screenshot.png").read_bytes().startswith(b"\x89PNG")
    assert "demo app loaded" in artifact(result, "console.log").read_text()


async def test_codegen_script_runs_headless_on_the_configured_browser(
    demo: DemoServer, chromium: BrowserTarget, tmp_path: Path
) -> None:
    # The script launches with headless=False; there is no display here, so a headed launch
    # would fail: passing proves the runner forced headless on the configured browser.
    result = await execute(CODEGEN_SCRIPT, demo, chromium, tmp_path)
    assert result.status == "passed", result.error
    (test,) = result.tests
    assert test.name == "test_codegen_script"
    assert [s.action for s in test.steps][-2:] == ["click", "expect.to_contain_text"]
    artifact(result, "trace.zip")


async def test_failed_then_passed_is_flaky_with_both_attempts_recorded(
    demo: DemoServer, chromium: BrowserTarget, tmp_path: Path
) -> None:
    script = (
        "import os\n\n"
        "def test_sometimes(page):\n"
        "    page.goto('/flaky')\n"
        "    first = not os.path.exists('attempted')\n"
        "    open('attempted', 'w').close()\n"
        "    assert not first, 'first attempt fails'\n"
    )
    result = await execute(script, demo, chromium, tmp_path, retries=2)
    assert result.status == "passed"
    (test,) = result.tests
    assert (test.outcome, test.attempts) == ("flaky", 2)
    assert "first attempt fails" in (test.error or "")
    assert sorted({s.attempt for s in test.steps}) == [1, 2]


async def test_a_retry_gets_a_fresh_test_class_instance_so_leaked_state_is_no_pass(
    demo: DemoServer, chromium: BrowserTarget, tmp_path: Path
) -> None:
    # Passes only if a previous attempt's state is still on `self`: reusing the instance would
    # report this always-failing test as flaky.
    script = (
        "class TestCheckout:\n"
        "    def test_pays(self, page):\n"
        "        page.goto('/')\n"
        "        attempted_before = getattr(self, 'attempted', False)\n"
        "        self.attempted = True\n"
        "        assert attempted_before, 'a fresh instance never passes'\n"
    )
    result = await execute(script, demo, chromium, tmp_path, retries=2)
    assert result.status == "failed"
    (test,) = result.tests
    assert (test.outcome, test.attempts) == ("failed", 3)
    assert "a fresh instance never passes" in (test.error or "")


def _group_alive(pgid: int, within_s: float = 3.0) -> bool:
    """Still there after a moment? (SIGKILLed members linger briefly until they are reaped.)"""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        time.sleep(0.1)
    return True


def _run_alive(marker: str) -> bool:
    """Any process of the run left? Its PID namespace (sandboxed) or process group (legacy)."""
    from tests.runs.test_escape import namespace_alive

    pgid, namespace = marker.split()
    assert (namespace, int(pgid)) != (os.readlink("/proc/self/ns/pid"), os.getpgid(0))
    if namespace != os.readlink("/proc/self/ns/pid"):
        return namespace_alive(namespace)
    return _group_alive(int(pgid))


# The run may write only in its own folder: it leaves its process group id in the artifacts.
HANGING_SCRIPT = (
    "import os, time\n\n"
    "def test_hang(page):\n"
    "    page.goto('/delayed?ms=60000')\n"
    "    marker = f\"{os.getpgid(0)} {os.readlink('/proc/self/ns/pid')}\"\n"
    "    open('../artifacts/pgid', 'w').write(marker)\n"
    "    time.sleep(120)\n"
)


async def test_timeout_kills_the_whole_process_group(
    demo: DemoServer, chromium: BrowserTarget, tmp_path: Path
) -> None:
    pgid_file = tmp_path / "run" / "artifacts" / "pgid"
    started = time.monotonic()
    # 8 s: on a loaded 2-core machine the driver alone may take 3 s to start, and the test
    # must be inside its page when the timeout hits, for the trace and screenshot to exist.
    result = await execute(HANGING_SCRIPT, demo, chromium, tmp_path, timeout_s=8)
    assert time.monotonic() - started < 8 + TIMEOUT_WRAP_UP_GRACE_S + 10
    assert result.status == "failed" and result.timed_out
    assert "timed out after 8 s" in (result.error or "")
    assert result.tests[0].outcome == "failed"
    # The test that was running still left its trace and a screenshot of where it hung.
    assert {"trace.zip", "screenshot.png"} <= {a.name for a in result.artifacts}
    # Its own namespace (or group), not ours; Chromium and the driver went with it.
    assert not _run_alive(pgid_file.read_text())


async def test_cancel_mid_run_stops_it_within_seconds(
    demo: DemoServer, chromium: BrowserTarget, tmp_path: Path
) -> None:
    pgid_file = tmp_path / "run" / "artifacts" / "pgid"
    cancel = asyncio.Event()
    task = asyncio.create_task(
        execute(HANGING_SCRIPT, demo, chromium, tmp_path, cancel=cancel, timeout_s=60)
    )
    for _ in range(200):
        if pgid_file.exists() and pgid_file.read_text():
            break
        await asyncio.sleep(0.05)
    cancel.set()
    cancelled_at = time.monotonic()
    result = await task
    assert time.monotonic() - cancelled_at < 5
    assert result.status == "cancelled"
    assert not _run_alive(pgid_file.read_text())


async def test_the_run_process_sees_none_of_the_server_secrets(
    demo: DemoServer, chromium: BrowserTarget, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in {
        "DATABASE_URL": "postgresql://user:hunter2@db/scriptflow",
        "JWT_SECRET": "j" * 48,
        "OPENAI_API_KEY": "sk-secret",
        "SCRIPTFLOW_BROWSER_WS_ENDPOINT": "ws://secret-token@browsers",
    }.items():
        monkeypatch.setenv(key, value)
    script = (
        "import os\n\n"
        "def test_environment_is_clean():\n"
        "    leaked = sorted(k for k in os.environ\n"
        "                    if k in ('DATABASE_URL', 'JWT_SECRET')\n"
        "                    or k.startswith(('OPENAI_', 'SCRIPTFLOW_')))\n"
        "    values = ' '.join(os.environ.values())\n"
        "    assert not leaked, leaked\n"
        "    assert 'hunter2' not in values and 'sk-secret' not in values\n"
    )
    result = await execute(script, demo, chromium, tmp_path)
    assert result.status == "passed", result.error


async def test_private_egress_can_be_blocked_in_the_browser_by_the_legacy_sandbox(
    demo: DemoServer, chromium: BrowserTarget, tmp_path: Path
) -> None:
    # In namespaces the egress proxy decides (tests/runs/test_egress.py); the legacy sandbox
    # of development machines without bubblewrap still guards the browser's routes.
    from scriptflow.runs.isolation import Isolation

    request = RunRequest(
        script=LOGIN_TEST,
        base_url=demo.base_url,
        browser=chromium,
        workdir=tmp_path / "run",
        block_private_egress=True,
    )
    executor = SubprocessExecutor(isolation_mode=Isolation("legacy", "chosen by the test"))
    result = await executor.execute(request, asyncio.Event())
    assert result.status == "failed"
    assert "ERR_BLOCKED_BY_CLIENT" in (result.tests[0].error or "")
    assert "egress blocked" in artifact(result, "console.log").read_text()


async def test_a_relative_data_dir_works(
    demo: DemoServer, chromium: BrowserTarget, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scriptflow.runs.details import artifact_rows

    monkeypatch.chdir(tmp_path)
    request = RunRequest(
        script="def test_quick():\n    print('hello')\n",
        base_url=demo.base_url,
        browser=chromium,
        workdir=Path("data/runs/r1"),
    )
    result = await SubprocessExecutor().execute(request, asyncio.Event())
    assert result.status == "passed", result.error
    rows = artifact_rows(uuid.uuid4(), result, Path("data"))
    assert [r.path for r in rows] == ["runs/r1/store/output.log"]


async def test_artifacts_are_size_capped(
    demo: DemoServer, chromium: BrowserTarget, tmp_path: Path
) -> None:
    script = (
        "def test_chatty(page):\n"
        "    page.goto('/')\n"
        "    page.evaluate(\"for (let i = 0; i < 300; i++) console.log('x'.repeat(100))\")\n"
    )
    result = await execute(script, demo, chromium, tmp_path, artifact_max_bytes=4096)
    assert result.status == "passed", result.error
    console = next(a for a in result.artifacts if a.name == "console.log")
    assert console.truncated and console.path.stat().st_size <= 4096
    assert "truncated at the size cap" in console.path.read_text()
    assert "trace.zip" not in {a.name for a in result.artifacts}
    assert any("exceeds the cap" in note for note in result.omitted_artifacts)


async def test_hand_written_selectors_leave_locator_hints_for_enhancement(
    demo: DemoServer, chromium: BrowserTarget, tmp_path: Path
) -> None:
    from scriptflow.enhance.hints import hints_from_run_results
    from scriptflow.runs.worker import results_document

    script = (
        "def test_login(page):\n"
        "    page.goto('/login')\n"
        "    page.fill('#username', 'demo')\n"
        "    page.locator('form').locator('#password').fill('demo-password')\n"
        "    page.get_by_role('button', name='Log in').click()\n"
    )
    result = await execute(script, demo, chromium, tmp_path)
    assert result.status == "passed", result.error
    hints = hints_from_run_results(results_document(result, 1))
    # A chain is keyed by its last call's selector; get_by_* needs no hint.
    assert set(hints) == {"#username", "#password"}
    assert (hints["#username"].role, hints["#username"].name) == ("textbox", "Username")
    assert (hints["#password"].role, hints["#password"].name) == ("textbox", "Password")
    assert [s.action for s in result.tests[0].steps] == ["goto", "fill", "fill", "click"]


async def test_the_run_process_cannot_read_the_data_dir_or_the_source_tree(
    demo: DemoServer, chromium: BrowserTarget, tmp_path: Path
) -> None:
    from scriptflow.runs.sandbox import landlock_abi

    if landlock_abi() < 1:
        pytest.skip("the kernel has no Landlock")  # the sandbox is best effort by design
    data = tmp_path / "data"
    secret = data / ".jwt_secret"
    data.mkdir()
    secret.write_text("s" * 48)
    repo_file = Path(__file__).resolve().parents[2] / "pyproject.toml"
    script = (
        "import os, pytest\n\n"
        "def test_confined():\n"
        f"    for path in ({str(secret)!r}, {str(repo_file)!r}):\n"
        "        with pytest.raises((PermissionError, FileNotFoundError)):\n"
        "            open(path).read()\n"
        "    open('mine.txt', 'w').write('ok')  # its own folder stays writable\n"
    )
    request = RunRequest(
        script=script, base_url=demo.base_url, browser=chromium, workdir=data / "runs" / "r1"
    )
    result = await SubprocessExecutor().execute(request, asyncio.Event())
    assert result.status == "passed", result.error
