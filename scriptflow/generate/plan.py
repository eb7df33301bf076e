"""The plan model: what a generated test does, step by step, as plain data.

Two vocabularies meet here:

- `PlanOut` (and its steps) is what a language model may answer: actions and elements named
  the way a user names them (role and name, label, test id, text). It is structured output,
  validated by Pydantic, and never code.
- `ResolvedStep` is a step after it ran on the live page: the element's accessibility node,
  every locator candidate considered (rank, matches, whether its one match was this element)
  and the chosen one. Only resolved steps reach the code generator.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from scriptflow.generate.locator_spec import InvalidSpec, rank, render, validated


class Action(StrEnum):
    GOTO = "goto"
    CLICK = "click"
    FILL = "fill"
    SELECT = "select"
    CHECK = "check"
    EXPECT_VISIBLE = "expect_visible"
    EXPECT_TEXT = "expect_text"
    EXPECT_URL = "expect_url"
    EXPECT_TITLE = "expect_title"


ELEMENT_ACTIONS = frozenset(
    {
        Action.CLICK,
        Action.FILL,
        Action.SELECT,
        Action.CHECK,
        Action.EXPECT_VISIBLE,
        Action.EXPECT_TEXT,
    }
)
ASSERTIONS = frozenset(
    {Action.EXPECT_VISIBLE, Action.EXPECT_TEXT, Action.EXPECT_URL, Action.EXPECT_TITLE}
)
MAX_VALUE = 500


class PlanTarget(BaseModel):
    """How the model names an element: one of role (+ name), label, test id or text."""

    model_config = ConfigDict(extra="forbid")

    role: str | None = Field(default=None, max_length=40)
    name: str | None = Field(default=None, max_length=300)
    label: str | None = Field(default=None, max_length=300)
    test_id: str | None = Field(default=None, max_length=300)
    text: str | None = Field(default=None, max_length=300)


class PlanStep(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal[
        "goto", "click", "fill", "select", "check", "expect_visible", "expect_text", "expect_url"
    ]
    target: PlanTarget | None = None
    value: str | None = Field(
        default=None,
        max_length=MAX_VALUE,
        description="fill/select: the value; goto/expect_url: a path; expect_text: the text",
    )


class PlanOut(BaseModel):
    """The structured output asked of the model."""

    model_config = ConfigDict(extra="forbid")

    test_name: str = Field(max_length=80, description="snake_case, without the test_ prefix")
    steps: list[PlanStep] = Field(max_length=40)


@dataclass(frozen=True)
class Candidate:
    spec: list[dict[str, Any]]
    matches: int
    same: bool

    @property
    def rank(self) -> int:
        return rank(self.spec)

    def to_dict(self) -> dict[str, Any]:
        return {
            "locator": render(self.spec),
            "rank": self.rank,
            "matches": self.matches,
            "unique": self.same,
        }


@dataclass(frozen=True)
class ResolvedStep:
    """A step as it ran on the live page."""

    action: Action
    value: str | None = None
    locator: list[dict[str, Any]] | None = None
    node: str = ""
    candidates: tuple[Candidate, ...] = ()
    origin: str = "outline"  # outline | observed | title | plan
    exact: bool = True  # expect_text: the element's whole text is the value

    @property
    def is_assertion(self) -> bool:
        return self.action in ASSERTIONS


@dataclass(frozen=True)
class GeneratedTest:
    name: str
    steps: tuple[ResolvedStep, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def outcome_asserted(self) -> bool:
        """An assertion after the last action: the test checks what its actions did."""
        last_action = max(
            (i for i, s in enumerate(self.steps) if not s.is_assertion and s.action != "goto"),
            default=-1,
        )
        return any(s.is_assertion for s in self.steps[last_action + 1 :]) and last_action >= 0


class MalformedReport(ValueError):
    """The sandbox's report does not have the shape we wrote it in."""


def resolved_step(raw: object) -> ResolvedStep:
    """One step of the sandbox's (untrusted) report, validated."""
    if not isinstance(raw, Mapping):
        raise MalformedReport("a step is an object")
    try:
        action = Action(str(raw.get("action")))
    except ValueError as exc:
        raise MalformedReport(f"unknown action {str(raw.get('action'))[:40]!r}") from exc
    value = raw.get("value")
    if value is not None and (not isinstance(value, str) or len(value) > MAX_VALUE):
        raise MalformedReport("a value is a short string")
    try:
        locator = validated(raw["locator"]) if raw.get("locator") is not None else None
        candidates = tuple(
            Candidate(validated(c.get("spec")), int(c.get("matches", 0)), c.get("same") is True)
            for c in _list(raw.get("candidates"))
            if isinstance(c, Mapping)
        )
    except (InvalidSpec, TypeError, ValueError) as exc:
        raise MalformedReport(str(exc)) from exc
    if action in ELEMENT_ACTIONS and locator is None:
        raise MalformedReport(f"{action} needs an element")
    node = raw.get("node")
    return ResolvedStep(
        action=action,
        value=value,
        locator=locator,
        node=node[:300] if isinstance(node, str) else "",
        candidates=candidates[:20],
        origin=str(raw.get("origin", "outline"))[:20],
        exact=raw.get("exact") is not False,
    )


def resolved_steps(raw: Sequence[object]) -> tuple[ResolvedStep, ...]:
    return tuple(resolved_step(step) for step in raw)


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []
