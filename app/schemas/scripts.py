from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field

from app.schemas import RequestModel, ResponseModel, Version
from scriptflow.scripts.paths import MAX_PATH_LENGTH, PATH_PATTERN, FileKind

PATH_DESCRIPTION = (
    "Relative posix path in the project's tree, e.g. `tests/test_login.py`, `pages/login.py`, "
    "`data/users.json`: no `..`, no leading `/`, no backslash or colon; a .py or a data file "
    "(.json, .csv, .txt, .yaml, .yml)"
)
FilePath = Annotated[
    str,
    Field(
        min_length=1, max_length=MAX_PATH_LENGTH, pattern=PATH_PATTERN, description=PATH_DESCRIPTION
    ),
]


class ScriptIn(RequestModel):
    project_id: uuid.UUID
    title: str = Field(min_length=1, max_length=300)
    content: str
    path: FilePath | None = Field(
        default=None, description="Where the file goes; without it, `tests/test_<title>.py`"
    )


class ScriptPatch(RequestModel):
    title: str | None = Field(default=None, min_length=1, max_length=300)
    content: str | None = None
    path: FilePath | None = Field(default=None, description="Move the file here")
    expected_version: Version | None = None


class ScriptOut(ResponseModel):
    id: uuid.UUID
    project_id: uuid.UUID
    title: str
    path: str = Field(description=PATH_DESCRIPTION)
    kind: FileKind = Field(
        description="test, support (page objects, conftest), data, or config (pytest.ini, "
        "pyproject.toml, tox.ini, setup.cfg)"
    )
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
