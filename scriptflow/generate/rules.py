"""The deterministic generator: a page's forms, filled, submitted and checked as observed.

The live work (reading the page, filling, submitting, watching the outcome) happens in the
sandbox (`scriptflow.generate.explorer`); this turns its report into tests. Same page in,
same report out, same code out: the values come from the field types, the locators from a
fixed order, the outcome from what the page showed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scriptflow.generate.codegen import function_name_for, unique_names
from scriptflow.generate.plan import (
    Action,
    GeneratedTest,
    MalformedReport,
    ResolvedStep,
    resolved_step,
    resolved_steps,
)


class NothingToAssert(ValueError):
    """The page gave no action whose outcome could be observed: there is no test to write."""


def generated_tests(report: Mapping[str, Any]) -> tuple[list[GeneratedTest], list[str]]:
    """One test per form that has an observed outcome, and notes on what was left out."""
    path = report.get("path")
    if not isinstance(path, str):
        raise MalformedReport("the report names no path")
    goto = ResolvedStep(Action.GOTO, value=path, origin="plan")
    identity = report.get("identity")
    opening = [goto] + ([resolved_step(identity)] if identity else [])
    forms = report.get("forms")
    if not isinstance(forms, list):
        raise MalformedReport("the report has no forms list")
    drafts: list[tuple[str, GeneratedTest]] = []
    notes: list[str] = []
    for form in forms:
        if not isinstance(form, Mapping):
            raise MalformedReport("a form is an object")
        steps = resolved_steps(_list(form.get("steps")))
        outcome = resolved_steps(_list(form.get("outcome")))
        notes += [str(note)[:200] for note in _list(form.get("skipped"))]
        number = int(form.get("index", 0)) + 1
        if not outcome:
            notes.append(f"form {number}: no outcome was observed after submitting it; left out")
            continue
        test = GeneratedTest(name="", steps=tuple(opening + list(steps) + list(outcome)))
        drafts.append((_test_name(path, steps), test))
    if not drafts:
        raise NothingToAssert(
            "The page has no form whose submission showed an outcome, so there is nothing to "
            "assert; describe a flow and use the openai provider, or write the test by hand"
        )
    names = unique_names([name for name, _ in drafts])
    tests = [GeneratedTest(name, test.steps) for name, (_, test) in zip(names, drafts, strict=True)]
    return tests, notes


def _test_name(path: str, steps: tuple[ResolvedStep, ...]) -> str:
    """From the page and the submit button (and the container that names a repeated one)."""
    click = next((s for s in reversed(steps) if s.action == Action.CLICK), None)
    words = [path]
    if click is not None and click.locator:
        for segment in click.locator:
            words += [str(segment.get("name") or ""), str(segment.get("test_id") or "")]
            if segment["method"] == "filter":
                words.append(str(segment["has_text"]))
    return function_name_for(*words)


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []
