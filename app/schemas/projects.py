from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field

from app.schemas import MAX_DB_INT, Email, RequestModel, ResponseModel
from scriptflow.auth.models import User
from scriptflow.projects.models import Project, ProjectMember
from scriptflow.projects.roles import Role

# An absolute http(s) URL with a host, as the service checks it.
_PORT = r"([0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
BASE_URL_PATTERN = rf"^https?://[A-Za-z0-9._~%+-]+(:{_PORT})?([/?#][^\s\x00]*)?$"


class ProjectIn(RequestModel):
    name: str = Field(min_length=1, max_length=200)


Count = Annotated[int, Field(ge=0, le=MAX_DB_INT)]
Rate = Annotated[float, Field(ge=0, le=1_000_000)]


class InsightThresholdsIn(RequestModel):
    """Overrides of the insight rules' thresholds (docs/insights.md); unset keys keep theirs.

    One field per `scriptflow.insights.thresholds.Thresholds` field (a test keeps them equal),
    so the schema names every key a project may set and nothing else is accepted.
    """

    window_runs: Count | None = None
    flaky_min_runs: Count | None = None
    flaky_min_flip_rate: Rate | None = None
    flaky_min_retry_passes: Count | None = None
    selector_min_executions: Count | None = None
    selector_min_failures: Count | None = None
    selector_max_failure_rate: Rate | None = None
    slow_recent_runs: Count | None = None
    slow_min_samples: Count | None = None
    slow_min_ratio: Rate | None = None
    slow_min_delta_ms: Count | None = None
    recurring_min_occurrences: Count | None = None
    env_min_runs: Count | None = None
    env_min_failure_rate: Rate | None = None
    env_max_other_failure_rate: Rate | None = None
    fix_min_runs: Count | None = None
    fix_max_pass_rate_drop: Rate | None = None
    fix_max_flip_rate_rise: Rate | None = None
    fix_max_p95_ratio: Rate | None = None
    confirmation_reruns: Count | None = None
    wilson_z: Rate | None = None
    max_evidence_items: Count | None = None


class ProjectSettingsIn(RequestModel):
    """The settings a project owner may change; keys left out keep their value."""

    require_distinct_reviewer: bool | None = None
    confirm_flaky_reruns: int | None = Field(default=None, ge=0, le=20)
    insights: InsightThresholdsIn | None = None

    def changes(self) -> dict[str, Any]:
        """The keys given, as the project stores them (the thresholds replace the old ones)."""
        return self.model_dump(exclude_none=True)


class ProjectPatch(RequestModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    settings: ProjectSettingsIn | None = None


class ProjectOut(ResponseModel):
    id: uuid.UUID
    owner_id: uuid.UUID
    name: str
    settings: dict[str, Any]
    role: Role
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, project: Project, role: Role) -> ProjectOut:
        """A project as the API shows it to a member with `role`."""
        return cls(
            id=project.id,
            owner_id=project.owner_id,
            name=project.name,
            settings=project.settings,
            role=role,
            created_at=project.created_at,
            updated_at=project.updated_at,
        )


class MemberIn(RequestModel):
    email: Email
    role: Role


class MemberOut(ResponseModel):
    user_id: uuid.UUID
    email: str
    role: Role
    created_at: datetime

    @classmethod
    def of(cls, member: ProjectMember, user: User) -> MemberOut:
        """A membership as the API shows it: the member's user, role and since when."""
        return cls(
            user_id=user.id, email=user.email, role=Role(member.role), created_at=member.created_at
        )


class EnvironmentIn(RequestModel):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    base_url: str = Field(min_length=1, max_length=2048, pattern=BASE_URL_PATTERN)


class EnvironmentPatch(RequestModel):
    name: str | None = Field(
        default=None, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
    )
    base_url: str | None = Field(
        default=None, min_length=1, max_length=2048, pattern=BASE_URL_PATTERN
    )


class EnvironmentOut(ResponseModel):
    id: uuid.UUID
    project_id: uuid.UUID
    name: str
    base_url: str
    created_at: datetime
    updated_at: datetime
