"""Progress lines as the worker accepts them, and the live view they fold into (pure).

Whatever the run wrote, an accepted event has a known kind, strings of bounded length, whole
numbers in range and an outcome from our vocabulary; anything else is dropped. Events carry no
test id: a step or a test's end belongs to the test that started last, counted here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

KINDS = frozenset({"test_started", "step_started", "step", "test_finished"})
TEST_OUTCOMES = frozenset({"passed", "failed", "flaky", "skipped", "error"})
STEP_OUTCOMES = frozenset({"passed", "failed"})
MAX_LINE_BYTES = 16 * 1024
MAX_TEXT = 500
MAX_NAME = 500
MAX_NODEID = 1000
MAX_ACTION = 100
MAX_MS = 7 * 24 * 3600 * 1000
MAX_ATTEMPTS = 100
# Rows one run may add; past it the worker stops publishing (the results still hold all).
MAX_EVENTS_PER_RUN = 10_000


@dataclass(frozen=True)
class ProgressLine:
    """One accepted line of the progress file, before it is placed in a test."""

    kind: str
    test_name: str | None = None
    nodeid: str | None = None
    test_attempt: int | None = None
    action: str | None = None
    locator: str | None = None
    outcome: str | None = None
    duration_ms: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class PlacedEvent:
    """An event with the position and name of its test, as stored."""

    test_position: int
    test_name: str
    line: ProgressLine


def _text(value: Any, limit: int) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    return value.replace("\x00", "")[:limit] or None


def _whole(value: Any, low: int, high: int) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return min(max(value, low), high)


def parse_line(raw: bytes) -> ProgressLine | None:
    """An accepted event, or None for anything malformed, oversized or unknown."""
    if len(raw) > MAX_LINE_BYTES:
        return None
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, Mapping):
        return None
    kind = data.get("kind")
    if kind not in KINDS:
        return None
    if kind == "test_started":
        name = _text(data.get("test"), MAX_NAME)
        if name is None:
            return None
        return ProgressLine(kind, test_name=name, nodeid=_text(data.get("nodeid"), MAX_NODEID))
    if kind == "step_started":
        action = _text(data.get("action"), MAX_ACTION)
        if action is None:
            return None
        return ProgressLine(
            kind,
            test_attempt=_whole(data.get("attempt"), 1, MAX_ATTEMPTS),
            action=action,
            locator=_text(data.get("locator"), MAX_TEXT),
        )
    if kind == "step":
        action = _text(data.get("action"), MAX_ACTION)
        outcome = data.get("outcome")
        if action is None or outcome not in STEP_OUTCOMES:
            return None
        return ProgressLine(
            kind,
            test_attempt=_whole(data.get("attempt"), 1, MAX_ATTEMPTS),
            action=action,
            locator=_text(data.get("locator"), MAX_TEXT),
            outcome=str(outcome),
            duration_ms=_whole(data.get("duration_ms"), 0, MAX_MS),
            error=_text(data.get("error"), MAX_TEXT),
        )
    outcome = data.get("outcome")
    if outcome not in TEST_OUTCOMES:
        return None
    return ProgressLine(
        kind,
        test_attempt=_whole(data.get("attempts"), 0, MAX_ATTEMPTS),
        outcome=str(outcome),
        duration_ms=_whole(data.get("duration_ms"), 0, MAX_MS),
        error=_text(data.get("error"), MAX_TEXT),
    )


@dataclass
class EventPlacer:
    """Which test each event belongs to: the last one started (positions counted from 0)."""

    position: int = -1
    name: str | None = None
    open: bool = False

    def place(self, lines: Iterable[ProgressLine]) -> list[PlacedEvent]:
        placed = []
        for line in lines:
            if line.kind == "test_started":
                self.position += 1
                self.name, self.open = line.test_name or "", True
            elif not self.open or self.name is None:
                continue  # a step or an end outside any test: not ours to place
            placed.append(PlacedEvent(self.position, self.name, line))
            if line.kind == "test_finished":
                self.open = False
        return placed


@dataclass
class LiveTest:
    """One test as the live run page shows it."""

    position: int
    name: str
    started_at: datetime
    outcome: str = "running"
    duration_ms: int | None = None
    error: str | None = None
    steps: list[Any] = field(default_factory=list)
    shard: int | None = None  # a sharded run's tests: the shard running it (0-based)

    def elapsed_ms(self, now: datetime) -> int:
        if self.duration_ms is not None:
            return self.duration_ms
        return max(int((now - self.started_at).total_seconds() * 1000), 0)


def without_seen_starts(placed: list[PlacedEvent]) -> list[PlacedEvent]:
    """Drop each step start whose end came in the same read: only a step still going on when
    the worker looked needs its start stored (a step's end follows its start directly)."""
    kept = []
    for index, event in enumerate(placed):
        following = placed[index + 1] if index + 1 < len(placed) else None
        if (
            event.line.kind == "step_started"
            and following is not None
            and following.line.kind == "step"
            and following.test_position == event.test_position
        ):
            continue
        kept.append(event)
    return kept


def is_running_step(step: Any) -> bool:
    """A live step whose end has not been published yet."""
    return bool(step.kind == "step_started")


def live_tests(events: Iterable[Any], attempt: int) -> list[LiveTest]:
    """Fold stored events (rows of ``run_events``) of one attempt into tests and their steps.

    A step's start shows as a running step until its end replaces it; a test's end closes a
    step left running (the test stopped inside it)."""
    tests: dict[int, LiveTest] = {}
    for event in events:
        if event.attempt != attempt:
            continue
        test = tests.get(event.test_position)
        if event.kind == "test_started" or test is None:
            test = tests[event.test_position] = LiveTest(
                event.test_position, event.test_name, event.created_at
            )
        if event.kind == "step_started":
            test.steps.append(event)
        elif event.kind == "step":
            if test.steps and is_running_step(test.steps[-1]):
                test.steps[-1] = event
            else:
                test.steps.append(event)
        elif event.kind == "test_finished":
            if test.steps and is_running_step(test.steps[-1]):
                test.steps.pop()
            test.outcome = event.outcome or "error"
            test.duration_ms = event.duration_ms
            test.error = event.error
    return [tests[position] for position in sorted(tests)]
