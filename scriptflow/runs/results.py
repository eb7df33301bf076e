"""A finished execution as the run row stores it: the ``results`` document (summary,
per-test outcomes with node ids, locator hints as enhancement reads them) (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scriptflow.enhance.hints import MAX_PLACES as MAX_HINT_PLACES
from scriptflow.enhance.hints import hint_from_aria_snapshot
from scriptflow.runs.execution import ExecutionResult


def results_document(result: ExecutionResult, attempt: int) -> dict[str, Any]:
    """The ``results`` JSON of a run: summary and per-test outcomes (steps live in run_steps)."""
    return {
        "summary": result.summary(),
        "tests": [
            {
                "name": t.name,
                "nodeid": t.nodeid or None,
                "outcome": t.outcome,
                "duration_ms": t.duration_ms,
                "attempts": t.attempts,
                "error": t.error,
            }
            for t in result.tests
        ],
        "duration_ms": result.duration_ms,
        "timed_out": result.timed_out,
        "exit_code": result.exit_code,
        "attempt": attempt,
        "omitted_artifacts": list(result.omitted_artifacts),
        "isolation": result.isolation,
        "egress_refused": [dict(r) for r in result.egress_refused],
        "unreachable": [dict(r) for r in result.unreachable],
        "locator_hints": locator_hints_document(result.locator_hints),
    }


def locator_hints_document(raw: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """``results["locator_hints"]`` as enhancement reads it: selector → role, name, test_id."""
    hints: dict[str, dict[str, Any]] = {}
    for selector, seen in raw.items():
        hint: dict[str, Any] = {}
        parsed = hint_from_aria_snapshot(seen.get("aria_snapshot", ""))
        if parsed is not None and parsed.role:
            hint["role"] = parsed.role
            if parsed.name:
                hint["name"] = parsed.name
        if seen.get("test_id"):
            hint["test_id"] = seen["test_id"]
        if hint and seen.get("file"):
            hint["file"], hint["line"] = str(seen["file"]), str(seen.get("line") or "")
        places = seen.get("places")
        if hint and isinstance(places, list):
            # Every place the locator was built at (the run process is untrusted: only
            # well-formed entries, and enhancement checks them again).
            hint["places"] = [
                {"file": str(place["file"])[:255], "line": str(place["line"])[:12]}
                for place in places[:MAX_HINT_PLACES]
                if isinstance(place, dict) and place.get("file") and place.get("line")
            ]
        if hint:
            hints[selector] = hint
    return hints
