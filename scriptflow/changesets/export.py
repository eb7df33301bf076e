"""An accepted change set, exported as a git patch against the file's path in the tree."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from scriptflow.changesets.models import ChangesetStatus
from scriptflow.changesets.service import get_changeset
from scriptflow.errors import InvalidChangesetState
from scriptflow.scripts.patches import PatchHeader, git_patch
from scriptflow.scripts.repository import ScriptRepository
from scriptflow.scripts.service import get_script

PATCH_AUTHOR = "scriptflow <scriptflow@localhost>"


async def changeset_patch(
    session: AsyncSession, user_id: uuid.UUID, script_id: uuid.UUID, changeset_id: uuid.UUID
) -> str:
    """The change the accepted change set made (the hunks taken), as `git apply` reads it.

    The patch is the revision the accept wrote against the version before it, so a partial
    accept exports only what was taken; paths are the file's current path in the tree.
    """
    changeset = await get_changeset(session, user_id, script_id, changeset_id)
    repo = ScriptRepository(session)
    revision = (
        await repo.revision_by_id(changeset.revision_id)
        if changeset.status == ChangesetStatus.ACCEPTED and changeset.revision_id
        else None
    )
    if revision is None:
        raise InvalidChangesetState(
            f"The change set is {changeset.status}; only an accepted change set exports as a patch",
            details={"status": changeset.status},
        )
    script = await get_script(session, user_id, script_id)
    old = await repo.content_at(script_id, revision.version - 1) if revision.version > 1 else None
    model = f", {changeset.ai_model}" if changeset.ai_model else ""
    header = PatchHeader(
        ident=changeset.id.hex,
        author=PATCH_AUTHOR,
        date=changeset.decided_at or revision.created_at,
        subject=f"{script.path}: accept {changeset.provider} change set",
        body=(
            f"Change set {changeset.id} ({changeset.provider}{model}) on version "
            f"{changeset.base_version}, accepted as version {revision.version}."
        ),
    )
    # Diffing a large file is CPU work: off the event loop.
    return await asyncio.to_thread(git_patch, script.path, old, revision.content, header)
