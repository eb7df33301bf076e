"""Every rewrite the rules make, by id, with its confidence (documented in docs/enhance.md)."""

from __future__ import annotations

CONFIDENCE = {
    "waits.remove-before-auto-wait": 0.9,
    "waits.replace-with-wait-for": 0.8,
    "waits.remove-at-end-of-test": 0.85,
    "selectors.locator-api": 0.95,
    "selectors.user-facing-locator": 0.75,
    "selectors.legacy-engine": 0.9,
    "assertions.web-first-state": 0.9,
    "assertions.web-first-value": 0.85,
    "assertions.web-first-text": 0.8,
    "assertions.web-first-url": 0.85,
    "assertions.re-import": 1.0,
    "urls.relative": 0.9,
    "assertions.expect-import": 1.0,
    "waits.unused-import": 1.0,
}
# A finding that only flags (nothing rewritten), or a rewrite without an id above.
FLAG_CONFIDENCE = 0.5
