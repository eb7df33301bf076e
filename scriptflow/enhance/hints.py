"""Locator hints: what a run saw of the element a selector matched (pure functions).

The contract with runs: a finished run may carry ``results["locator_hints"]``, a mapping from a
hand-written selector to ``{"role", "name", "test_id", "label", "file", "line", "places"}``
(``places``: every ``{"file", "line"}`` the locator was built at, the first being ``file`` and
``line``). The key is
the selector a locator's chain ends with, as its last ``locator`` call wrote it
(``scriptflow.runs.locators.hint_key``): ``div.form > input`` for ``locator("div.form >
input")``, ``input`` for ``page.get_by_role("form").locator("input")``. ``file`` and ``line``
are where the locator was built, e.g. in a page object. A run can build an entry from
Playwright's ``locator.aria_snapshot()`` with `hint_from_aria_snapshot`.
"""

from __future__ import annotations

import re
from typing import Any

from scriptflow.enhance.proposal import LocatorHint, LocatorHints

MAX_HINTS = 1000
MAX_PLACES = 20  # per hint: where one selector was built (a page object, a test, a helper)
_ARIA_LINE = re.compile(r'^\s*-\s+(?P<role>[a-z]+)(?:\s+"(?P<name>(?:[^"\\]|\\.)*)")?')


def hint_from_aria_snapshot(snapshot: str) -> LocatorHint | None:
    """Role and accessible name from the first line of an ARIA snapshot (`- button "Pay"`)."""
    for line in snapshot.splitlines():
        match = _ARIA_LINE.match(line)
        if match is None:
            continue
        name = match["name"]
        if name is not None:
            name = re.sub(r"\\(.)", r"\1", name)
        return LocatorHint(role=match["role"], name=name or None)
    return None


def hints_from_run_results(results: dict[str, Any] | None) -> LocatorHints:
    """The well-formed hints a run stored in its results; anything malformed is ignored."""
    raw = (results or {}).get("locator_hints")
    if not isinstance(raw, dict):
        return {}
    hints: LocatorHints = {}
    for selector, fields in list(raw.items())[:MAX_HINTS]:
        if not isinstance(selector, str) or not isinstance(fields, dict):
            continue
        values = {
            key: value[:500]
            for key in ("role", "name", "test_id", "label")
            if isinstance(value := fields.get(key), str) and value
        }
        if not values:
            continue
        file, line = _built_at(fields)
        places = _places(fields.get("places"))
        if file is not None and line is not None and (file, line) not in places:
            places = ((file, line), *places)[:MAX_PLACES]
        hints[selector] = LocatorHint(
            role=values.get("role"),
            name=values.get("name"),
            test_id=values.get("test_id"),
            label=values.get("label"),
            file=file if file is not None else (places[0][0] if places else None),
            line=line if line is not None else (places[0][1] if places else None),
            places=places,
        )
    return hints


def _places(raw: Any) -> tuple[tuple[str, int], ...]:
    """The well-formed places of a hint's ``places`` list, in order, without repeats."""
    if not isinstance(raw, list):
        return ()
    places: list[tuple[str, int]] = []
    for entry in raw[: MAX_PLACES * 2]:
        if isinstance(entry, dict):
            place = _built_at(entry)
            if place[0] is not None and place[1] is not None and place not in places:
                places.append((place[0], place[1]))
    return tuple(places[:MAX_PLACES])


def _built_at(fields: dict[str, Any]) -> tuple[str | None, int | None]:
    """The file and line the run saw the locator built at, when both are well-formed."""
    file, line = fields.get("file"), fields.get("line")
    if not isinstance(file, str) or not file or not isinstance(line, (str, int)):
        return None, None
    if isinstance(line, str) and not line.isdecimal():
        return None, None
    number = int(line)
    return (file[:255], number) if number > 0 else (None, None)
