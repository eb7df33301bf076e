"""The part of generation that runs inside the run sandbox, against the live page.

The target page is user-provided and hostile, so it is only ever opened here: in a test run
of its own (`scriptflow.generate.live` writes the test module, the executor confines it).
What it observes goes out as one JSON file kept as the run's artifact, and everything in it
is validated again outside (`scriptflow.generate.plan`).

Two jobs:

- ``rules``: read the page (title, main heading, accessibility outline), and for each form
  fill every field with a value of its type, submit, and observe what changed (URL,
  heading, ``status``/``alert`` text) on the live page;
- ``plan``: execute a plan's steps one by one, each element resolved by what the plan names
  (role and name, label, test id, text); stop at the first step that cannot be done.

- ``final``: run a converted recording's steps, then observe where they left the page.

Every element acted on gets its locator from `scriptflow.generate.choosing`.

Standard library and Playwright only.
"""

from __future__ import annotations

import contextlib
import json
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import Locator, Page, expect

from scriptflow.generate.choosing import LocatorChooser, aria_node, build_locator
from scriptflow.generate.field_values import action_for, perform
from scriptflow.generate.locator_spec import ROLES
from scriptflow.generate.report_artifact import ARTIFACT_STEM, ARTIFACT_SUFFIX

MAX_FORMS = 10
MAX_FIELDS = 40
OUTCOME_TIMEOUT_S = 8.0
SETTLE_S = 0.4
FIND_TIMEOUT_MS = 5000
NAVIGATION_TIMEOUT_MS = 30_000
EXPECT_TIMEOUT_MS = 8000
MAX_OUTLINE_CHARS = 20_000
SKIPPED_TYPES = frozenset(
    {"hidden", "submit", "button", "reset", "image", "file", "color", "range"}
)

_STATE = """() => {
  const visible = (e) => !!(e.offsetWidth || e.offsetHeight || e.getClientRects().length);
  const text = (e) => (e.innerText || '').replace(/\\s+/g, ' ').trim();
  return {
    headings: [...document.querySelectorAll('h1')].filter(visible).map(text).filter(Boolean),
    messages: [...document.querySelectorAll('[role=status],[role=alert],output')]
      .filter(visible).map((e) => [e.getAttribute('role') || 'status', text(e)])
      .filter((m) => m[1]),
  };
}"""


def explore(
    page: Page,
    pytestconfig: Any,
    job: dict[str, Any],
    recorded: Callable[[Page], None] | None = None,
) -> None:
    """Do the job on the live page and keep what was observed as the run's artifact."""
    page.set_default_timeout(FIND_TIMEOUT_MS)
    page.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
    explorer = _Explorer(page)
    try:
        if job.get("mode") == "final" and recorded is not None:
            report = explorer.after_recording(recorded)
        elif job.get("mode") == "plan":
            report = explorer.run_plan(str(job["path"]), list(job.get("steps") or []))
        elif job.get("mode") == "outline":
            explorer.open(str(job["path"]))
            report = {"mode": "outline", "path": job["path"], **explorer.page_facts()}
        else:
            report = explorer.read_forms(str(job["path"]))
    except Exception as exc:  # reported, not raised: the run's result carries the reason
        report = {"error": f"{type(exc).__name__}: {str(exc)[:1000]}"}
    _keep(pytestconfig, report)


def _keep(pytestconfig: Any, report: dict[str, Any]) -> None:
    from scriptflow.runs.engine.plugin import RECORDER_KEY

    recorder = pytestconfig.stash[RECORDER_KEY]
    # Beside the artifacts (one file system): keeping a file moves it there.
    with tempfile.NamedTemporaryFile(
        "w", dir=recorder.artifacts_dir, prefix=".report-", suffix=ARTIFACT_SUFFIX, delete=False
    ) as fh:
        json.dump(report, fh)
    recorder.keep_file(Path(fh.name), ARTIFACT_STEM, ARTIFACT_SUFFIX, "log", "application/json")


class _Explorer:
    def __init__(self, page: Page) -> None:
        self.page = page
        self.chooser = LocatorChooser(page)
        self.step_on = self.chooser.step_on
        self.check = self.chooser.check
        self.facts = self.chooser.facts

    # --- reading the page -----------------------------------------------------------------

    def open(self, path: str) -> None:
        self.page.goto(path)
        self.settle()

    def settle(self) -> None:
        with contextlib.suppress(Exception):
            self.page.wait_for_load_state("load")
        with contextlib.suppress(Exception):
            self.page.wait_for_load_state("networkidle", timeout=3000)

    def page_facts(self) -> dict[str, Any]:
        outline = ""
        with contextlib.suppress(Exception):
            outline = self.page.locator("body").aria_snapshot()[:MAX_OUTLINE_CHARS]
        return {"url": self.page.url, "title": self.page.title(), "outline": outline}

    def identity(self) -> dict[str, Any] | None:
        """The page's main heading when there is exactly one, else its title."""
        headings = self.page.locator("h1")
        if headings.count() == 1 and headings.first.is_visible():
            step = self.step_on("expect_visible", headings.first)
            if step is not None:
                return step
        title = self.page.title()
        if title:
            return {"action": "expect_title", "value": title, "origin": "title"}
        return None

    def state(self) -> dict[str, Any]:
        for _ in range(20):
            try:
                facts: dict[str, Any] = self.page.evaluate(_STATE)
                facts["url"] = self.page.url
                return facts
            except Exception:  # a navigation replaced the document meanwhile
                time.sleep(0.1)
        return {"url": self.page.url, "headings": [], "messages": []}

    # --- the rules job ---------------------------------------------------------------------

    def read_forms(self, path: str) -> dict[str, Any]:
        self.open(path)
        report: dict[str, Any] = {"mode": "rules", "path": path, **self.page_facts()}
        report["identity"] = self.identity()
        forms = min(self.page.locator("form").count(), MAX_FORMS)
        report["forms"] = []
        for index in range(forms):
            if index:
                self.open(path)
            report["forms"].append(self.fill_form(index))
        return report

    def fill_form(self, index: int) -> dict[str, Any]:
        form = self.page.locator("form").nth(index)
        _, _, node = aria_node(form)
        steps: list[dict[str, Any]] = []
        skipped: list[str] = []
        radio_groups: set[str] = set()
        controls = form.locator("input, select, textarea")
        for position in range(min(controls.count(), MAX_FIELDS)):
            control = controls.nth(position)
            facts = self.facts(control)
            if facts["tag"] == "input" and facts["type"] in SKIPPED_TYPES:
                continue
            if facts["disabled"] or facts["readonly"] or not facts["visible"]:
                continue
            if facts["type"] == "radio":
                if facts["name"] in radio_groups:
                    continue
                radio_groups.add(facts["name"])
            action, value = action_for(facts)
            if action is None:
                continue
            step = self.step_on(action, control, value)
            if step is None:
                skipped.append(f"no unique locator for {facts['tag']} {facts.get('name')!r}")
                continue
            perform(build_locator(self.page, step["locator"]), action, value)
            steps.append(step)
        submit = form.locator("button[type=submit], button:not([type]), input[type=submit]").first
        outcome: list[dict[str, Any]] = []
        if submit.count():
            step = self.step_on("click", submit)
            if step is None:
                skipped.append("no unique locator for the submit button")
            else:
                before = self.state()
                build_locator(self.page, step["locator"]).click()
                steps.append(step)
                outcome = self.observe(before)
        return {
            "index": index,
            "node": node,
            "steps": steps,
            "outcome": outcome,
            "skipped": skipped,
        }

    def observe(self, before: dict[str, Any]) -> list[dict[str, Any]]:
        """What the action changed, once the page has stopped changing (or the time is up)."""
        deadline = time.monotonic() + OUTCOME_TIMEOUT_S
        after = before
        while time.monotonic() < deadline:
            time.sleep(0.1)
            current = self.state()
            if _changed(before, current):
                self.settle()
                time.sleep(SETTLE_S)
                after = self.state()
                if after == current:
                    break
        return self.outcome_steps(before, after)

    def outcome_steps(self, before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
        steps: list[dict[str, Any]] = []
        if _path(after["url"]) != _path(before["url"]):
            steps.append(
                {"action": "expect_url", "value": _path(after["url"]), "origin": "observed"}
            )
        for heading in after["headings"]:
            if heading in before["headings"]:
                continue
            found = self.page.get_by_role("heading", name=heading, exact=True, level=1)
            if found.count() == 1:
                step = self.step_on("expect_visible", found)
                if step is not None:
                    steps.append(step | {"origin": "observed"})
                    break
        for role, text in after["messages"]:
            if [role, text] in before["messages"]:
                continue
            found = self.page.get_by_role(role).filter(has_text=text)
            if found.count() != 1:
                continue
            by_role = [{"method": "get_by_role", "role": role}]
            checked = self.check(by_role, found)
            spec = (
                by_role if checked["same"] else [*by_role, {"method": "filter", "has_text": text}]
            )
            _, _, node = aria_node(found)
            steps.append(
                {
                    "action": "expect_text",
                    "value": text,
                    "origin": "observed",
                    "node": node,
                    "locator": spec,
                    "candidates": [checked]
                    if checked["same"]
                    else [checked, self.check(spec, found)],
                }
            )
            break
        return steps

    # --- the final job: where a recording leaves the page ----------------------------------

    def after_recording(self, recorded: Callable[[Page], None]) -> dict[str, Any]:
        try:
            recorded(self.page)
        except Exception as exc:
            return {"mode": "final", "failed": {"error": f"{type(exc).__name__}: {exc}"[:600]}}
        self.settle()
        time.sleep(SETTLE_S)
        nothing = {"url": "about:blank", "headings": [], "messages": []}
        return {
            "mode": "final",
            **self.page_facts(),
            "outcome": self.outcome_steps(nothing, self.state()),
        }

    # --- the plan job ----------------------------------------------------------------------

    def run_plan(self, path: str, steps: list[dict[str, Any]]) -> dict[str, Any]:
        self.open(path)
        report: dict[str, Any] = {"mode": "plan", "path": path, **self.page_facts()}
        done: list[dict[str, Any]] = []
        report["steps"] = done
        for number, step in enumerate(steps):
            try:
                done.append(self.plan_step(step))
            except Exception as exc:
                report["failed"] = {"step": number, "error": f"{str(exc)[:500]}"}
                break
        return report

    def plan_step(self, step: dict[str, Any]) -> dict[str, Any]:
        action = str(step.get("action"))
        value = step.get("value")
        if action == "goto":
            self.open(str(value))
            return {"action": "goto", "value": str(value), "origin": "plan"}
        if action == "expect_url":
            expect(self.page).to_have_url(
                re.compile(re.escape(str(value))), timeout=EXPECT_TIMEOUT_MS
            )
            return {"action": "expect_url", "value": str(value), "origin": "plan"}
        element = self.resolve(step.get("target") or {})
        resolved = self.step_on(action, element, None if value is None else str(value))
        if resolved is None:
            raise LookupError("no locator names this element alone")
        live = build_locator(self.page, resolved["locator"])
        if action == "expect_visible":
            expect(live).to_be_visible(timeout=EXPECT_TIMEOUT_MS)
        elif action == "expect_text":
            expect(live).to_contain_text(str(value), timeout=EXPECT_TIMEOUT_MS)
            shown = re.sub(r"\s+", " ", live.inner_text()).strip()
            resolved["exact"] = shown == str(value).strip()
        else:
            perform(live, action, None if value is None else str(value))
            self.settle()
        return resolved | {"origin": "plan"}

    def resolve(self, target: dict[str, Any]) -> Locator:
        """The one element a plan's target names; LookupError saying why not."""
        described = json.dumps(target)[:200]
        options: list[Locator] = []
        if target.get("test_id"):
            options.append(self.page.get_by_test_id(str(target["test_id"])))
        if target.get("role") in ROLES:
            role, name = str(target["role"]), target.get("name")
            if name:
                options.append(self.page.get_by_role(role, name=str(name), exact=True))  # type: ignore[arg-type]
                options.append(self.page.get_by_role(role, name=str(name)))  # type: ignore[arg-type]
            else:
                options.append(self.page.get_by_role(role))  # type: ignore[arg-type]
        if target.get("label"):
            options.append(self.page.get_by_label(str(target["label"]), exact=True))
            options.append(self.page.get_by_label(str(target["label"])))
        if target.get("text"):
            options.append(self.page.get_by_text(str(target["text"]), exact=True))
            options.append(self.page.get_by_text(str(target["text"])))
        if not options:
            raise LookupError(f"the step names no element: {described}")
        with contextlib.suppress(Exception):
            options[0].first.wait_for(state="attached", timeout=FIND_TIMEOUT_MS)
        counts = []
        for option in options:
            count = option.count()
            if count == 1:
                return option
            counts.append(count)
        if max(counts) == 0:
            raise LookupError(f"no element on the page matches {described}")
        raise LookupError(f"{described} matches {max(counts)} elements, not one")


def _path(url: str) -> str:
    match = re.match(r"^[a-z][a-z0-9+.-]*://[^/?#]*([^?#]*)", url)
    return (match.group(1) if match else url) or "/"


def _changed(before: dict[str, Any], after: dict[str, Any]) -> bool:
    return (
        _path(before["url"]) != _path(after["url"])
        or before["headings"] != after["headings"]
        or any(m not in before["messages"] for m in after["messages"])
    )
