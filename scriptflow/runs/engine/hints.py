"""Locator hints: what the element a hand-written selector matched is (its ARIA snapshot and
test id) and every place the selector was built (file and line in the run's tree).

The recorder keeps one ``LocatorHints`` and writes ``hints`` into the results as
``locator_hints``; enhancement reads them back (``scriptflow.enhance.hints``) to propose a
user-facing locator where the selector was written, a page object included.
"""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Locator

HINT_TIMEOUT_MS = 250
# After the action succeeded the element is there: reading it can only be slow, not absent (a
# loaded machine takes more than 250 ms for an ARIA snapshot), so the second try may wait.
HINT_AFTER_ACTION_TIMEOUT_MS = 2000
MAX_HINTS = 200
MAX_PLACES_PER_HINT = 20  # where one selector was built: a page object, a test, a helper
HINT_ATTEMPTS = 2


class LocatorHints:
    """The hints of one run, by selector (the key enhancement looks them up by)."""

    def __init__(self) -> None:
        self.hints: dict[str, dict[str, Any]] = {}
        self._places: dict[str, list[tuple[str, int]]] = {}  # selector -> where it was built
        self._hinted: dict[str, int] = {}  # selector -> attempts at reading its element

    def note_element(
        self, selector: str, locator: Locator, origin: tuple[str, int] | None = None
    ) -> None:
        """Remember the ARIA snapshot and test id of what a hand-written selector matches.

        Called before the action and, when that missed (the page was still loading), once more
        after the action succeeded, when the element is known to be there; and at every later
        action on the selector, so that each place it was built at is noted, not only the first.
        """
        if origin is not None:
            self._note_place(selector, origin)
        if selector in self.hints or self._hinted.get(selector, 0) >= HINT_ATTEMPTS:
            return
        if selector not in self._hinted and len(self._hinted) >= MAX_HINTS:
            return
        attempt = self._hinted.get(selector, 0) + 1
        self._hinted[selector] = attempt
        timeout = HINT_TIMEOUT_MS if attempt == 1 else HINT_AFTER_ACTION_TIMEOUT_MS
        try:
            snapshot = locator.aria_snapshot(timeout=timeout)
            test_id = locator.get_attribute("data-testid", timeout=timeout)
        except Exception:  # not there yet, several matches, detached: no hint, no harm
            return
        hint: dict[str, Any] = {"aria_snapshot": snapshot[:2000]}
        if test_id:
            hint["test_id"] = test_id[:500]
        self.hints[selector] = hint
        self._place_hint(selector)

    def _note_place(self, selector: str, origin: tuple[str, int]) -> None:
        places = self._places.get(selector)
        if places is None:
            if len(self._places) >= MAX_HINTS:
                return
            places = self._places[selector] = []
        place = (origin[0][:255], origin[1])
        if place not in places and len(places) < MAX_PLACES_PER_HINT:
            places.append(place)
            self._place_hint(selector)

    def _place_hint(self, selector: str) -> None:
        """The hint's places: the first as ``file`` and ``line``, all of them in ``places``."""
        hint, places = self.hints.get(selector), self._places.get(selector)
        if hint is None or not places:
            return
        hint["file"], hint["line"] = places[0][0], str(places[0][1])
        hint["places"] = [{"file": file, "line": str(line)} for file, line in places]
