"""The pytest hooks of a run process: results per test, retries, and an orderly stop.

``pytest_configure`` reads ``--scriptflow-config``, keeps the recorder in ``config.stash`` and
registers a `RunSession` whose methods are the hooks, the way pytest's own ``junitxml`` keeps its
state; nothing lives in a module global.

Retries follow pytest-rerunfailures: each attempt gets a fresh test-class instance, failed
fixture results and failed setup state are forgotten, so what a failed attempt left behind
cannot make the next one pass ("failed then passed" is reported as flaky).
"""

from __future__ import annotations

import contextlib
import json
import re
import signal
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest
from _pytest.runner import runtestprotocol
from playwright.sync_api import Playwright

from scriptflow.runs.engine.playwright_patches import PlaywrightProxy, install_patches
from scriptflow.runs.engine.record import (
    MAX_ERROR_CHARS,
    Recorder,
    RunConfig,
    StepRecord,
    TestRecord,
    first_line,
)

RECORDER_KEY = pytest.StashKey[Recorder]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--scriptflow-config", action="store", default=None)


def pytest_configure(config: pytest.Config) -> None:
    path = config.getoption("--scriptflow-config")
    if not path:
        return
    recorder = Recorder(RunConfig(**json.loads(Path(path).read_text())))
    config.stash[RECORDER_KEY] = recorder
    install_patches(recorder)
    config.pluginmanager.register(RunSession(recorder), "scriptflow-run-session")
    signal.signal(signal.SIGTERM, _interrupt)
    recorder.write()


def run_config(config: pytest.Config) -> RunConfig:
    """The run's configuration, or the defaults when the plugin was not configured."""
    recorder = config.stash.get(RECORDER_KEY, None)
    return recorder.config if recorder else RunConfig(results_path="", artifacts_dir=".")


def configured_playwright(playwright: Playwright, config: pytest.Config) -> PlaywrightProxy:
    """Hand a codegen script the session's Playwright with the configured browser everywhere."""
    return PlaywrightProxy(playwright, run_config(config).browser)


def _interrupt(_signum: int, _frame: object) -> None:
    # The executor's timeout or a cancel: end the session the way Ctrl+C does, so that
    # pytest_sessionfinish saves what the running test had (trace, screenshot, results).
    raise KeyboardInterrupt


def test_display_name(item: pytest.Item) -> str:
    """``test_login`` rather than ``test_script.py::test_login[chromium]``."""
    name = item.nodeid.split("::", 1)[-1]
    name = re.sub(r"\[(chromium|firefox|webkit)\]$", "", name)
    return re.sub(r"-(chromium|firefox|webkit)\]$", "]", name)


class RunSession:
    """The hooks of one configured run, around its recorder."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.recorder.collection_errors.append(str(report.longrepr)[-MAX_ERROR_CHARS:])
            self.recorder.write()

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(
        self, session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        """A shard keeps its part of what every shard collected (after -k/-m deselected)."""
        shard = self.recorder.config.shard
        if not shard:
            return
        from scriptflow.runs.shards import shard_part

        durations = {str(k): int(v) for k, v in dict(shard.get("durations") or {}).items()}
        node_ids = [item.nodeid for item in items]
        mine = shard_part(node_ids, durations, int(shard["index"]), int(shard["count"]))
        kept = [item for item in items if item.nodeid in mine]
        deselected = [item for item in items if item.nodeid not in mine]
        if deselected:
            config.hook.pytest_deselected(items=deselected)
        items[:] = kept

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, Any, None]:
        outcome = yield
        report: pytest.TestReport = outcome.get_result()
        if call.excinfo is not None:
            report._scriptflow_exc = call.excinfo.exconly()[:MAX_ERROR_CHARS]  # type: ignore[attr-defined]
        if report.when in ("setup", "call") and report.failed:
            self.recorder.test_failed = True

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> Generator[None, Any, None]:
        # Before fixtures close their contexts: stop traces and screenshot failing pages.
        with contextlib.suppress(Exception):
            self.recorder.finish_all_contexts(failed=self.recorder.test_failed)
        yield

    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> bool:
        recorder = self.recorder
        record = TestRecord(name=test_display_name(item), nodeid=item.nodeid)
        recorder.tests.append(record)
        recorder.current = record
        recorder.write()
        recorder.progress.test_started(record)
        started = time.perf_counter()
        max_attempts = 1 + max(recorder.config.retries, 0)
        item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
        failures: list[str] = []
        reports: list[pytest.TestReport] = []
        for attempt in range(1, max_attempts + 1):
            recorder.attempt = attempt
            recorder.attempt_failed_step = None
            recorder.test_failed = False
            item.execution_count = attempt  # type: ignore[attr-defined]  # read by pytest-playwright
            reports = runtestprotocol(item, nextitem=nextitem, log=False)
            record.attempts = attempt
            failed = [r for r in reports if r.failed]
            if not failed:
                break
            failures.append(_error_text(failed[0], recorder.attempt_failed_step))
            if attempt < max_attempts:
                _clean_up_for_retry(item)
        for report in reports:
            item.ihook.pytest_runtest_logreport(report=report)
        item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
        record.duration_ms = int((time.perf_counter() - started) * 1000)
        record.outcome = _outcome(reports, len(failures))
        if record.outcome in ("failed", "error"):
            record.error = failures[-1]
        elif record.outcome == "flaky":
            record.error = failures[0]
        elif record.outcome == "skipped":
            skipped = next((r for r in reports if r.skipped), None)
            record.error = _skip_reason(skipped) if skipped else None
        recorder.current = None
        recorder.write()
        recorder.progress.test_finished(record)
        return True

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        recorder = self.recorder
        interrupted = recorder.current is not None  # stopped in the middle of a test
        with contextlib.suppress(Exception):
            recorder.finish_all_contexts(failed=interrupted or recorder.test_failed)
        recorder.write()


def _error_text(report: pytest.TestReport, failed_step: StepRecord | None) -> str:
    excinfo = getattr(report, "_scriptflow_exc", None)
    message = excinfo if isinstance(excinfo, str) else first_line(str(report.longreprtext)[-2000:])
    if failed_step is not None:
        target = f" on {failed_step.locator}" if failed_step.locator else ""
        step_error = failed_step.error or message
        return f"{failed_step.action}{target} failed: {step_error}"[:MAX_ERROR_CHARS]
    return message[:MAX_ERROR_CHARS]


def _outcome(reports: list[pytest.TestReport], failed_attempts: int) -> str:
    if any(r.failed for r in reports):
        setup_failed = any(r.failed and r.when == "setup" for r in reports)
        return "error" if setup_failed else "failed"
    if any(r.skipped for r in reports):
        return "skipped"
    return "flaky" if failed_attempts else "passed"


def _skip_reason(report: pytest.TestReport) -> str | None:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return None


def _clean_up_for_retry(item: pytest.Item) -> None:
    """What pytest-rerunfailures does between attempts, so a retry starts from nothing."""
    _forget_failed_fixtures(item)
    _forget_failed_setup_state(item)
    _discard_test_instance(item)


def _forget_failed_fixtures(item: pytest.Item) -> None:
    # A fixture whose setup raised caches the error; forget it so the retry sets it up again.
    fixtureinfo = getattr(item, "_fixtureinfo", None)
    if fixtureinfo is None:
        return
    for fixturedefs in fixtureinfo.name2fixturedefs.values():
        for fixturedef in fixturedefs:
            result = getattr(fixturedef, "cached_result", None)
            if result is not None and len(result) == 3 and result[2] is not None:
                fixturedef.cached_result = None


def _forget_failed_setup_state(item: pytest.Item) -> None:
    # A collector whose setup raised keeps the error in the session's setup stack and would
    # re-raise it for the retry without setting up again: drop it and what was stacked on it,
    # so the retry sets them up afresh.
    setup_state = getattr(item.session, "_setupstate", None)
    stack = getattr(setup_state, "stack", None)
    if not isinstance(stack, dict):
        return
    nodes = list(stack)
    failed = next((i for i, node in enumerate(nodes) if stack[node][1] is not None), None)
    if failed is not None:
        for node in nodes[failed:]:
            del stack[node]


def _discard_test_instance(item: pytest.Item) -> None:
    # A test method is bound to an instance of its class that pytest caches on the item; without
    # this, attributes a failed attempt set on `self` would still be there in the retry.
    if isinstance(item, pytest.Function) and isinstance(item.parent, pytest.Class):
        for cached in ("_instance", "_obj"):
            item.__dict__.pop(cached, None)
