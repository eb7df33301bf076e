from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import EmailStr, Field

from app.schemas import RequestModel, ResponseModel
from scriptflow.auth.models import User
from scriptflow.projects.models import ProjectMember
from scriptflow.projects.roles import Role


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
    role: Role | None = None
    created_at: datetime
    updated_at: datetime


class MemberIn(RequestModel):
    email: EmailStr
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
    base_url: str = Field(min_length=1, max_length=2048)


class EnvironmentPatch(RequestModel):
    name: str | None = Field(
        default=None, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
    )
    base_url: str | None = Field(default=None, min_length=1, max_length=2048)


class EnvironmentOut(ResponseModel):
    id: uuid.UUID
    project_id: uuid.UUID
    name: str
    base_url: str
    created_at: datetime
    updated_at: datetime
