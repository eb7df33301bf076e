"""The documented confidence rule: how sure a change set is, from its findings and hunks.

1. Start from the least confident finding that changes the script (1.0 if there is none):
   a change set is only as trustworthy as its weakest change.
2. A model grades itself, so a finding from a language model counts at most 0.9.
3. If a hunk changes lines that no changing finding accounts for, cap at 0.5.
4. If the change set is high risk (see guardrails), cap at 0.3.
5. The result is clamped to [0, 1] and rounded to two decimals.
"""

from __future__ import annotations

from scriptflow.changesets.guardrails import Risk, changed_old_lines
from scriptflow.enhance.proposal import Finding
from scriptflow.scripts.diffing import Hunk

MODEL_CAP = 0.9
UNEXPLAINED_CAP = 0.5
HIGH_RISK_CAP = 0.3


def changeset_confidence(
    findings: list[Finding], hunks: list[Hunk], risk: Risk, *, from_model: bool = False
) -> float:
    """Confidence of a change set in [0, 1], by the rule in this module's docstring."""
    changing = [finding for finding in findings if finding.changed]
    scores = [min(f.confidence, MODEL_CAP) if from_model else f.confidence for f in changing]
    value = min(scores, default=1.0)
    if any(not _explained(hunk, changing) for hunk in hunks):
        value = min(value, UNEXPLAINED_CAP)
    if risk == Risk.HIGH:
        value = min(value, HIGH_RISK_CAP)
    return round(max(0.0, min(1.0, value)), 2)


def _explained(hunk: Hunk, findings: list[Finding]) -> bool:
    first, last = changed_old_lines(hunk)
    return any(f.line_start <= last and f.line_end >= first for f in findings)
