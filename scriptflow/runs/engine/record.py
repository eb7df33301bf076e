"""What a run process observes, and the JSON it rewrites after every change.

The recorder is the one piece of state the plugin keeps; it lives in ``config.stash`` (see
``plugin.py``) and is handed to the Playwright patches when they are installed. Beside the
results it appends progress events (a test started, a step started and done, a test
finished), one JSON object a line, to ``progress.jsonl``: the worker tails that file while
the run goes on, so the run page can show each step as it happens
(``scriptflow.runs.progress``).
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import BrowserContext, Locator, Page, Route

from scriptflow.runs.engine.hints import LocatorHints

MAX_ERROR_CHARS = 4000
MAX_STEPS_PER_TEST = 2000
SCREENSHOT_TIMEOUT_MS = 5000
CONSOLE_TRUNCATED = b"[scriptflow] console log truncated at the size cap\n"
RUN_ARTIFACT_CAPS = 4  # traces and screenshots of one run: at most this many per-artifact caps
PROGRESS_FILE = "progress.jsonl"  # beside results.json; the worker reads it with the same caps
MAX_PROGRESS_BYTES = 1024 * 1024
MAX_PROGRESS_TEXT = 500  # an error or locator in a progress line; the results keep the whole


@dataclass
class RunConfig:
    """What the executor tells the plugin, read from ``--scriptflow-config``."""

    results_path: str
    artifacts_dir: str
    browser: str = "chromium"
    base_url: str | None = None
    executable_path: str | None = None
    launch_args: list[str] = field(default_factory=list)
    proxy_server: str | None = None  # the sandbox's egress bridge, for browser and page.request
    ws_endpoint: str | None = None
    retries: int = 0
    trace: str = "on"  # on | retain-on-failure | off
    artifact_max_bytes: int = 50 * 1024 * 1024
    action_timeout_ms: int | None = None
    block_private_egress: bool = False
    tree_root: str | None = None  # where the project's files are: hints name files from here
    shard: dict[str, Any] | None = None  # {"index", "count", "durations"}: see runs.shards


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
    nodeid: str = ""
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


class ProgressLog:
    """Progress events appended as JSON lines, flushed at once, stopping at a size cap.

    The worker tails the file as the run goes on. It is a view of progress only: the results
    file stays the record, so a line lost at the cap (or a failed write) loses nothing stored.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._written = 0
        self._full = False

    def test_started(self, test: TestRecord) -> None:
        self._emit({"kind": "test_started", "test": test.name, "nodeid": test.nodeid})

    def step_started(self, attempt: int, action: str, locator: str | None) -> None:
        # So a long step (a navigation, an expect waiting its timeout) shows as running; the
        # worker drops a start its end follows in the same read, so quick steps cost no row.
        self._emit(
            {
                "kind": "step_started",
                "attempt": attempt,
                "action": action,
                "locator": _clip(locator),
            }
        )

    def step(self, step: StepRecord) -> None:
        self._emit(
            {
                "kind": "step",
                "attempt": step.attempt,
                "action": step.action,
                "locator": _clip(step.locator),
                "duration_ms": step.duration_ms,
                "outcome": step.outcome,
                "error": _clip(step.error),
            }
        )

    def test_finished(self, test: TestRecord) -> None:
        self._emit(
            {
                "kind": "test_finished",
                "outcome": test.outcome,
                "duration_ms": test.duration_ms,
                "attempts": test.attempts,
                "error": _clip(test.error),
            }
        )

    def _emit(self, event: dict[str, Any]) -> None:
        if self.path is None or self._full:
            return
        data = (json.dumps(event) + "\n").encode("utf-8", "replace")
        if self._written + len(data) > MAX_PROGRESS_BYTES:
            self._full = True
            return
        try:
            with self.path.open("ab") as fh:
                fh.write(data)
        except OSError:  # a full disk or a file the script removed: progress is optional
            self._full = True
            return
        self._written += len(data)


def _clip(text: str | None) -> str | None:
    return text[:MAX_PROGRESS_TEXT] if text else text


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
        self.hints = LocatorHints()
        self._encoded_tests: list[str] = []  # the finished tests' JSON, in order
        results = Path(config.results_path) if config.results_path else None
        self.progress = ProgressLog(results.with_name(PROGRESS_FILE) if results else None)

    # --- steps -----------------------------------------------------------------------------

    def step_started(self, action: str, locator: str | None) -> None:
        test = self.current
        if test is not None and len(test.steps) < MAX_STEPS_PER_TEST:
            self.progress.step_started(self.attempt, action, locator)

    def add_step(self, step: StepRecord) -> None:
        test = self.current
        if test is None:
            return
        if len(test.steps) < MAX_STEPS_PER_TEST:
            test.steps.append(step)
            self.progress.step(step)
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
            context.tracing.start(
                title=test_name,
                snapshots=self._dom_snapshots(),
                screenshots=False,
                sources=False,
            )

    def _dom_snapshots(self) -> bool:
        """Whether this context's trace takes DOM snapshots: always in a file run; in a suite
        or shard run (traces kept on failure only) from a test's second attempt on.

        The browser serialises the page before and after every action for them; measured
        in a 12-test suite they were nearly all the CPU our engine adds over plain
        pytest-playwright (~3-5 of ~24 CPU s, against ~0 for the step recording), paid by
        every passing test for traces that are dropped. Playwright records the network only
        with the snapshots (its trace's HAR recorder starts with them), so a first attempt's
        trace has every action, its timing, error and call stack and the console, not the
        network; a failing page is screenshotted, and a retried test's later attempts have
        snapshots and network, which is Playwright's own CI advice
        (``trace: 'on-first-retry'``).
        """
        return self.config.trace == "on" or self.attempt > 1

    def note_element(
        self, selector: str, locator: Locator, origin: tuple[str, int] | None = None
    ) -> None:
        """Note what a hand-written selector matches and where it was built (see ``hints``)."""
        self.depth += 1  # the element is read through Playwright: those calls are not steps
        try:
            self.hints.note_element(selector, locator, origin)
        finally:
            self.depth -= 1

    @property
    def locator_hints(self) -> dict[str, dict[str, Any]]:
        return self.hints.hints

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
        finally:
            # pytest-playwright stops every context's trace again as it closes it (two more
            # round trips to the driver per test, for a trace that is no longer running).
            context.tracing._impl_obj._scriptflow_stopped = True  # type: ignore[attr-defined]

    def finish_all_contexts(self, *, failed: bool) -> None:
        for context in list(self.live_contexts):
            self.finish_context(context, failed=failed)

    # --- output ----------------------------------------------------------------------------

    def write(self) -> None:
        self.console_artifact()
        # A finished test no longer changes: it is encoded once, not again at every later
        # write (twice a test), which made a long suite's writes grow with the square of its
        # tests and steps.
        done = len(self.tests) - (1 if self.current is not None else 0)
        while len(self._encoded_tests) < done:
            self._encoded_tests.append(json.dumps(asdict(self.tests[len(self._encoded_tests)])))
        tests = self._encoded_tests[:done] + [json.dumps(asdict(t)) for t in self.tests[done:]]
        rest = json.dumps(
            {
                "artifacts": [asdict(a) for a in self.artifacts],
                "collection_errors": self.collection_errors,
                "omitted_artifacts": self.omitted,
                "locator_hints": self.locator_hints,
            }
        )
        path = Path(self.config.results_path)
        tmp = path.with_suffix(".tmp")
        tmp.write_text('{"tests": [' + ", ".join(tests) + "], " + rest[1:])
        tmp.replace(path)


def first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text
