"""The documented confidence rule."""

from __future__ import annotations

from scriptflow.enhance.confidence import changeset_confidence
from scriptflow.enhance.proposal import Finding
from scriptflow.scripts.diffing import parse_hunks, unified_diff

BASE = "".join(f"line{i}\n" for i in range(1, 31))


def finding(line: int, confidence: float, *, changed: bool = True) -> Finding:
    return Finding("r", line, line, "flow", "why", confidence, changed)


def hunks_changing(*lines: int) -> list:
    new = BASE
    for line in lines:
        new = new.replace(f"line{line}\n", f"LINE{line}\n")
    return parse_hunks(unified_diff(BASE, new))


def test_the_weakest_change_decides() -> None:
    hunks = hunks_changing(2, 20)
    assert changeset_confidence([finding(2, 0.95), finding(20, 0.8)], hunks, "low") == 0.8


def test_findings_that_change_nothing_do_not_count() -> None:
    hunks = hunks_changing(2)
    score = changeset_confidence([finding(2, 0.9), finding(9, 0.1, changed=False)], hunks, "low")
    assert score == 0.9


def test_an_unexplained_hunk_caps_at_one_half() -> None:
    hunks = hunks_changing(2, 20)
    assert changeset_confidence([finding(2, 0.95)], hunks, "low") == 0.5
    assert changeset_confidence([], hunks, "low") == 0.5


def test_high_risk_caps_at_three_tenths() -> None:
    hunks = hunks_changing(2)
    assert changeset_confidence([finding(2, 0.95)], hunks, "high") == 0.3


def test_a_model_grading_itself_counts_at_most_nine_tenths() -> None:
    hunks = hunks_changing(2)
    assert changeset_confidence([finding(2, 1.0)], hunks, "low", from_model=True) == 0.9


def test_confidence_stays_within_bounds() -> None:
    hunks = hunks_changing(2)
    for value in (-1.0, 0.0, 0.37, 1.0, 7.0):
        assert 0.0 <= changeset_confidence([finding(2, value)], hunks, "low") <= 1.0
