"""Is this a raw `playwright codegen` recording? A pure look at the module's syntax tree.

A recording runs at import (module-level ``with sync_playwright()``), opens a headed browser
(``launch(headless=False)``), navigates to absolute URLs and asserts nothing: it replays
clicks but tests nothing, and it cannot run under pytest-playwright's fixtures. Nothing in it
is wrong line by line, so the rules would answer "nothing to improve"; they flag it instead,
and Generate converts it into a test (``scriptflow.generate.recording``).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from scriptflow.enhance.proposal import Finding

RULE = "flow.codegen-recording"
CONFIDENCE = 0.9


@dataclass(frozen=True)
class RecordingTraits:
    runner_line: int | None  # the module-level `with sync_playwright()`
    headed: bool
    absolute_urls: int
    assertions: int

    @property
    def is_recording(self) -> bool:
        return self.runner_line is not None and (
            self.headed or self.absolute_urls > 0 or self.assertions == 0
        )


def recording_traits(tree: ast.Module) -> RecordingTraits:
    runner = next(
        (
            stmt.lineno
            for stmt in tree.body
            if isinstance(stmt, ast.With | ast.AsyncWith)
            and any(
                _calls(item.context_expr, ("sync_playwright", "async_playwright"))
                for item in stmt.items
            )
        ),
        None,
    )
    headed = absolute = assertions = 0
    for node in ast.walk(tree):
        if isinstance(node, ast.Assert):
            assertions += 1
        if not isinstance(node, ast.Call):
            continue
        name = _name(node.func)
        if name == "expect":
            assertions += 1
        if name == "launch" and any(
            k.arg == "headless" and isinstance(k.value, ast.Constant) and k.value.value is False
            for k in node.keywords
        ):
            headed += 1
        if (
            name == "goto"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and node.args[0].value.startswith(("http://", "https://"))
        ):
            absolute += 1
    return RecordingTraits(runner, headed > 0, absolute, assertions)


def recording_finding(tree: ast.Module) -> Finding | None:
    """A report-only finding on a codegen recording, saying what makes it one."""
    traits = recording_traits(tree)
    if not traits.is_recording or traits.runner_line is None:
        return None
    seen = ["module-level sync_playwright() (it runs at import, outside pytest's fixtures)"]
    if traits.headed:
        seen.append("launch(headless=False)")
    if traits.absolute_urls:
        seen.append(f"{traits.absolute_urls} absolute URL(s) tied to one environment")
    if not traits.assertions:
        seen.append("no assertion: it replays steps but checks nothing")
    return Finding(
        RULE,
        traits.runner_line,
        traits.runner_line,
        "flow",
        "A playwright codegen recording: "
        + "; ".join(seen)
        + ". Convert it into a pytest-playwright test with an outcome assertion "
        "(Generate, from a recording).",
        CONFIDENCE,
        changed=False,
    )


def _calls(expr: ast.expr, names: tuple[str, ...]) -> bool:
    return isinstance(expr, ast.Call) and _name(expr.func) in names


def _name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None
