"""A project's tree of files: the listing and archive imports."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import UploadFile

from app.deps import CurrentUser, SessionDep, SettingsDep, UserOutsideTransaction
from app.schemas.files import FileOut, ImportOut, SkippedOut
from scriptflow.db.engine import transaction
from scriptflow.errors import ValidationFailed
from scriptflow.scripts import files
from scriptflow.scripts.archives import ArchiveLimits

router = APIRouter(prefix="/projects", tags=["files"])

ARCHIVE_TYPES = ("application/zip", "application/gzip")
# What other tools send for the same formats.
_ARCHIVE_ALIASES = (
    "application/x-zip-compressed",
    "application/x-gzip",
    "application/x-tar+gzip",
    "application/octet-stream",
)
_BINARY = {"schema": {"type": "string", "format": "binary"}}
IMPORT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "A .zip or .tar.gz of the folder, as the body or as a multipart field "
        "`archive`. Paths inside are the project's paths (a leading `./` is dropped).",
        "content": {
            "application/zip": _BINARY,
            "application/gzip": _BINARY,
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"archive": {"type": "string", "format": "binary"}},
                    "required": ["archive"],
                }
            },
        },
    }
}


@router.get("/{project_id}/files", response_model=list[FileOut])
async def list_files(
    project_id: uuid.UUID, user: CurrentUser, session: SessionDep
) -> list[FileOut]:
    """The project's tree, every file ordered by path (the whole tree in one answer)."""
    entries = await files.list_tree(session, user.id, project_id)
    return [FileOut.model_validate(entry) for entry in entries]


@router.post("/{project_id}/import", response_model=ImportOut, openapi_extra=IMPORT_BODY)
async def import_archive(
    project_id: uuid.UUID,
    request: Request,
    user: UserOutsideTransaction,
    settings: SettingsDep,
) -> ImportOut:
    """Import a .zip or .tar.gz of a folder into the tree: all of it, or on any 422 nothing.

    Zip-slip paths, absolute paths, symbolic and hard links, devices and archive bombs refuse
    the whole archive; files the tree does not hold are skipped with the reason.
    """
    sessionmaker = request.app.state.sessionmaker
    # Roles first, in a read-only transaction: no write lock while the archive decompresses.
    async with transaction(sessionmaker, write=False) as session:
        await files.require_importer(session, user.id, project_id)
    data = await _archive_bytes(request)
    limits = ArchiveLimits(max_file_bytes=settings.max_script_bytes)
    contents = await files.read_import(data, limits)
    async with transaction(sessionmaker) as session:
        summary = await files.store_import(
            session, user.id, project_id, contents, max_bytes=settings.max_script_bytes
        )
    return ImportOut(
        created=summary.created,
        updated=summary.updated,
        unchanged=summary.unchanged,
        skipped=[SkippedOut(path=s.path, reason=s.reason) for s in summary.skipped],
    )


async def _archive_bytes(request: Request) -> bytes:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in ARCHIVE_TYPES or content_type in _ARCHIVE_ALIASES:
        return await request.body()
    if content_type == "multipart/form-data":
        async with request.form(max_files=1, max_fields=4) as form:
            upload = form.get("archive")
            if isinstance(upload, UploadFile):
                return await upload.read()
        raise ValidationFailed.for_field(
            "archive", "missing", message="The multipart body needs a file field named archive"
        )
    raise ValidationFailed.for_field(
        "content-type",
        "not an archive type",
        message="Send the archive as application/zip, application/gzip or multipart/form-data",
    )
