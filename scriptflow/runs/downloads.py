"""Finding one artifact of a run for a download, in the deployment's artifact store."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from scriptflow.config import Settings
from scriptflow.errors import NotFound
from scriptflow.projects.roles import Role
from scriptflow.projects.service import require_role
from scriptflow.runs.models import RunArtifact
from scriptflow.runs.repository import RunRepository
from scriptflow.storage.artifact_store import ArtifactMissing, artifact_key, artifact_store_for


@dataclass(frozen=True)
class ArtifactDownload:
    """What the API sends: a redirect to a presigned URL, or the bytes streamed from the store."""

    artifact: RunArtifact
    redirect_url: str | None
    size: int | None
    chunks: AsyncIterator[bytes] | None


async def artifact_download(
    session: AsyncSession,
    user_id: uuid.UUID,
    run_id: uuid.UUID,
    name: str,
    settings: Settings,
    *,
    presign: bool = True,
) -> ArtifactDownload:
    """One artifact of a run the user may see (anything else, or a missing object, is a 404).

    ``presign=False`` always streams: the web pages (trace viewer, run notebook) fetch from their
    own origin, where a redirect to the bucket would be a cross-origin read.
    """
    runs = RunRepository(session)
    run = await runs.get(run_id)
    if run is None:
        raise NotFound("test run", run_id)
    try:
        await require_role(session, user_id, run.project_id, Role.VIEWER)
    except NotFound:
        raise NotFound("test run", run_id) from None
    artifact = await runs.artifact(run_id, name)
    if artifact is None:
        raise NotFound("artifact", name)
    store = artifact_store_for(settings)
    key = artifact_key(run_id, artifact.name)
    try:
        size = await store.size(key)
    except ArtifactMissing:
        raise NotFound("artifact", name) from None
    if presign and settings.artifacts_presign_s > 0:
        url = await store.presigned_url(key, timedelta(seconds=settings.artifacts_presign_s))
        if url is not None:
            return ArtifactDownload(artifact, url, size, None)
    return ArtifactDownload(artifact, None, size, store.chunks(key))


async def artifact_bytes(
    session: AsyncSession,
    user_id: uuid.UUID,
    run_id: uuid.UUID,
    name: str,
    settings: Settings,
    *,
    max_bytes: int,
) -> bytes:
    """A small artifact's bytes from the store (a screenshot for a page); larger is a 404."""
    found = await artifact_download(session, user_id, run_id, name, settings, presign=False)
    if found.size is None or found.size > max_bytes or found.chunks is None:
        raise NotFound("artifact", name)
    return b"".join([chunk async for chunk in found.chunks])
