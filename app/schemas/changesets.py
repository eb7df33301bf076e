from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, computed_field

from app.schemas import RequestModel, ResponseModel
from scriptflow.changesets.guardrails import classify_hunk
from scriptflow.scripts.diffing import DiffDoesNotApply
from scriptflow.scripts.hunks import format_hunk, review_hunks


class LocatorHintIn(RequestModel):
    """What is known about the element a selector matched (e.g. from a run's trace)."""

    role: str | None = Field(default=None, max_length=100)
    name: str | None = Field(default=None, max_length=500)
    test_id: str | None = Field(default=None, max_length=500)
    label: str | None = Field(default=None, max_length=500)


class EnhanceIn(RequestModel):
    prompt: str | None = Field(default=None, max_length=4000)
    provider: Literal["rules", "openai"] = "rules"
    model: str | None = Field(default=None, max_length=100)
    temperature: float | None = Field(default=None, ge=0, le=2)
    locator_hints: dict[str, LocatorHintIn] = Field(default_factory=dict, max_length=1000)


class LocatorCandidateOut(ResponseModel):
    locator: str
    rank: int = Field(description="Playwright's priority: 1 test id … 7 CSS")
    matches: int
    unique: bool = Field(description="It matched exactly the element acted on")


class VerificationOut(ResponseModel):
    runs: int
    passed: int
    run_ids: list[uuid.UUID]
    durations_ms: list[int]


class FindingOut(ResponseModel):
    rule: str
    line_start: int
    line_end: int
    category: Literal["locator", "wait", "assertion", "flow", "url"]
    rationale: str
    confidence: float
    changed: bool
    # Generated lines' provenance: the accessibility node, the chosen locator, every
    # candidate considered (rank, matches, whether its one match was the element).
    node: str | None = None
    locator: str | None = None
    candidates: list[LocatorCandidateOut] | None = None
    unique: bool | None = None


class HunkOut(ResponseModel):
    index: int
    old_start: int
    old_len: int
    new_start: int
    new_len: int
    categories: list[str]
    risks: list[str]


class ReviewHunkOut(ResponseModel):
    """One run of changed lines: what `accept` takes by number in ``hunks``."""

    index: int
    old_start: int
    old_len: int
    new_start: int
    new_len: int
    categories: list[str]
    risks: list[str]
    diff: str


class ChangeSetOut(ResponseModel):
    id: uuid.UUID | None
    script_id: uuid.UUID
    proposed_diff: str
    ai_model: str | None
    confidence: float
    status: Literal["proposed", "accepted", "rejected", "no_changes", "generating", "failed"]
    created_at: datetime | None
    base_version: int
    provider: str
    prompt: str | None
    temperature: float | None
    findings: list[FindingOut]
    hunks: list[HunkOut]
    risk: Literal["low", "high"]
    proposed_by: uuid.UUID | None
    decided_by: uuid.UUID | None
    decided_at: datetime | None
    decision_reason: str | None
    accepted_hunks: list[int] | None = None
    revision_id: uuid.UUID | None
    # Generated change sets (a new file, base_version 0): where it goes, how it was verified.
    target_path: str | None = None
    verification: VerificationOut | None = None
    failure_reason: str | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def review_hunks(self) -> list[ReviewHunkOut]:
        """The diff split at every unchanged line, numbered from 0, each with its guardrails."""
        try:
            pieces = review_hunks(self.proposed_diff)
        except DiffDoesNotApply:
            return []
        out = []
        for piece in pieces:
            report = classify_hunk(piece.hunk, piece.index)
            out.append(
                ReviewHunkOut(
                    index=piece.index,
                    old_start=piece.hunk.old_start,
                    old_len=piece.hunk.old_len,
                    new_start=piece.hunk.new_start,
                    new_len=piece.hunk.new_len,
                    categories=list(report.categories),
                    risks=list(report.risks),
                    diff=format_hunk(piece.shown),
                )
            )
        return out


class AcceptIn(RequestModel):
    acknowledge_risk: bool = False
    hunks: list[Annotated[int, Field(ge=0, le=100_000)]] | None = Field(
        default=None,
        min_length=1,
        max_length=10_000,
        description="Review hunks to take (numbers from `review_hunks`); all when omitted.",
    )
    expected_version: int | None = Field(
        default=None, ge=1, description="The script version reviewed; 409 if it moved on."
    )


class AcceptOut(ResponseModel):
    revision_id: uuid.UUID
    version: int
    status: Literal["accepted"] = "accepted"


class RejectIn(RequestModel):
    # Not blank when a body is sent: the reason is the decision trail's "why". The seed's
    # reject has no body, so a bodiless reject stays valid and records no reason.
    reason: str = Field(min_length=1, max_length=2000, pattern=r"\S", description="Why.")
    expected_version: int | None = Field(
        default=None, ge=1, description="The script version reviewed; 409 if it moved on."
    )


class RejectOut(ResponseModel):
    status: Literal["rejected"] = "rejected"


class CommentIn(RequestModel):
    body: str = Field(
        min_length=1, max_length=4000, pattern=r"\S", description="The note, in plain text."
    )
    hunk: int | None = Field(
        default=None, ge=0, le=100_000, description="A review hunk's number; omit for the whole."
    )


class CommentOut(ResponseModel):
    id: uuid.UUID
    hunk: int | None
    author_id: uuid.UUID | None
    body: str
    created_at: datetime
