"""Classify every hunk of a proposed diff and decide the change set's risk (pure functions).

A hunk is risky when it removes or weakens an assertion, adds a hard wait, skips or xfails a
test, or deletes steps. The checks read the hunk's lines, so they hold for any provider,
including a language model whose output we do not trust.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any, Literal

from scriptflow.scripts.diffing import Hunk, parse_hunks


class Risk(StrEnum):
    """A change set is high risk when any of its hunks is (see RiskReason)."""

    LOW = "low"
    HIGH = "high"


RiskReason = Literal[
    "removes_assertion", "weakens_assertion", "adds_hard_wait", "skips_test", "deletes_steps"
]

_ASSERTION = re.compile(r"^\s*assert\b|\bexpect\s*\(|\bself\.assert\w*\s*\(")
_STRONG_MATCHER = re.compile(r"\.(?:not_)?to_have_(?:text|url|title|value|values|count)\s*\(")
_WEAK_MATCHER = re.compile(r"\.(?:not_)?to_contain_text\s*\(|\bre\.compile\s*\(\s*r?[\"']\.\*")
_VACUOUS_ASSERT = re.compile(r"^\s*assert\s+(?:True|1|not\s+False)\b|\bor\s+True\b")
_HARD_WAIT = re.compile(
    r"\bwait_for_timeout\s*\(|\btime\.sleep\s*\(|\basyncio\.sleep\s*\(|^\s*(?:await\s+)?sleep\s*\("
)
_SKIP = re.compile(
    r"\bpytest\.(?:skip|xfail)\s*\(|@pytest\.mark\.(?:skip|skipif|xfail)\b|\bunittest\.skip"
    r"|@(?:skip|skipIf|skipUnless|expectedFailure)\b|\.skipTest\s*\("
)
_STEP = re.compile(
    r"\.(?:click|dblclick|fill|type|press|press_sequentially|check|uncheck|select_option"
    r"|set_input_files|set_checked|hover|tap|focus|clear|drag_to|drag_and_drop|dispatch_event"
    r"|goto|reload|go_back|go_forward)\s*\("
)
_TEST_DEF = re.compile(r"^\s*(?:async\s+)?def\s+test\w*\s*\(")
_LOCATOR = re.compile(r"\b(?:locator|get_by_\w+|frame_locator|query_selector\w*)\s*\(|[\"'][#.\[/]")
_URL = re.compile(r"\b(?:goto|wait_for_url|to_have_url|route)\s*\(|https?://")

# What a change touches: the category of a hunk here, of a finding in enhance.
Category = Literal["locator", "wait", "assertion", "flow", "url"]


@dataclass(frozen=True)
class HunkReport:
    """What one hunk changes and why it is risky, if it is."""

    index: int
    old_start: int
    old_len: int
    new_start: int
    new_len: int
    categories: list[Category]
    risks: list[RiskReason]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form, as stored on the change set."""
        return asdict(self)


def classify_diff(diff: str) -> list[HunkReport]:
    """One report per hunk of a unified diff."""
    return [classify_hunk(hunk, index) for index, hunk in enumerate(parse_hunks(diff), start=1)]


def classify_hunk(hunk: Hunk, index: int = 1) -> HunkReport:
    """Categories touched and risks taken by one hunk."""
    removed = _code(hunk.removed)
    added = _code(hunk.added)
    risks: list[RiskReason] = []
    if _count(_ASSERTION, removed) > _count(_ASSERTION, added):
        risks.append("removes_assertion")
    if _count(_VACUOUS_ASSERT, added) > _count(_VACUOUS_ASSERT, removed) or (
        _count(_STRONG_MATCHER, removed) > _count(_STRONG_MATCHER, added)
        and _count(_WEAK_MATCHER, added) > _count(_WEAK_MATCHER, removed)
    ):
        risks.append("weakens_assertion")
    if _count(_HARD_WAIT, added) > _count(_HARD_WAIT, removed):
        risks.append("adds_hard_wait")
    if _count(_SKIP, added) > _count(_SKIP, removed):
        risks.append("skips_test")
    if _count(_STEP, removed) > _count(_STEP, added) or _count(_TEST_DEF, removed) > _count(
        _TEST_DEF, added
    ):
        risks.append("deletes_steps")
    return HunkReport(
        index=index,
        old_start=hunk.old_start,
        old_len=hunk.old_len,
        new_start=hunk.new_start,
        new_len=hunk.new_len,
        categories=_categories(removed + added),
        risks=risks,
    )


def risk_of(reports: list[HunkReport]) -> Risk:
    """High as soon as one hunk takes a risk."""
    return Risk.HIGH if any(report.risks for report in reports) else Risk.LOW


def changed_old_lines(hunk: Hunk) -> tuple[int, int]:
    """The base lines a hunk touches: removed lines, or the two around a pure insertion."""
    line = hunk.old_start if hunk.old_len else hunk.old_start + 1
    touched: list[int] = []
    inserted_after: int | None = None
    for body_line in hunk.lines:
        if body_line.tag == "-":
            touched.append(line)
            line += 1
        elif body_line.tag == " ":
            line += 1
        elif inserted_after is None:
            inserted_after = line - 1
    if touched:
        return min(touched), max(touched)
    after = inserted_after if inserted_after is not None else line - 1
    return max(after, 1), after + 1


def _code(lines: list[str]) -> list[str]:
    # Comment-only lines neither assert nor act; counting them would hide a removed step.
    return [line for line in lines if line.strip() and not line.lstrip().startswith("#")]


def _count(pattern: re.Pattern[str], lines: list[str]) -> int:
    return sum(len(pattern.findall(line)) for line in lines)


def _categories(lines: list[str]) -> list[Category]:
    found: list[Category] = []
    if any(_HARD_WAIT.search(line) or "wait_for" in line for line in lines):
        found.append("wait")
    if any(_ASSERTION.search(line) for line in lines):
        found.append("assertion")
    if any(_LOCATOR.search(line) for line in lines):
        found.append("locator")
    if any(_URL.search(line) for line in lines):
        found.append("url")
    return found or ["flow"]
