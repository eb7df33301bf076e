from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from app.schemas import RequestModel, ResponseModel, Version


class ScriptIn(RequestModel):
    project_id: uuid.UUID
    title: str = Field(min_length=1, max_length=300)
    content: str


class ScriptPatch(RequestModel):
    title: str | None = Field(default=None, min_length=1, max_length=300)
    content: str | None = None
    expected_version: Version | None = None


class ScriptOut(ResponseModel):
    id: uuid.UUID
    project_id: uuid.UUID
    title: str
    content: str
    version: int
    created_at: datetime
    updated_at: datetime


class RevisionOut(ResponseModel):
    id: uuid.UUID
    script_id: uuid.UUID
    version: int
    diff: str
    content: str
    source: str
    changeset_id: uuid.UUID | None
    applied_by: uuid.UUID | None
    message: str | None
    created_at: datetime


class RevertIn(RequestModel):
    version: Version
