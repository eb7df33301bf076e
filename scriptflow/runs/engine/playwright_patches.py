"""Playwright, patched inside a run: every launch headless on the configured browser (or the
remote endpoint), contexts on the environment's base URL, traced and watched, and every public
sync action recorded as a step.

Wrapping the public API records fixture tests and codegen scripts alike and costs nothing at run
time, unlike parsing a trace afterwards. Which methods count as steps, hint an element or build
a locator is listed in ``actions``.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sys
import time
from typing import Any

from playwright.sync_api import (
    Browser,
    BrowserContext,
    BrowserType,
    Frame,
    FrameLocator,
    Locator,
    LocatorAssertions,
    Page,
    PageAssertions,
    Playwright,
)
from playwright.sync_api._generated import Tracing  # not exported by name, but public API

from scriptflow.runs.engine.actions import (
    HINT_ACTIONS,
    LOCATOR_ACTIONS,
    LOCATOR_BUILDERS,
    PAGE_ACTIONS,
    PAGE_SELECTOR_ACTIONS,
)
from scriptflow.runs.engine.record import MAX_ERROR_CHARS, Recorder, RunConfig, StepRecord
from scriptflow.runs.locators import hint_key, locator_code


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


def written_at(tree_root: str | None) -> tuple[str, int] | None:
    """The project file and line that called into Playwright (the innermost frame inside the
    run's tree), e.g. ``("pages/login_page.py", 12)``; None when no frame of the tree calls."""
    if not tree_root:
        return None
    root = os.path.join(tree_root, "")
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename.startswith(root):
            return filename[len(root) :], frame.f_lineno
        frame = frame.f_back  # type: ignore[assignment]
    return None


def _note_written_selector(
    recorder: Recorder, kind: str, target: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    """Note the element a hand-written selector matched, under the key enhancement looks it up
    by (``scriptflow.runs.locators.hint_key``): the selector a chain ends with, whatever family
    built the chain before it; a chain ending in ``get_by_*`` is already user-facing.

    Each hint says where its locator was built (a page object's ``__init__``, say), so that
    enhancement proposes the better locator in that file, not in the test that used it.
    """
    if kind == "locator":
        selector = getattr(target._impl_obj, "_selector", None)
        key = hint_key(selector) if isinstance(selector, str) else None
        locator = target
        origin = getattr(target, "_scriptflow_origin", None)
    else:
        selector = args[0] if args else kwargs.get("selector")
        # page.click("css"): the selector as written is the key, a chain in one string too.
        written = isinstance(selector, str) and not selector.startswith("internal:")
        key = selector if written else None
        locator = target.locator(selector) if key is not None else None
        origin = written_at(recorder.config.tree_root)
    if key is None or locator is None:
        return
    recorder.note_element(key, locator, origin)


def _remember_origin(recorder: Recorder, cls: type, name: str) -> None:
    """Wrap a method that builds a locator so the locator knows the file and line it was
    built at."""
    original = getattr(cls, name, None)
    if original is None or getattr(original, "_scriptflow_origin_wrapped", False):
        return

    @functools.wraps(original)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        built = original(self, *args, **kwargs)
        if recorder.current is not None and not recorder.depth:
            with contextlib.suppress(AttributeError):
                built._scriptflow_origin = written_at(recorder.config.tree_root)
        return built

    wrapper._scriptflow_origin_wrapped = True  # type: ignore[attr-defined]
    setattr(cls, name, wrapper)


def _instrument(recorder: Recorder, cls: type, name: str, kind: str) -> None:
    original = getattr(cls, name, None)
    if original is None or getattr(original, "_scriptflow_wrapped", False):
        return
    action = f"expect.{name}" if kind == "expect" else name

    @functools.wraps(original)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        if recorder.depth or recorder.current is None:
            return original(self, *args, **kwargs)
        locator = _step_target(kind, name, self, args, kwargs)
        if name in HINT_ACTIONS and kind in ("page", "locator"):
            _note_written_selector(recorder, kind, self, args, kwargs)
        recorder.step_started(action, locator)
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
        if name in HINT_ACTIONS and kind in ("page", "locator"):
            _note_written_selector(recorder, kind, self, args, kwargs)  # if the first try missed
        return result

    wrapper._scriptflow_wrapped = True  # type: ignore[attr-defined]
    setattr(cls, name, wrapper)


def _ms_since(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


def _assertion_names(cls: type) -> list[str]:
    return [n for n in dir(cls) if n.startswith(("to_", "not_to_"))]


def force_launch_options(config: RunConfig, options: dict[str, Any]) -> dict[str, Any]:
    options = dict(options)
    options["headless"] = True
    options.pop("channel", None)
    options.pop("devtools", None)
    if config.executable_path:
        options["executable_path"] = config.executable_path
    if config.launch_args:
        options["args"] = [*config.launch_args, *(options.get("args") or [])]
    if config.proxy_server:
        # Playwright's option, not a Chromium flag: its API client (page.request) follows it
        # too, and loopback origins are proxied as well (it adds <-loopback>).
        options["proxy"] = {"server": config.proxy_server}
    return options


def install_patches(recorder: Recorder) -> None:
    """Make every launch headless on the configured browser, default base URLs, record steps."""
    config = recorder.config
    original_launch = BrowserType.launch
    original_persistent = BrowserType.launch_persistent_context
    original_new_context = Browser.new_context
    original_new_page = Browser.new_page
    original_context_close = BrowserContext.close
    original_page_close = Page.close
    original_browser_close = Browser.close
    original_tracing_start = Tracing.start
    original_tracing_stop = Tracing.stop

    @functools.wraps(original_launch)
    def launch(self: BrowserType, **kwargs: Any) -> Browser:
        if config.ws_endpoint:
            return self.connect(
                config.ws_endpoint,
                headers={"x-playwright-launch-options": json.dumps({"headless": True})},
            )
        return original_launch(self, **force_launch_options(config, kwargs))

    @functools.wraps(original_persistent)
    def launch_persistent_context(
        self: BrowserType, user_data_dir: Any, **kwargs: Any
    ) -> BrowserContext:
        options = force_launch_options(config, kwargs)
        if config.base_url:
            options.setdefault("base_url", config.base_url)
        context = original_persistent(self, user_data_dir, **options)
        recorder.watch_context(context)
        return context

    @functools.wraps(original_new_context)
    def new_context(self: Browser, **kwargs: Any) -> BrowserContext:
        if config.base_url and not kwargs.get("base_url"):
            kwargs["base_url"] = config.base_url
        context = original_new_context(self, **kwargs)
        if config.action_timeout_ms:
            context.set_default_timeout(config.action_timeout_ms)
        recorder.watch_context(context)
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
        recorder.finish_context(self, failed=recorder.test_failed)
        original_context_close(self, **kwargs)

    @functools.wraps(original_page_close)
    def page_close(self: Page, **kwargs: Any) -> None:
        if self._impl_obj._owned_context is not None:
            recorder.finish_context(self.context, failed=recorder.test_failed)
        original_page_close(self, **kwargs)

    @functools.wraps(original_browser_close)
    def browser_close(self: Browser, **kwargs: Any) -> None:
        for context in self.contexts:
            recorder.finish_context(context, failed=recorder.test_failed)
        original_browser_close(self, **kwargs)

    @functools.wraps(original_tracing_start)
    def tracing_start(self: Tracing, **kwargs: Any) -> Any:
        self._impl_obj._scriptflow_stopped = False  # type: ignore[attr-defined]
        return original_tracing_start(self, **kwargs)

    @functools.wraps(original_tracing_stop)
    def tracing_stop(self: Tracing, **kwargs: Any) -> None:
        # A trace the recorder has stopped (and saved or dropped) is not running any more:
        # stopping it again (pytest-playwright does, closing every context) asks nothing of
        # the driver. With a path it still goes through, and answers as Playwright does.
        impl = self._impl_obj
        stopped = getattr(impl, "_scriptflow_stopped", False) and not impl._is_tracing
        if stopped and kwargs.get("path") is None:
            return
        original_tracing_stop(self, **kwargs)

    BrowserType.launch = launch  # type: ignore[method-assign,assignment]
    BrowserType.launch_persistent_context = launch_persistent_context  # type: ignore[method-assign,assignment]
    Browser.new_context = new_context  # type: ignore[method-assign,assignment]
    Browser.new_page = new_page  # type: ignore[method-assign,assignment]
    BrowserContext.close = context_close  # type: ignore[method-assign,assignment]
    Page.close = page_close  # type: ignore[method-assign,assignment]
    Browser.close = browser_close  # type: ignore[method-assign,assignment]
    Tracing.start = tracing_start  # type: ignore[method-assign,assignment]
    Tracing.stop = tracing_stop  # type: ignore[method-assign,assignment]

    for builder in (Page, Locator, Frame, FrameLocator):
        for name in LOCATOR_BUILDERS:
            _remember_origin(recorder, builder, name)
    for name in PAGE_ACTIONS:
        _instrument(recorder, Page, name, "page")
    for name in LOCATOR_ACTIONS:
        _instrument(recorder, Locator, name, "locator")
    for cls in (LocatorAssertions, PageAssertions):
        for name in _assertion_names(cls):
            _instrument(recorder, cls, name, "expect")


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
