"""The part of generation that runs inside the run sandbox, against the live page.

The target page is user-provided and hostile, so it is only ever opened here: in a test run
of its own (`scriptflow.generate.live` writes the test module, the executor confines it).
What it observes goes out as one JSON file kept as the run's artifact, and everything in it
is validated again outside (`scriptflow.generate.exploration`).

Two jobs:

- ``rules``: read the page (title, main heading, accessibility outline), and for each form
  fill every field with a value of its type, submit, and observe what changed (URL,
  heading, ``status``/``alert`` text) on the live page;
- ``plan``: execute a plan's steps one by one, each element resolved by what the plan names
  (role and name, label, test id, text); stop at the first step that cannot be done.

For every element acted on, the candidate locators are tried in Playwright's order of
preference and counted on the page; the first that matches exactly this one element wins.
When none does (a repeated list), the element is scoped by its nearest list item, row,
article, region or group, named by its heading or first line of text — never by position.

Standard library and Playwright only.
"""

from __future__ import annotations

import contextlib
import json
import re
import tempfile
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import Locator, Page, expect

from scriptflow.generate.locator_spec import METHODS, ROLES

ARTIFACT_STEM = "exploration"
ARTIFACT_SUFFIX = ".json"
MAX_FORMS = 10
MAX_FIELDS = 40
OUTCOME_TIMEOUT_S = 8.0
SETTLE_S = 0.4
FIND_TIMEOUT_MS = 5000
EXPECT_TIMEOUT_MS = 8000
MAX_OUTLINE_CHARS = 20_000
SKIPPED_TYPES = frozenset(
    {"hidden", "submit", "button", "reset", "image", "file", "color", "range"}
)
SCOPE_ROLES = {"li": "listitem", "tr": "row", "article": "article", "fieldset": "group"}
_ARIA_LINE = re.compile(r'^- (?P<role>[a-z]+)(?: "(?P<name>(?:[^"\\]|\\.)*)")?')

# Values by field type: plausible, valid for the usual constraints, and always the same.
VALUES = {
    "email": "ada@example.com",
    "password": "Correct-Horse-42",
    "tel": "+15550100",
    "url": "https://example.com",
    "date": "2030-01-15",
    "time": "09:30",
    "datetime-local": "2030-01-15T09:30",
    "month": "2030-01",
    "week": "2030-W03",
    "search": "example",
    "number": "1",
}

_ELEMENT_FACTS = """(e) => {
  const attr = (n) => e.getAttribute(n);
  const labels = e.labels ? [...e.labels].map((l) => {
    const copy = l.cloneNode(true);
    copy.querySelectorAll('input,select,textarea,button').forEach((c) => c.remove());
    return copy.textContent.replace(/\\s+/g, ' ').trim();
  }).filter(Boolean) : [];
  return {
    tag: e.tagName.toLowerCase(),
    type: (attr('type') || '').toLowerCase(),
    id: e.id || null,
    name: attr('name'),
    test_id: attr('data-testid'),
    placeholder: attr('placeholder'),
    alt: attr('alt'),
    aria_label: attr('aria-label'),
    labels: labels,
    text: (e.innerText || e.value || '').replace(/\\s+/g, ' ').trim().slice(0, 200),
    min: attr('min'),
    disabled: !!e.disabled,
    readonly: !!e.readOnly,
    visible: !!(e.offsetWidth || e.offsetHeight || e.getClientRects().length),
    options: e.tagName === 'SELECT' ? [...e.options].map((o) => ({
      label: o.label, value: o.value, disabled: o.disabled})) : null,
  };
}"""

_SCOPES = """(e, roles) => {
  const out = [];
  for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) {
    const role = a.getAttribute('role') || roles[a.tagName.toLowerCase()] ||
      (a.tagName === 'SECTION' && a.getAttribute('aria-label') ? 'region' : null);
    if (!role) continue;
    const heading = a.querySelector('h1,h2,h3,h4,h5,h6,legend');
    const text = (heading ? heading.innerText : (a.innerText || '').split('\\n')[0]) || '';
    const key = text.replace(/\\s+/g, ' ').trim().slice(0, 120);
    if (key) out.push({role: role, key: key});
  }
  return out;
}"""

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


def explore(page: Page, pytestconfig: Any, job: dict[str, Any]) -> None:
    """Do the job on the live page and keep what was observed as the run's artifact."""
    page.set_default_timeout(FIND_TIMEOUT_MS)
    explorer = _Explorer(page)
    try:
        if job.get("mode") == "plan":
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


def build_locator(page: Page, spec: list[dict[str, Any]]) -> Locator:
    """The live locator a spec describes (see `scriptflow.generate.locator_spec`)."""
    target: Any = page
    for segment in spec:
        method = segment["method"]
        positional, _ = METHODS[method]
        keywords = {k: v for k, v in segment.items() if k not in ("method", positional)}
        if positional is None:
            target = target.filter(**keywords)
        else:
            target = getattr(target, method)(segment[positional], **keywords)
    locator: Locator = target
    return locator


def aria_node(locator: Locator) -> tuple[str, str | None, str]:
    """(role, name, first snapshot line) of the element, from its accessibility snapshot."""
    try:
        snapshot = locator.aria_snapshot(timeout=2000)
    except Exception:
        return "", None, ""
    line = snapshot.splitlines()[0] if snapshot else ""
    found = _ARIA_LINE.match(line)
    if not found:
        return "", None, line
    name = found.group("name")
    if name is not None:
        with contextlib.suppress(ValueError):
            name = json.loads(f'"{name}"')
    return found.group("role"), name, line


class _Explorer:
    def __init__(self, page: Page) -> None:
        self.page = page

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

    # --- choosing a locator -----------------------------------------------------------------

    def facts(self, element: Locator) -> dict[str, Any]:
        facts: dict[str, Any] = element.evaluate(_ELEMENT_FACTS)
        return facts

    def candidates(self, element: Locator, facts: dict[str, Any]) -> list[list[dict[str, Any]]]:
        """Every way to name this element, in Playwright's order of preference."""
        role, name, _ = aria_node(element)
        out: list[list[dict[str, Any]]] = []
        if facts.get("test_id"):
            out.append([{"method": "get_by_test_id", "test_id": facts["test_id"]}])
        if role in ROLES and name:
            segment: dict[str, Any] = {"method": "get_by_role", "role": role, "name": name}
            if role == "heading" and re.fullmatch(r"h[1-6]", facts.get("tag", "")):
                segment["level"] = int(facts["tag"][1])
            segment["exact"] = True
            out.append([segment])
        elif role in ROLES and role not in ("generic", "none", "presentation", "text"):
            out.append([{"method": "get_by_role", "role": role}])  # a status, alert, …
        for label in [*(facts.get("labels") or []), facts.get("aria_label")]:
            if label:
                out.append([{"method": "get_by_label", "text": label, "exact": True}])
                break
        if facts.get("placeholder"):
            out.append(
                [{"method": "get_by_placeholder", "text": facts["placeholder"], "exact": True}]
            )
        if facts.get("alt"):
            out.append([{"method": "get_by_alt_text", "text": facts["alt"], "exact": True}])
        if facts.get("text") and facts.get("tag") not in ("input", "select", "textarea"):
            out.append([{"method": "get_by_text", "text": facts["text"], "exact": True}])
        if facts.get("id") and re.fullmatch(r"[A-Za-z][\w-]*", facts["id"]):
            out.append([{"method": "locator", "selector": f"#{facts['id']}"}])
        elif facts.get("name") and re.fullmatch(r"[\w.-]+", facts["name"]):
            out.append([{"method": "locator", "selector": f"{facts['tag']}[name={facts['name']}]"}])
        return out

    def check(self, spec: list[dict[str, Any]], element: Locator) -> dict[str, Any]:
        """How many elements the spec matches, and whether its one match is this element."""
        try:
            live = build_locator(self.page, spec)
            matches = live.count()
            same = matches == 1 and bool(
                live.evaluate("(e, t) => e === t", element.element_handle())
            )
        except Exception:
            matches, same = 0, False
        return {"spec": spec, "matches": matches, "same": same}

    def choose(self, element: Locator) -> dict[str, Any]:
        """The best unique locator for the element, with every candidate considered."""
        facts = self.facts(element)
        _, _, node = aria_node(element)
        considered = [self.check(spec, element) for spec in self.candidates(element, facts)]
        chosen = next((c for c in considered if c["same"]), None)
        if chosen is None:
            chosen, scoped = self.scoped(element, facts)
            considered += scoped
        return {
            "node": node,
            "facts": facts,
            "candidates": considered,
            "locator": chosen["spec"] if chosen else None,
        }

    def scoped(
        self, element: Locator, facts: dict[str, Any]
    ) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        """A repeated element named within its container (list item, row, …), never by index."""
        tried: list[dict[str, Any]] = []
        scopes = element.evaluate(_SCOPES, SCOPE_ROLES)
        inner = [c for c in self.candidates(element, facts) if c[0]["method"] != "locator"]
        for scope in scopes[:4]:
            if scope["role"] not in ROLES:
                continue
            prefix = [
                {"method": "get_by_role", "role": scope["role"]},
                {"method": "filter", "has_text": scope["key"]},
            ]
            if build_locator(self.page, prefix).count() != 1:
                continue
            for spec in inner:
                checked = self.check(prefix + spec, element)
                tried.append(checked)
                if checked["same"]:
                    return checked, tried
        return None, tried

    def step_on(
        self, action: str, element: Locator, value: str | None = None
    ) -> dict[str, Any] | None:
        chosen = self.choose(element)
        if chosen["locator"] is None:
            return None
        return {"action": action, "value": value, "origin": "outline", **chosen}

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
            action, value = _action_for(facts)
            if action is None:
                continue
            step = self.step_on(action, control, value)
            if step is None:
                skipped.append(f"no unique locator for {facts['tag']} {facts.get('name')!r}")
                continue
            _perform(build_locator(self.page, step["locator"]), action, value)
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
            _perform(live, action, None if value is None else str(value))
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


def _action_for(facts: dict[str, Any]) -> tuple[str | None, str | None]:
    tag, kind = facts["tag"], facts["type"]
    if tag == "select":
        options = [o for o in facts.get("options") or [] if o["value"] and not o["disabled"]]
        return ("select", options[0]["label"]) if options else (None, None)
    if kind in ("checkbox", "radio"):
        return "check", None
    if tag == "textarea":
        return "fill", "Written by scriptflow"
    if kind == "number" and facts.get("min"):
        return "fill", str(facts["min"])
    if kind in VALUES:
        return "fill", VALUES[kind]
    words = " ".join([*(facts.get("labels") or []), facts.get("name") or ""]).lower()
    if "user" in words:
        return "fill", "ada"
    if "name" in words:
        return "fill", "Ada Lovelace"
    return "fill", "Sample text"


def _perform(locator: Locator, action: str, value: str | None) -> None:
    if action == "fill":
        locator.fill(value or "")
    elif action == "select":
        try:
            locator.select_option(label=value or "")
        except Exception:
            locator.select_option(value or "")
    elif action == "check":
        locator.check()
    elif action == "click":
        locator.click()
    else:
        raise ValueError(f"unknown action {action!r}")


def _path(url: str) -> str:
    match = re.match(r"^[a-z][a-z0-9+.-]*://[^/?#]*([^?#]*)", url)
    return (match.group(1) if match else url) or "/"


def _changed(before: dict[str, Any], after: dict[str, Any]) -> bool:
    return (
        _path(before["url"]) != _path(after["url"])
        or before["headings"] != after["headings"]
        or any(m not in before["messages"] for m in after["messages"])
    )
