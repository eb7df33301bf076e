"""The HTTP shape of an artifact download: streamed from the store, or a presigned redirect."""

from __future__ import annotations

import uuid

from fastapi.responses import RedirectResponse, Response, StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession

from scriptflow.config import Settings
from scriptflow.runs.downloads import artifact_download


async def artifact_response(
    session: AsyncSession, user_id: uuid.UUID, run_id: uuid.UUID, name: str, settings: Settings
) -> Response:
    """307 to a presigned URL when configured, else the bytes as a never-sniffed attachment."""
    found = await artifact_download(session, user_id, run_id, name, settings)
    if found.redirect_url is not None:
        return RedirectResponse(found.redirect_url, status_code=307)
    assert found.chunks is not None
    headers = {
        "X-Content-Type-Options": "nosniff",
        # Names are plain file names (scriptflow.runs.artifacts.SAFE_NAME): no quoting needed.
        "Content-Disposition": f'attachment; filename="{found.artifact.name}"',
    }
    if found.size is not None:
        headers["Content-Length"] = str(found.size)
    return StreamingResponse(found.chunks, media_type=found.artifact.content_type, headers=headers)
