from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field

from app.schemas import Email, RequestModel, ResponseModel
from scriptflow.auth.models import User
from scriptflow.projects.models import Project, ProjectMember
from scriptflow.projects.roles import Role

# An absolute http(s) URL with a host, as the service checks it.
_PORT = r"([0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
BASE_URL_PATTERN = rf"^https?://[A-Za-z0-9._~%+-]+(:{_PORT})?([/?#][^\s\x00]*)?$"


class ProjectIn(RequestModel):
    name: str = Field(min_length=1, max_length=200)


class ProjectPatch(RequestModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    settings: dict[str, Any] | None = None


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
