"""Words for a change set's risk and confidence, shared by the enhance and review notebooks."""

from __future__ import annotations

from typing import Any

from scriptflow.enhance.confidence import HIGH_RISK_CAP, MODEL_CAP, UNEXPLAINED_CAP

RISK_LABELS = {
    "removes_assertion": "removes an assertion, so the test checks less",
    "weakens_assertion": "weakens an assertion (a looser matcher or one that always holds)",
    "adds_hard_wait": "adds a hard wait (a fixed sleep instead of waiting for the page)",
    "skips_test": "skips or xfails a test",
    "deletes_steps": "deletes steps the test performed",
}


def risk_reasons(hunks: list[dict[str, Any]]) -> list[str]:
    """The guardrail reasons behind a change set's risk, in words, each once."""
    found = sorted({risk for hunk in hunks for risk in hunk.get("risks", [])})
    return [RISK_LABELS.get(risk, risk) for risk in found]


def confidence_rule(confidence: float, risk: str, provider: str) -> str:
    """Which step of the documented confidence rule gave a change set its number."""
    if risk == "high" and confidence <= HIGH_RISK_CAP:
        return (
            f"capped at {HIGH_RISK_CAP:.2f} because a guardrail flagged a hunk: a high-risk "
            "change set never reads as confident, whatever its findings say"
        )
    if confidence == UNEXPLAINED_CAP:
        return f"capped at {UNEXPLAINED_CAP:.2f}: a hunk changes lines no finding accounts for"
    if provider != "rules" and confidence == MODEL_CAP:
        return f"a model grades itself, so its findings count at most {MODEL_CAP:.2f}"
    return (
        "the least confident finding that changes the script: a change set is only as "
        "trustworthy as its weakest change"
    )


def unlinked(email: str) -> str:
    """An email for markdown that stays text (markdown would make it a mailto link)."""
    return email.replace("@", "&#64;")
