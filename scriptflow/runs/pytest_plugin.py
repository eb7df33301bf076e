"""The pytest plugin loaded inside every run process (never by scriptflow's own test suite).

It turns pytest + pytest-playwright into scriptflow's engine:

- every browser launch (the ``browser`` fixture's and a codegen script's own
  ``launch(headless=False)``) uses the configured browser, headless, or connects to the
  remote endpoint;
- contexts default to the environment's base URL, so ``page.goto("/login")`` works in both forms;
- steps are recorded by wrapping the public sync API (``Page``, ``Locator``, ``expect``), which
  works for fixture tests and codegen scripts alike and costs nothing at run time, unlike parsing
  a trace afterwards;
- failed tests are re-run up to ``retries`` times (failed then passed is "flaky");
- each context is traced (``trace.zip``), its console is logged, and a failing test's pages are
  screenshotted; every artifact is size-capped;
- results are rewritten to a JSON file after every test, so a killed run still reports its
  progress.

It imports only the standard library, pytest and Playwright: it runs in a scrubbed process.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
import signal
import time
from collections.abc import Generator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from _pytest.runner import runtestprotocol
from playwright.sync_api import (
    Browser,
    BrowserContext,
    BrowserType,
    Locator,
    LocatorAssertions,
    Page,
    PageAssertions,
    Playwright,
    Route,
)

from scriptflow.runs.locators import locator_code

MAX_ERROR_CHARS = 4000
MAX_STEPS_PER_TEST = 2000
SCREENSHOT_TIMEOUT_MS = 5000
# Actions on one element: before the first of them per selector, the run notes what the element
# is (ARIA role and name, test id) so that enhancement can suggest a user-facing locator.
HINT_ACTIONS = frozenset(
    [
        "click",
        "dblclick",
        "fill",
        "type",
        "press",
        "press_sequentially",
        "check",
        "uncheck",
        "set_checked",
        "select_option",
        "hover",
        "tap",
        "clear",
        "text_content",
        "inner_text",
        "input_value",
    ]
)
HINT_TIMEOUT_MS = 250
MAX_HINTS = 200
CONSOLE_TRUNCATED = b"[scriptflow] console log truncated at the size cap\n"
RUN_ARTIFACT_CAPS = 4  # traces and screenshots of one run: at most this many per-artifact caps

PAGE_ACTIONS = [
    "goto",
    "reload",
    "go_back",
    "go_forward",
    "click",
    "dblclick",
    "fill",
    "type",
    "press",
    "check",
    "uncheck",
    "select_option",
    "hover",
    "focus",
    "tap",
    "set_input_files",
    "wait_for_selector",
    "wait_for_url",
    "wait_for_load_state",
    "wait_for_timeout",
    "text_content",
    "inner_text",
    "input_value",
    "get_attribute",
    "is_visible",
    "is_hidden",
    "is_enabled",
    "is_checked",
    "drag_and_drop",
]
LOCATOR_ACTIONS = [
    "click",
    "dblclick",
    "fill",
    "type",
    "press",
    "press_sequentially",
    "check",
    "uncheck",
    "set_checked",
    "select_option",
    "hover",
    "focus",
    "blur",
    "tap",
    "clear",
    "set_input_files",
    "wait_for",
    "text_content",
    "inner_text",
    "inner_html",
    "input_value",
    "get_attribute",
    "is_visible",
    "is_hidden",
    "is_enabled",
    "is_disabled",
    "is_checked",
    "is_editable",
    "all_text_contents",
    "all_inner_texts",
    "count",
    "drag_to",
    "scroll_into_view_if_needed",
    "select_text",
    "dispatch_event",
]
# Page methods whose first argument is a selector (the others take a URL, a time or nothing).
PAGE_SELECTOR_ACTIONS = frozenset(PAGE_ACTIONS) - {
    "goto",
    "reload",
    "go_back",
    "go_forward",
    "wait_for_url",
    "wait_for_load_state",
    "wait_for_timeout",
}


@dataclass
class RunConfig:
    """What the executor tells the plugin, read from ``--scriptflow-config``."""

    results_path: str
    artifacts_dir: str
    browser: str = "chromium"
    base_url: str | None = None
    executable_path: str | None = None
    launch_args: list[str] = field(default_factory=list)
    ws_endpoint: str | None = None
    retries: int = 0
    trace: str = "on"  # on | retain-on-failure | off
    artifact_max_bytes: int = 50 * 1024 * 1024
    action_timeout_ms: int | None = None
    block_private_egress: bool = False


@dataclass
class StepRecord:
    attempt: int
    action: str
    locator: str | None
    duration_ms: int
    outcome: str
    error: str | None = None


@dataclass
class TestRecord:
    name: str
    outcome: str = "running"
    duration_ms: int = 0
    attempts: int = 0
    error: str | None = None
    steps: list[StepRecord] = field(default_factory=list)


@dataclass
class ArtifactRecord:
    name: str
    kind: str
    content_type: str
    size_bytes: int
    truncated: bool = False
    test: str | None = None


class Recorder:
    """Everything observed in the run process, written out as JSON after each change."""

    def __init__(self, config: RunConfig) -> None:
        self.config = config
        self.tests: list[TestRecord] = []
        self.artifacts: list[ArtifactRecord] = []
        self.collection_errors: list[str] = []
        self.omitted: list[str] = []
        self.current: TestRecord | None = None
        self.attempt = 0
        self.attempt_failed_step: StepRecord | None = None
        self.depth = 0
        self.live_contexts: list[BrowserContext] = []
        self.test_failed = False
        self.artifacts_dir = Path(config.artifacts_dir)
        self.artifacts_dir.mkdir(parents=True, exist_ok=True)
        self._console_bytes = 0
        self._console_truncated = False
        self._egress_verdicts: dict[str, str | None] = {}
        self.locator_hints: dict[str, dict[str, str]] = {}
        self._hinted: set[str] = set()

    # --- steps -----------------------------------------------------------------------------

    def add_step(self, step: StepRecord) -> None:
        test = self.current
        if test is None:
            return
        if len(test.steps) < MAX_STEPS_PER_TEST:
            test.steps.append(step)
        if step.outcome == "failed" and self.attempt_failed_step is None:
            self.attempt_failed_step = step

    # --- artifacts -------------------------------------------------------------------------

    def _unique_name(self, stem: str, suffix: str) -> str:
        taken = {a.name for a in self.artifacts}
        name, n = f"{stem}{suffix}", 1
        while name in taken:
            n += 1
            name = f"{stem}-{n}{suffix}"
        return name

    def _kept_bytes(self) -> int:
        return sum(a.size_bytes for a in self.artifacts if a.kind != "console")

    def keep_file(
        self, produced: Path, stem: str, suffix: str, kind: str, content_type: str
    ) -> None:
        """Move a produced file into the artifacts folder if it fits the size cap."""
        size = produced.stat().st_size
        if size > self.config.artifact_max_bytes:
            produced.unlink(missing_ok=True)
            self.omitted.append(f"{kind} of {self._test_name()} ({size} bytes) exceeds the cap")
            return
        # A script opening many contexts must not fill the disk: a run keeps at most a few caps.
        if self._kept_bytes() + size > RUN_ARTIFACT_CAPS * self.config.artifact_max_bytes:
            produced.unlink(missing_ok=True)
            self.omitted.append(f"{kind} of {self._test_name()}: the run's artifact total is full")
            return
        name = self._unique_name(stem, suffix)
        produced.replace(self.artifacts_dir / name)
        self.artifacts.append(
            ArtifactRecord(name, kind, content_type, size, test=self._test_name())
        )

    def log_console(self, line: str) -> None:
        """Append one line to ``console.log``, stopping at the size cap."""
        if self._console_truncated:
            return
        data = (line.rstrip("\n") + "\n").encode("utf-8", "replace")
        path = self.artifacts_dir / "console.log"
        room = self.config.artifact_max_bytes - len(CONSOLE_TRUNCATED)
        if self._console_bytes + len(data) > room:
            # The marker fits because every earlier line left room for it.
            self._console_truncated = True
            data = CONSOLE_TRUNCATED
        with path.open("ab") as fh:
            fh.write(data)
        self._console_bytes += len(data)

    def console_artifact(self) -> None:
        if self._console_bytes and not any(a.name == "console.log" for a in self.artifacts):
            self.artifacts.append(
                ArtifactRecord("console.log", "console", "text/plain", 0, self._console_truncated)
            )
        for artifact in self.artifacts:
            if artifact.name == "console.log":
                artifact.size_bytes = self._console_bytes
                artifact.truncated = self._console_truncated

    def _test_name(self) -> str:
        return self.current.name if self.current else "session"

    # --- browser contexts ------------------------------------------------------------------

    def watch_context(self, context: BrowserContext) -> None:
        """Trace a new context and log its console."""
        if getattr(context, "_scriptflow_watched", False):
            return
        context._scriptflow_watched = True  # type: ignore[attr-defined]
        self.live_contexts.append(context)
        test_name = self._test_name()

        def on_page(page: Page) -> None:
            page.on(
                "console",
                lambda msg: self.log_console(f"[{test_name}] {msg.type}: {msg.text}"),
            )
            page.on("pageerror", lambda err: self.log_console(f"[{test_name}] pageerror: {err}"))

        for page in context.pages:
            on_page(page)
        context.on("page", on_page)
        if self.config.block_private_egress:
            context.route("**/*", self._guard_egress)
        if self.config.trace != "off":
            context.tracing.start(title=test_name, snapshots=True, screenshots=False, sources=False)

    def note_element(self, selector: str, locator: Locator) -> None:
        """Remember the ARIA snapshot and test id of what a hand-written selector matches."""
        if selector in self._hinted or len(self._hinted) >= MAX_HINTS:
            return
        self._hinted.add(selector)
        self.depth += 1  # these calls are ours, not steps of the test
        try:
            snapshot = locator.aria_snapshot(timeout=HINT_TIMEOUT_MS)
            test_id = locator.get_attribute("data-testid", timeout=HINT_TIMEOUT_MS)
        except Exception:  # not there yet, several matches, detached: no hint, no harm
            return
        finally:
            self.depth -= 1
        hint = {"aria_snapshot": snapshot[:2000]}
        if test_id:
            hint["test_id"] = test_id[:500]
        self.locator_hints[selector] = hint

    def _guard_egress(self, route: Route) -> None:
        url = route.request.url
        if not url.startswith(("http:", "https:", "ws:", "wss:")):
            route.fallback()
            return
        from scriptflow.runs.egress import blocked_reason

        host = urlsplit(url).hostname or ""
        if host not in self._egress_verdicts:
            self._egress_verdicts[host] = blocked_reason(url)
        reason = self._egress_verdicts[host]
        if reason:
            self.log_console(f"[{self._test_name()}] egress blocked: {url} ({reason})")
            route.abort("blockedbyclient")
        else:
            route.fallback()

    def finish_context(self, context: BrowserContext, *, failed: bool) -> None:
        """Stop tracing and screenshot on failure; called once, before the context closes."""
        if context not in self.live_contexts:
            return
        self.live_contexts.remove(context)
        if failed:
            for page in list(context.pages):
                shot = self.artifacts_dir / f".shot-{time.monotonic_ns()}.png"
                with contextlib.suppress(Exception):
                    page.screenshot(path=shot, timeout=SCREENSHOT_TIMEOUT_MS)
                    self.keep_file(shot, "screenshot", ".png", "screenshot", "image/png")
        if self.config.trace == "off":
            return
        keep = self.config.trace == "on" or failed
        trace = self.artifacts_dir / f".trace-{time.monotonic_ns()}.zip"
        try:
            if keep:
                context.tracing.stop(path=trace)
                self.keep_file(trace, "trace", ".zip", "trace", "application/zip")
            else:
                context.tracing.stop()
        except Exception as exc:  # a crashed browser has no trace to give
            self.omitted.append(f"trace of {self._test_name()}: {first_line(str(exc))}")

    def finish_all_contexts(self, *, failed: bool) -> None:
        for context in list(self.live_contexts):
            self.finish_context(context, failed=failed)

    # --- output ----------------------------------------------------------------------------

    def write(self) -> None:
        self.console_artifact()
        payload = {
            "tests": [asdict(t) for t in self.tests],
            "artifacts": [asdict(a) for a in self.artifacts],
            "collection_errors": self.collection_errors,
            "omitted_artifacts": self.omitted,
            "locator_hints": self.locator_hints,
        }
        path = Path(self.config.results_path)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(payload))
        tmp.replace(path)


RECORDER: Recorder | None = None


def first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text


def describe_locator(obj: Any) -> str | None:
    """The locator as the Python code people write, e.g. ``get_by_label("Username")``."""
    impl = getattr(obj, "_impl_obj", obj)
    code = getattr(impl, "_locator_code", None)
    if code:
        return str(code)
    selector = getattr(impl, "_selector", None)
    return locator_code(str(selector)) if selector is not None else None


def _step_target(
    kind: str, name: str, target: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> str | None:
    if kind == "locator":
        return describe_locator(target)
    if kind == "expect":
        actual = getattr(target._impl_obj, "_actual_locator", None)
        return describe_locator(actual) if actual is not None else None
    if name in PAGE_SELECTOR_ACTIONS:
        selector = args[0] if args else kwargs.get("selector", kwargs.get("source"))
        return locator_code(str(selector)) if selector is not None else None
    return None


def _note_written_selector(
    recorder: Recorder, kind: str, target: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    """Hints are for selectors as written in the script (CSS, XPath, text=), not get_by_*."""
    if kind == "locator":
        selector = getattr(target._impl_obj, "_selector", None)
        locator = target
    else:
        selector = args[0] if args else kwargs.get("selector")
        locator = target.locator(selector) if isinstance(selector, str) else None
    if not isinstance(selector, str) or locator is None:
        return
    if selector.startswith("internal:") or ">>" in selector:
        return
    recorder.note_element(selector, locator)


def _instrument(cls: type, name: str, kind: str) -> None:
    original = getattr(cls, name, None)
    if original is None or getattr(original, "_scriptflow_wrapped", False):
        return
    action = f"expect.{name}" if kind == "expect" else name

    @functools.wraps(original)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        recorder = RECORDER
        if recorder is None or recorder.depth or recorder.current is None:
            return original(self, *args, **kwargs)
        locator = _step_target(kind, name, self, args, kwargs)
        if name in HINT_ACTIONS and kind in ("page", "locator"):
            _note_written_selector(recorder, kind, self, args, kwargs)
        started = time.perf_counter()
        recorder.depth += 1
        try:
            result = original(self, *args, **kwargs)
        except BaseException as exc:
            recorder.depth -= 1
            recorder.add_step(
                StepRecord(
                    recorder.attempt,
                    action,
                    locator,
                    _ms_since(started),
                    "failed",
                    str(exc)[:MAX_ERROR_CHARS],
                )
            )
            raise
        recorder.depth -= 1
        recorder.add_step(
            StepRecord(recorder.attempt, action, locator, _ms_since(started), "passed")
        )
        return result

    wrapper._scriptflow_wrapped = True  # type: ignore[attr-defined]
    setattr(cls, name, wrapper)


def _ms_since(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


def _assertion_names(cls: type) -> list[str]:
    return [n for n in dir(cls) if n.startswith(("to_", "not_to_"))]


def _force_launch_options(config: RunConfig, options: dict[str, Any]) -> dict[str, Any]:
    options = dict(options)
    options["headless"] = True
    options.pop("channel", None)
    options.pop("devtools", None)
    if config.executable_path:
        options["executable_path"] = config.executable_path
    if config.launch_args:
        options["args"] = [*config.launch_args, *(options.get("args") or [])]
    return options


def install_patches(config: RunConfig) -> None:
    """Make every launch headless on the configured browser, default base URLs, record steps."""
    original_launch = BrowserType.launch
    original_persistent = BrowserType.launch_persistent_context
    original_new_context = Browser.new_context
    original_new_page = Browser.new_page
    original_context_close = BrowserContext.close
    original_page_close = Page.close
    original_browser_close = Browser.close

    @functools.wraps(original_launch)
    def launch(self: BrowserType, **kwargs: Any) -> Browser:
        if config.ws_endpoint:
            return self.connect(
                config.ws_endpoint,
                headers={"x-playwright-launch-options": json.dumps({"headless": True})},
            )
        return original_launch(self, **_force_launch_options(config, kwargs))

    @functools.wraps(original_persistent)
    def launch_persistent_context(
        self: BrowserType, user_data_dir: Any, **kwargs: Any
    ) -> BrowserContext:
        options = _force_launch_options(config, kwargs)
        if config.base_url:
            options.setdefault("base_url", config.base_url)
        context = original_persistent(self, user_data_dir, **options)
        if RECORDER:
            RECORDER.watch_context(context)
        return context

    @functools.wraps(original_new_context)
    def new_context(self: Browser, **kwargs: Any) -> BrowserContext:
        if config.base_url and not kwargs.get("base_url"):
            kwargs["base_url"] = config.base_url
        context = original_new_context(self, **kwargs)
        if config.action_timeout_ms:
            context.set_default_timeout(config.action_timeout_ms)
        if RECORDER:
            RECORDER.watch_context(context)
        return context

    @functools.wraps(original_new_page)
    def new_page(self: Browser, **kwargs: Any) -> Page:
        # Browser.new_page makes its own context; go through ours so it is traced too, and let
        # the page own it as Playwright does (closing the page closes the context).
        context = new_context(self, **kwargs)
        page = context.new_page()
        page._impl_obj._owned_context = context._impl_obj
        context._impl_obj._owner_page = page._impl_obj
        return page

    @functools.wraps(original_context_close)
    def context_close(self: BrowserContext, **kwargs: Any) -> None:
        if RECORDER:
            RECORDER.finish_context(self, failed=RECORDER.test_failed)
        original_context_close(self, **kwargs)

    @functools.wraps(original_page_close)
    def page_close(self: Page, **kwargs: Any) -> None:
        if RECORDER and self._impl_obj._owned_context is not None:
            RECORDER.finish_context(self.context, failed=RECORDER.test_failed)
        original_page_close(self, **kwargs)

    @functools.wraps(original_browser_close)
    def browser_close(self: Browser, **kwargs: Any) -> None:
        if RECORDER:
            for context in self.contexts:
                RECORDER.finish_context(context, failed=RECORDER.test_failed)
        original_browser_close(self, **kwargs)

    BrowserType.launch = launch  # type: ignore[method-assign,assignment]
    BrowserType.launch_persistent_context = launch_persistent_context  # type: ignore[method-assign,assignment]
    Browser.new_context = new_context  # type: ignore[method-assign,assignment]
    Browser.new_page = new_page  # type: ignore[method-assign,assignment]
    BrowserContext.close = context_close  # type: ignore[method-assign,assignment]
    Page.close = page_close  # type: ignore[method-assign,assignment]
    Browser.close = browser_close  # type: ignore[method-assign,assignment]

    for name in PAGE_ACTIONS:
        _instrument(Page, name, "page")
    for name in LOCATOR_ACTIONS:
        _instrument(Locator, name, "locator")
    for cls in (LocatorAssertions, PageAssertions):
        for name in _assertion_names(cls):
            _instrument(cls, name, "expect")


class PlaywrightProxy:
    """Given to a codegen script's ``run(playwright)``: every browser type is the configured one."""

    def __init__(self, playwright: Playwright, browser: str) -> None:
        self._playwright = playwright
        self._browser = browser

    @property
    def chromium(self) -> BrowserType:
        return self._playwright[self._browser]

    @property
    def firefox(self) -> BrowserType:
        return self._playwright[self._browser]

    @property
    def webkit(self) -> BrowserType:
        return self._playwright[self._browser]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._playwright, name)


def configured_playwright(playwright: Playwright) -> PlaywrightProxy:
    """Hand a codegen script the session's Playwright with the configured browser everywhere."""
    browser = RECORDER.config.browser if RECORDER else "chromium"
    return PlaywrightProxy(playwright, browser)


# --- pytest hooks ----------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--scriptflow-config", action="store", default=None)


def pytest_configure(config: pytest.Config) -> None:
    global RECORDER
    path = config.getoption("--scriptflow-config")
    if not path:
        return
    run_config = RunConfig(**json.loads(Path(path).read_text()))
    RECORDER = Recorder(run_config)
    install_patches(run_config)
    signal.signal(signal.SIGTERM, _interrupt)
    RECORDER.write()


def _interrupt(_signum: int, _frame: object) -> None:
    # The executor's timeout or a cancel: end the session the way Ctrl+C does, so that
    # pytest_sessionfinish saves what the running test had (trace, screenshot, results).
    raise KeyboardInterrupt


def test_display_name(item: pytest.Item) -> str:
    """``test_login`` rather than ``test_script.py::test_login[chromium]``."""
    name = item.nodeid.split("::", 1)[-1]
    name = re.sub(r"\[(chromium|firefox|webkit)\]$", "", name)
    return re.sub(r"-(chromium|firefox|webkit)\]$", "]", name)


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if RECORDER and report.failed:
        RECORDER.collection_errors.append(str(report.longrepr)[-MAX_ERROR_CHARS:])
        RECORDER.write()


def _error_text(report: pytest.TestReport, failed_step: StepRecord | None) -> str:
    excinfo = getattr(report, "_scriptflow_exc", None)
    message = excinfo if isinstance(excinfo, str) else first_line(str(report.longreprtext)[-2000:])
    if failed_step is not None:
        target = f" on {failed_step.locator}" if failed_step.locator else ""
        step_error = failed_step.error or message
        return f"{failed_step.action}{target} failed: {step_error}"[:MAX_ERROR_CHARS]
    return message[:MAX_ERROR_CHARS]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if call.excinfo is not None:
        report._scriptflow_exc = call.excinfo.exconly()[:MAX_ERROR_CHARS]  # type: ignore[attr-defined]
    if RECORDER and report.when in ("setup", "call") and report.failed:
        RECORDER.test_failed = True


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, Any, None]:
    # Before fixtures close their contexts: stop traces and screenshot failing pages.
    if RECORDER:
        with contextlib.suppress(Exception):
            RECORDER.finish_all_contexts(failed=RECORDER.test_failed)
    yield


def _attempt(item: pytest.Item, nextitem: pytest.Item | None) -> list[pytest.TestReport]:
    return runtestprotocol(item, nextitem=nextitem, log=False)


def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> bool | None:
    recorder = RECORDER
    if recorder is None:
        return None
    record = TestRecord(name=test_display_name(item))
    recorder.tests.append(record)
    recorder.current = record
    recorder.write()
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
        reports = _attempt(item, nextitem)
        record.attempts = attempt
        failed = [r for r in reports if r.failed]
        if not failed:
            break
        failures.append(_error_text(failed[0], recorder.attempt_failed_step))
        if attempt < max_attempts:
            _forget_failed_fixtures(item)
    for report in reports:
        item.ihook.pytest_runtest_logreport(report=report)
    item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
    record.duration_ms = _ms_since(started)
    record.outcome = _outcome(reports, len(failures), record.attempts)
    if record.outcome in ("failed", "error"):
        record.error = failures[-1]
    elif record.outcome == "flaky":
        record.error = failures[0]
    elif record.outcome == "skipped":
        skipped = next((r for r in reports if r.skipped), None)
        record.error = _skip_reason(skipped) if skipped else None
    recorder.current = None
    recorder.write()
    return True


def _outcome(reports: list[pytest.TestReport], failed_attempts: int, attempts: int) -> str:
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


def pytest_sessionfinish(session: pytest.Session) -> None:
    if RECORDER:
        interrupted = RECORDER.current is not None  # stopped in the middle of a test
        with contextlib.suppress(Exception):
            RECORDER.finish_all_contexts(failed=interrupted or RECORDER.test_failed)
        RECORDER.write()


async def run_async_codegen(run: Any) -> None:
    """Drive an ``async def run(playwright)`` codegen script with the run's browser settings.

    Steps are not recorded for this form (the sync API is what we instrument); launches are
    still forced headless onto the configured browser and contexts get the base URL.
    """
    from playwright.async_api import Browser as AsyncBrowser
    from playwright.async_api import BrowserType as AsyncBrowserType
    from playwright.async_api import async_playwright

    config = RECORDER.config if RECORDER else RunConfig(results_path="", artifacts_dir=".")
    original_launch = AsyncBrowserType.launch
    original_new_context = AsyncBrowser.new_context

    async def launch(self: Any, **kwargs: Any) -> Any:
        if config.ws_endpoint:
            return await self.connect(config.ws_endpoint)
        return await original_launch(self, **_force_launch_options(config, kwargs))

    async def new_context(self: Any, **kwargs: Any) -> Any:
        if config.base_url and not kwargs.get("base_url"):
            kwargs["base_url"] = config.base_url
        return await original_new_context(self, **kwargs)

    AsyncBrowserType.launch = launch  # type: ignore[method-assign,assignment]
    AsyncBrowser.new_context = new_context  # type: ignore[method-assign,assignment]

    class AsyncProxy:
        def __init__(self, playwright: Any) -> None:
            self._playwright = playwright

        def __getattr__(self, name: str) -> Any:
            if name in ("chromium", "firefox", "webkit"):
                return self._playwright[config.browser]
            return getattr(self._playwright, name)

    async with async_playwright() as playwright:
        await run(AsyncProxy(playwright))
