"""The project tree and archive imports."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from app.schemas import ResponseModel
from scriptflow.scripts.archives import SkipReason
from scriptflow.scripts.paths import FileKind


class FileOut(ResponseModel):
    """One file of the tree, without its content (`GET /v1/scripts/{id}` has that)."""

    id: uuid.UUID = Field(description="the file's script id")
    path: str
    kind: FileKind
    version: int
    size_bytes: int = Field(description="size of the content in UTF-8")
    sha256: str = Field(description="hex SHA-256 of the content in UTF-8")
    updated_at: datetime


class SkippedOut(ResponseModel):
    path: str
    reason: SkipReason = Field(
        description="binary (not UTF-8 text), too_large, outside_tree (a hidden folder, "
        "__pycache__, or a type the tree does not hold), invalid_path, ignored"
    )


class ImportOut(ResponseModel):
    """What an import did, path by path; importing the same archive again changes nothing."""

    created: list[str]
    updated: list[str]
    unchanged: list[str]
    skipped: list[SkippedOut]
