"""SQL for generation: the draft script a generated change set hangs on, and its progress."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select, update

from scriptflow.changesets.models import ChangesetStatus, ScriptChangeSet
from scriptflow.db.repository import Repository
from scriptflow.scripts.models import Script


class GenerationRepository(Repository[ScriptChangeSet]):
    model = ScriptChangeSet

    async def add_draft_script(
        self, *, project_id: uuid.UUID, title: str, created_by: uuid.UUID, draft_path: str
    ) -> Script:
        """A script at version 0: no revision, out of every listing, until a change set is
        accepted into it (then it is version 1)."""
        script = Script(
            project_id=project_id, title=title, content="", version=0, created_by=created_by
        )
        if hasattr(Script, "path"):  # the project file tree (a path unique per project)
            script.path = draft_path
        self.session.add(script)
        await self.session.flush()
        return script

    async def set_draft_content(self, script_id: uuid.UUID, content: str) -> None:
        """What the verification runs execute: the draft's version-0 content."""
        await self.session.execute(
            update(Script)
            .where(Script.id == script_id, Script.version == 0)
            .values(content=content)
            .execution_options(synchronize_session=False)
        )

    async def generating_ids(self) -> list[uuid.UUID]:
        """Every change set still waiting for its verification runs, oldest first."""
        stmt = (
            select(ScriptChangeSet.id)
            .where(ScriptChangeSet.status == ChangesetStatus.GENERATING)
            .order_by(ScriptChangeSet.created_at)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def finish(self, changeset_id: uuid.UUID, **values: Any) -> bool:
        """Leave `generating` (for `proposed` or `failed`); False when it already had."""
        result = await self.session.execute(
            update(ScriptChangeSet)
            .where(
                ScriptChangeSet.id == changeset_id,
                ScriptChangeSet.status == ChangesetStatus.GENERATING,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]
