"""Per-project settings, stored as JSON on the project and validated here."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ProjectSettings(BaseModel):
    """Tunables a project owner may change."""

    model_config = ConfigDict(extra="forbid")

    # Guardrail: whoever proposed a change set may not be the one who accepts it.
    require_distinct_reviewer: bool = False
    # Insights: isolated reruns queued to confirm a new flaky suspicion (0 = off).
    confirm_flaky_reruns: int = Field(default=0, ge=0, le=20)
    # Insight rule thresholds; keys are documented with the rules (docs/insights.md).
    insights: dict[str, Any] = Field(default_factory=dict)


def read_settings(raw: dict[str, Any] | None) -> ProjectSettings:
    return ProjectSettings.model_validate(raw or {})
