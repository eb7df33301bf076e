"""The `openai` generator: the model plans, the live page resolves, our code generator writes.

The model sees the description and a trimmed accessibility outline and answers a `PlanOut`
(structured output): steps naming elements the way a user does. It never writes code: the
plan is executed step by step in the sandbox (`scriptflow.generate.explorer`), which is how
each element is found and its locator verified, and `scriptflow.generate.codegen` compiles
what ran. A plan that names an element the page does not have, or that asserts nothing after
its last action, is `502 AI_OUTPUT_INVALID` saying what failed; nothing is stored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from scriptflow.errors import AIOutputInvalid, AIProviderUnavailable
from scriptflow.generate.codegen import function_name_for
from scriptflow.generate.plan import (
    Action,
    GeneratedTest,
    MalformedReport,
    PlanOut,
    ResolvedStep,
    resolved_steps,
)
from scriptflow.structured_ai import ProviderConfig, structured_answer

DEFAULT_MODEL = "gpt-4o-mini"
_RELATIVE_PATH = re.compile(r"^/(?:[^/\s\\][^\s\\]*)?$")
MAX_OUTLINE_CHARS = 6000
SYSTEM_PROMPT = """\
You plan browser tests. Given what the user wants tested and the page's accessibility outline \
(Playwright aria snapshot), answer a plan: steps with an action and, for element steps, a \
target naming the element as the outline shows it — a role and its accessible name, a label, \
a test id, or visible text. Actions: goto (value: a path), click, fill (value), select (value: \
the option's label), check, expect_visible, expect_text (value: the text), expect_url (value: \
part of the path). End with at least one expect_* step checking the outcome. Never write code."""


class Planner(Protocol):
    """Turns a description and an outline into a plan (and names the model used)."""

    async def plan(
        self, *, description: str, path: str, outline: str, model: str | None
    ) -> tuple[PlanOut, str]: ...


@dataclass
class OpenAIPlanner:
    api_key: str | None
    base_url: str | None = None
    timeout_s: float = 60.0
    max_retries: int = 2
    default_model: str = DEFAULT_MODEL

    async def plan(
        self, *, description: str, path: str, outline: str, model: str | None
    ) -> tuple[PlanOut, str]:
        if not self.api_key:
            raise AIProviderUnavailable(
                "The openai generator is not configured: set OPENAI_API_KEY (and "
                "OPENAI_BASE_URL for an OpenAI-compatible server), or use the 'rules' provider"
            )
        chosen = model or self.default_model
        user = (
            f"Test to write: {description}\nPage path: {path}\n"
            f"Accessibility outline:\n{outline[:MAX_OUTLINE_CHARS]}"
        )
        plan = await structured_answer(
            ProviderConfig(self.api_key, self.base_url, self.timeout_s, self.max_retries),
            model=chosen,
            system=SYSTEM_PROMPT,
            user=user,
            shape=PlanOut,
            what="plan",
        )
        _require_relative_paths(plan, chosen)
        _require_outcome(plan, chosen)
        return plan, chosen


def _require_relative_paths(plan: PlanOut, model: str) -> None:
    """Navigation stays on the environment: a plan's goto names a path, never another host."""
    for number, step in enumerate(plan.steps):
        if step.action == "goto" and not _RELATIVE_PATH.match(step.value or ""):
            raise AIOutputInvalid(
                f"Step {number + 1} of the model's plan goes to {str(step.value)[:80]!r}, not a "
                "path on the environment; nothing was stored",
                details={"model": model, "step": number, "problem": "not_a_path"},
            )


def _require_outcome(plan: PlanOut, model: str) -> None:
    """A plan must check something after its last action, or it tests nothing."""
    last_action = max(
        (i for i, s in enumerate(plan.steps) if not s.action.startswith("expect")), default=-1
    )
    if not any(s.action.startswith("expect") for s in plan.steps[last_action + 1 :]):
        raise AIOutputInvalid(
            "The model's plan asserts no outcome after its last action; nothing was stored",
            details={"model": model, "problem": "no_outcome_assertion"},
        )


def plan_tests(plan: PlanOut, report: Mapping[str, Any], path: str) -> list[GeneratedTest]:
    """The test the plan became on the live page; 502 naming the step that could not run."""
    failed = report.get("failed")
    if isinstance(failed, Mapping):
        number = failed.get("step")
        index = number if isinstance(number, int) and 0 <= number < len(plan.steps) else None
        step = plan.steps[index].model_dump(exclude_none=True) if index is not None else None
        raise AIOutputInvalid(
            f"Step {index + 1 if index is not None else '?'} of the model's plan could not be "
            f"done on the page: {str(failed.get('error', ''))[:300]}; nothing was stored",
            details={"step": index, "planned": step, "problem": "unresolvable_step"},
        )
    try:
        raw = report.get("steps")
        steps = resolved_steps(raw if isinstance(raw, list) else [])
    except MalformedReport as exc:
        raise AIOutputInvalid(f"The plan's live run reported nonsense: {exc}") from exc
    if len(steps) != len(plan.steps):
        raise AIOutputInvalid("The plan did not run to its end; nothing was stored")
    if not steps or steps[0].action != Action.GOTO:
        steps = (ResolvedStep(Action.GOTO, value=path, origin="plan"), *steps)
    test = GeneratedTest(function_name_for(plan.test_name.removeprefix("test_")), steps)
    if not test.outcome_asserted:
        raise AIOutputInvalid(
            "The model's plan asserts no outcome after its last action; nothing was stored",
            details={"problem": "no_outcome_assertion"},
        )
    return [test]
