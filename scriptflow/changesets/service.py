"""A human's decision on a change set (step 3 of the workflow): list, read, accept, reject."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from scriptflow.changesets.models import ScriptChangeSet
from scriptflow.changesets.repository import ChangeSetRepository
from scriptflow.db.base import utcnow
from scriptflow.errors import (
    GuardrailViolation,
    InvalidChangesetState,
    NotFound,
    StaleChangeset,
    ValidationFailed,
)
from scriptflow.insights.service import revision_accepted
from scriptflow.pagination import Page, clamp_limit, keyset, page_of
from scriptflow.projects.models import Project
from scriptflow.projects.roles import Role
from scriptflow.projects.service import require_role
from scriptflow.projects.settings import read_settings
from scriptflow.scripts.diffing import DiffDoesNotApply, apply_diff
from scriptflow.scripts.models import Script, ScriptRevision
from scriptflow.scripts.service import commit_revision, get_script

CHANGESET_STATUSES = ("proposed", "accepted", "rejected")


async def list_changesets(
    session: AsyncSession,
    user_id: uuid.UUID,
    script_id: uuid.UUID,
    *,
    status: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page[ScriptChangeSet]:
    """A script's change sets, newest first, optionally of one status."""
    await get_script(session, user_id, script_id)
    if status is not None and status not in CHANGESET_STATUSES:
        raise ValidationFailed(
            f"Unknown status {status!r}",
            details={"fields": [{"field": "status", "message": f"one of {CHANGESET_STATUSES}"}]},
        )
    n = clamp_limit(limit)
    stmt = ChangeSetRepository(session).for_script(script_id, status)
    rows = list((await session.execute(keyset(stmt, ScriptChangeSet, cursor, n))).scalars())
    return page_of(rows, n)


async def get_changeset(
    session: AsyncSession, user_id: uuid.UUID, script_id: uuid.UUID, changeset_id: uuid.UUID
) -> ScriptChangeSet:
    """One change set of a script the caller may see."""
    await get_script(session, user_id, script_id)
    return await _changeset(session, script_id, changeset_id)


async def _changeset(
    session: AsyncSession, script_id: uuid.UUID, changeset_id: uuid.UUID
) -> ScriptChangeSet:
    changeset = await ChangeSetRepository(session).get(script_id, changeset_id)
    if changeset is None:
        raise NotFound("changeset", changeset_id)
    return changeset


def _require_proposed(changeset: ScriptChangeSet) -> None:
    if changeset.status != "proposed":
        raise InvalidChangesetState(
            f"The change set is {changeset.status}; only a proposed change set can be decided",
            details={"status": changeset.status},
        )


async def accept_changeset(
    session: AsyncSession,
    user_id: uuid.UUID,
    script_id: uuid.UUID,
    changeset_id: uuid.UUID,
    *,
    acknowledge_risk: bool = False,
) -> ScriptRevision:
    """Make a proposed change set the script's next revision, in the caller's one transaction."""
    script = await get_script(session, user_id, script_id, Role.REVIEWER)
    role = await require_role(session, user_id, script.project_id, Role.REVIEWER)
    changeset = await _changeset(session, script_id, changeset_id)
    _require_proposed(changeset)
    if changeset.risk == "high" and not (role == Role.OWNER and acknowledge_risk):
        raise GuardrailViolation(
            "This change set is high risk: only a project owner may accept it, with "
            '{"acknowledge_risk": true}',
            details={
                "risks": sorted({risk for hunk in changeset.hunks for risk in hunk["risks"]}),
                "your_role": role.value,
            },
        )
    project = await session.get(Project, script.project_id)
    policy = read_settings(project.settings if project is not None else None)
    if policy.require_distinct_reviewer and changeset.proposed_by == user_id:
        raise GuardrailViolation(
            "This project requires someone other than the proposer to accept a change set",
            details={"setting": "require_distinct_reviewer"},
        )
    repo = ChangeSetRepository(session)
    if not await repo.decide(
        changeset.id, status="accepted", decided_by=user_id, decided_at=utcnow()
    ):
        await session.refresh(changeset)
        _require_proposed(changeset)
        raise InvalidChangesetState("The change set was decided by someone else meanwhile")
    # Read the script again: another transaction may have moved it on while we waited.
    await session.refresh(script)
    new_content = _content_to_commit(script, changeset)
    revision = await commit_revision(
        session,
        script,
        new_content,
        source="changeset",
        applied_by=user_id,
        changeset_id=changeset.id,
        message=f"Accepted change set {changeset.id}",
    )
    await repo.link_revision(changeset.id, revision.id)
    await session.refresh(changeset)
    await revision_accepted(session, script.id)
    return revision


def _content_to_commit(script: Script, changeset: ScriptChangeSet) -> str:
    if script.version == changeset.base_version:
        return changeset.proposed_content
    try:
        content = apply_diff(script.content, changeset.proposed_diff)
    except DiffDoesNotApply as exc:
        raise StaleChangeset(
            f"The script moved on from version {changeset.base_version} to {script.version} and "
            "the change set no longer applies; enhance the current version again",
            details={"base_version": changeset.base_version, "current_version": script.version},
        ) from exc
    if content == script.content:
        raise StaleChangeset(
            "The script already contains these changes",
            details={"base_version": changeset.base_version, "current_version": script.version},
        )
    return content


async def reject_changeset(
    session: AsyncSession,
    user_id: uuid.UUID,
    script_id: uuid.UUID,
    changeset_id: uuid.UUID,
    *,
    reason: str | None = None,
) -> ScriptChangeSet:
    """Mark a proposed change set rejected, with an optional reason."""
    await get_script(session, user_id, script_id, Role.REVIEWER)
    changeset = await _changeset(session, script_id, changeset_id)
    _require_proposed(changeset)
    if not await ChangeSetRepository(session).decide(
        changeset.id, status="rejected", decided_by=user_id, decided_at=utcnow(), reason=reason
    ):
        raise InvalidChangesetState("The change set was decided by someone else meanwhile")
    await session.refresh(changeset)
    return changeset
