"""SQL for change sets."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select, update

from scriptflow.changesets.models import ChangeSetComment, ChangesetStatus, ScriptChangeSet
from scriptflow.db.repository import Repository
from scriptflow.scripts.models import Script


class ChangeSetRepository(Repository[ScriptChangeSet]):
    model = ScriptChangeSet

    async def of_script(
        self, script_id: uuid.UUID, changeset_id: uuid.UUID
    ) -> ScriptChangeSet | None:
        stmt = select(ScriptChangeSet).where(
            ScriptChangeSet.id == changeset_id, ScriptChangeSet.script_id == script_id
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    def for_script(self, script_id: uuid.UUID, status: str | None) -> Select[Any]:
        stmt = select(ScriptChangeSet).where(ScriptChangeSet.script_id == script_id)
        if status is not None:
            stmt = stmt.where(ScriptChangeSet.status == status)
        return stmt

    async def decide(
        self,
        changeset_id: uuid.UUID,
        *,
        status: str,
        decided_by: uuid.UUID,
        decided_at: datetime,
        reason: str | None = None,
        accepted_hunks: list[int] | None = None,
    ) -> bool:
        """Move a proposed change set to `status`; False when it was no longer proposed.

        The condition on the current status is what makes concurrent decisions safe: on
        PostgreSQL the losers wait for the winner's row lock and then match nothing; on SQLite
        writers are serialised and the losers match nothing.
        """
        result = await self.session.execute(
            update(ScriptChangeSet)
            .where(
                ScriptChangeSet.id == changeset_id,
                ScriptChangeSet.status == ChangesetStatus.PROPOSED,
            )
            .values(
                status=status,
                decided_by=decided_by,
                decided_at=decided_at,
                decision_reason=reason,
                accepted_hunks=accepted_hunks,
            )
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def path_taken(self, project_id: uuid.UUID, path: str, script_id: uuid.UUID) -> bool:
        """Whether another published file (version 1 or later) of the project has this path."""
        if not hasattr(Script, "path"):
            return False
        stmt = select(Script.id).where(
            Script.project_id == project_id,
            Script.path == path,
            Script.id != script_id,
        )
        return (await self.session.execute(stmt.limit(1))).first() is not None

    async def place_new_file(self, script_id: uuid.UUID, path: str) -> None:
        """A generated file takes its target path (and is titled by it)."""
        values: dict[str, Any] = {"title": path}
        if hasattr(Script, "path"):
            values["path"] = path
        await self.session.execute(
            update(Script)
            .where(Script.id == script_id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )

    async def drafts_in_review(self, project_id: uuid.UUID) -> list[Script]:
        """Generated files not yet accepted (version 0) with a proposed change set, by path."""
        stmt = (
            select(Script)
            .join(ScriptChangeSet, ScriptChangeSet.script_id == Script.id)
            .where(
                Script.project_id == project_id,
                Script.version == 0,
                ScriptChangeSet.status == ChangesetStatus.PROPOSED,
            )
            .order_by(Script.title)
            .distinct()
        )
        return list((await self.session.execute(stmt)).scalars())

    async def link_revision(self, changeset_id: uuid.UUID, revision_id: uuid.UUID) -> None:
        await self.session.execute(
            update(ScriptChangeSet)
            .where(ScriptChangeSet.id == changeset_id)
            .values(revision_id=revision_id)
            .execution_options(synchronize_session=False)
        )


class ChangeSetCommentRepository(Repository[ChangeSetComment]):
    model = ChangeSetComment

    async def of_changeset(self, changeset_id: uuid.UUID) -> list[ChangeSetComment]:
        """A change set's comments, oldest first (they read as a conversation)."""
        stmt = (
            select(ChangeSetComment)
            .where(ChangeSetComment.changeset_id == changeset_id)
            .order_by(ChangeSetComment.created_at, ChangeSetComment.id)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def add(
        self, changeset_id: uuid.UUID, *, hunk: int | None, author_id: uuid.UUID, body: str
    ) -> ChangeSetComment:
        comment = ChangeSetComment(
            changeset_id=changeset_id, hunk=hunk, author_id=author_id, body=body
        )
        self.session.add(comment)
        await self.session.flush()
        return comment
