"""What the rules generator types into a field, and how a step acts (inside the sandbox).

Values follow the field's type and are always the same, so the same page gives the same test:
plausible, and valid for the usual constraints (an email, a password of 16 characters, a date
in the future, a number at its minimum, the first real option of a select).

Standard library and Playwright only.
"""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Locator

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


def action_for(facts: dict[str, Any]) -> tuple[str | None, str | None]:
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


def perform(locator: Locator, action: str, value: str | None) -> None:
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
