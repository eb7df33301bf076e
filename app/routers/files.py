"""A project's tree of files: the listing and archive imports."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from app.deps import CurrentUser, SessionDep, SettingsDep, UserOutsideTransaction
from app.pagination import link_next
from app.schemas import Limit
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


TreeCursor = Annotated[
    str | None,
    Query(
        pattern=files.TREE_CURSOR_PATTERN,
        description="opaque: the `cursor` of a `Link: rel=next` URL",
    ),
]


@router.get("/{project_id}/files", response_model=list[FileOut])
async def list_files(
    project_id: uuid.UUID,
    request: Request,
    response: Response,
    user: CurrentUser,
    session: SessionDep,
    limit: Limit = None,
    cursor: TreeCursor = None,
) -> list[FileOut]:
    """The project's tree ordered by path, a page at a time: ``limit`` files (50 by default,
    at most 200) and the next page in the ``Link: <…>; rel="next"`` header."""
    page = await files.list_tree_page(session, user.id, project_id, limit=limit, cursor=cursor)
    link_next(request, response, page.next_cursor)
    return [FileOut.model_validate(entry) for entry in page.items]


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
    content_type = request.headers.get("content-type", "")
    media_type = content_type.split(";")[0].strip().lower()
    if media_type in ARCHIVE_TYPES or media_type in _ARCHIVE_ALIASES:
        return await request.body()
    if media_type == "multipart/form-data":
        # The body is already capped (max_body_bytes); parsing it here keeps the upload in
        # memory, where Starlette's form parser would spool a large part to a temporary file.
        archive = _multipart_field(await request.body(), content_type, "archive")
        if archive is not None:
            return archive
        raise ValidationFailed.for_field(
            "archive", "missing", message="The multipart body needs a file field named archive"
        )
    raise ValidationFailed.for_field(
        "content-type",
        "not an archive type",
        message="Send the archive as application/zip, application/gzip or multipart/form-data",
    )


def _multipart_field(body: bytes, content_type: str, name: str) -> bytes | None:
    """The bytes of the multipart part called `name`, or None when there is none."""
    _, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if not boundary:
        raise ValidationFailed.for_field("content-type", "no multipart boundary")
    parts: list[tuple[dict[bytes, bytes], bytearray]] = []
    header_field = bytearray()
    header_value = bytearray()

    def on_part_begin() -> None:
        parts.append(({}, bytearray()))

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header_field.extend(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header_value.extend(data[start:end])

    def on_header_end() -> None:
        parts[-1][0][bytes(header_field).lower()] = bytes(header_value)
        header_field.clear()
        header_value.clear()

    def on_part_data(data: bytes, start: int, end: int) -> None:
        parts[-1][1].extend(data[start:end])

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_part_data": on_part_data,
        },
    )
    try:
        parser.write(body)
        parser.finalize()
    except MultipartParseError as exc:
        raise ValidationFailed.for_field("archive", "not a valid multipart body") from exc
    for headers, data in parts:
        _, disposition = parse_options_header(headers.get(b"content-disposition", b""))
        if disposition.get(b"name") == name.encode():
            return bytes(data)
    return None
