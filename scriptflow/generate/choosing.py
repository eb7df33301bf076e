"""Choosing a locator on the live page (inside the run sandbox, like the explorer).

For an element, every way Playwright can name it is tried in its order of preference (test
id, role and name, label, placeholder, alt text, text, CSS last); each is counted on the page
and kept only if its one match is this very element. When none is (a repeated "Add to cart"
button), the element is named within its nearest list item, row, article, region or group,
itself named by its heading or first line of text — never by position.

Standard library and Playwright only.
"""

from __future__ import annotations

import contextlib
import json
import re
from typing import Any

from playwright.sync_api import Locator, Page

from scriptflow.generate.locator_spec import METHODS, ROLES

SCOPE_ROLES = {"li": "listitem", "tr": "row", "article": "article", "fieldset": "group"}
_ARIA_LINE = re.compile(r'^- (?P<role>[a-z]+)(?: "(?P<name>(?:[^"\\]|\\.)*)")?')

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


class LocatorChooser:
    """The best unique locator for elements of one page."""

    def __init__(self, page: Page) -> None:
        self.page = page

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
