"""The executor's pure parts: the run environment and how outcomes become a status."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from scriptflow.runs.executor import (
    INHERITED_ENV,
    interpret,
    plugin_config,
    run_environment,
    sandbox_environment,
)

SECRETS = {
    "DATABASE_URL": "postgresql://u:p@db/x",
    "JWT_SECRET": "s" * 48,
    "OPENAI_API_KEY": "sk-test",
    "OPENAI_BASE_URL": "http://llm",
    "SCRIPTFLOW_BROWSER_WS_ENDPOINT": "ws://token@remote",
    "AWS_SECRET_ACCESS_KEY": "x",
}
FIXED = {"HOME", "TMPDIR", "PYTHONPATH", "PYTHONNOUSERSITE", "PYTHONDONTWRITEBYTECODE"}


def test_run_environment_holds_none_of_the_server_secrets(tmp_path: Path) -> None:
    env = run_environment({**SECRETS, "PATH": "/usr/bin", "LANG": "C.UTF-8"}, tmp_path, tmp_path)
    assert not set(SECRETS) & set(env)
    assert env["PATH"] == "/usr/bin"
    assert env["HOME"].startswith(str(tmp_path))


def test_the_sandbox_environment_sends_every_client_through_the_egress_bridge() -> None:
    env = sandbox_environment({**SECRETS, "PATH": "/usr/bin", "NO_PROXY": "*"})
    assert not set(SECRETS) & set(env)
    assert "NO_PROXY" not in env and "no_proxy" not in env
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        assert env[name] == "http://127.0.0.1:3128"
    assert env["PYTHONPATH"] == "/run/scriptflow/python"


def test_a_sandboxed_browser_goes_through_the_proxy_even_for_loopback(tmp_path: Path) -> None:
    from scriptflow.runs.browsers import BrowserTarget
    from scriptflow.runs.executor import RunRequest

    request = RunRequest(
        script="",
        base_url="http://127.0.0.1:9",
        browser=BrowserTarget("chromium", "system", Path("/usr/bin/chromium")),
        workdir=tmp_path,
        block_private_egress=True,
    )
    sandboxed = plugin_config(request, tmp_path, tmp_path, isolated=True)
    assert sandboxed["proxy_server"] == "http://127.0.0.1:3128"
    assert sandboxed["block_private_egress"] is False  # the proxy decides, for every client
    legacy = plugin_config(request, tmp_path, tmp_path)
    assert legacy["proxy_server"] is None
    assert legacy["block_private_egress"] is True


@given(st.dictionaries(st.from_regex(r"[A-Z_]{1,20}", fullmatch=True), st.text(max_size=5)))
def test_run_environment_is_an_allowlist(parent: dict[str, str]) -> None:
    env = run_environment(parent, Path("/work"), Path("/tmp/x"))
    allowed = set(INHERITED_ENV) | FIXED | {"PYTEST_DISABLE_PLUGIN_AUTOLOAD"}
    assert set(env) <= allowed
    for key in INHERITED_ENV:
        if key in parent:
            assert env[key] == parent[key]


def _interpret(raw: dict[str, object], **kwargs: object) -> object:
    options: dict[str, object] = {
        "exit_code": 0,
        "timed_out": False,
        "cancelled": False,
        "timeout_s": 10.0,
        "duration_ms": 5,
    }
    options.update(kwargs)
    return interpret(raw, **options)  # type: ignore[arg-type]


def test_flaky_tests_pass_the_run_and_failures_fail_it() -> None:
    flaky = {"name": "t", "outcome": "flaky", "attempts": 2, "error": "boom"}
    result = _interpret({"tests": [flaky]})
    assert result.status == "passed"  # type: ignore[attr-defined]
    failed = {"name": "u", "outcome": "failed", "attempts": 1, "error": "click on #x failed"}
    result = _interpret({"tests": [flaky, failed]}, exit_code=1)
    assert result.status == "failed"  # type: ignore[attr-defined]
    assert result.error == "u: click on #x failed"  # type: ignore[attr-defined]


def test_a_killed_run_reports_the_test_it_was_in() -> None:
    running = {"name": "slow", "outcome": "running", "attempts": 1}
    result = _interpret({"tests": [running]}, exit_code=-9, timed_out=True)
    assert result.status == "failed"  # type: ignore[attr-defined]
    assert "timed out after 10 s" in result.error  # type: ignore[attr-defined]
    assert result.tests[0].outcome == "failed"  # type: ignore[attr-defined]
    result = _interpret({"tests": [running]}, exit_code=-9, cancelled=True)
    assert result.status == "cancelled"  # type: ignore[attr-defined]


def test_nothing_to_run_or_a_broken_module_is_an_error() -> None:
    assert _interpret({}, exit_code=5).status == "error"  # type: ignore[attr-defined]
    broken = _interpret({"collection_errors": ["ImportError: nope"]}, exit_code=2)
    assert broken.status == "error"  # type: ignore[attr-defined]
    assert "ImportError" in broken.error  # type: ignore[attr-defined]


def test_locator_hints_keep_role_name_and_test_id_only() -> None:
    from scriptflow.runs.worker import locator_hints_document

    raw = {
        "#pay": {"aria_snapshot": '- button "Pay now"', "test_id": "pay"},
        "div.x": {"aria_snapshot": "- generic"},
        ".gone": {"aria_snapshot": ""},
    }
    assert locator_hints_document(raw) == {
        "#pay": {"role": "button", "name": "Pay now", "test_id": "pay"},
        "div.x": {"role": "generic"},
    }


def test_a_manifest_the_run_forged_cannot_break_the_worker(tmp_path: Path) -> None:
    from scriptflow.runs.browsers import BrowserTarget
    from scriptflow.runs.executor import RunFolders, RunRequest, SubprocessExecutor
    from scriptflow.runs.isolation import Isolation

    work = tmp_path / "work"
    work.mkdir()
    (work / "results.json").write_text('{"tests": [{"name": "t", "steps": [{"evil": 1}]}]}')
    folders = RunFolders(tmp_path, work, tmp_path / "artifacts", tmp_path / "store", tmp_path)
    request = RunRequest(
        script="", base_url="http://127.0.0.1:9", browser=BrowserTarget("chromium", "x"),
        workdir=tmp_path,
    )  # fmt: skip
    executor = SubprocessExecutor(isolation_mode=Isolation("legacy", "test"))
    result = executor._collect(request, folders, 0, False, False, 5)
    assert (result.status, result.error) == ("error", "The run's results are malformed")
