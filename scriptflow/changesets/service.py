"""A human's decision on a change set (step 3 of the workflow): list, read, accept, reject."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from scriptflow import events
from scriptflow.changesets.events import ChangesetAccepted
from scriptflow.changesets.guardrails import classify_hunk
from scriptflow.changesets.models import ChangeSetComment, ChangesetStatus, ScriptChangeSet
from scriptflow.changesets.repository import ChangeSetCommentRepository, ChangeSetRepository
from scriptflow.db.base import utcnow
from scriptflow.errors import (
    Conflict,
    GuardrailViolation,
    InvalidChangesetState,
    NotFound,
    StaleChangeset,
    ValidationFailed,
)
from scriptflow.pagination import Page, clamp_limit
from scriptflow.projects.repository import ProjectRepository
from scriptflow.projects.roles import Role
from scriptflow.projects.service import require_role
from scriptflow.projects.settings import read_settings
from scriptflow.scripts.diffing import DiffDoesNotApply, apply_diff_async, apply_hunks
from scriptflow.scripts.hunks import ReviewHunk, review_hunks
from scriptflow.scripts.models import Script, ScriptRevision
from scriptflow.scripts.repository import ScriptRepository
from scriptflow.scripts.service import commit_revision, get_script

CHANGESET_STATUSES = tuple(status.value for status in ChangesetStatus)


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
        raise ValidationFailed.for_field(
            "status", f"one of {CHANGESET_STATUSES}", message=f"Unknown status {status!r}"
        )
    n = clamp_limit(limit)
    repository = ChangeSetRepository(session)
    return await repository.paginate(
        repository.for_script(script_id, status), cursor=cursor, limit=n
    )


async def generated_drafts_in_review(
    session: AsyncSession, user_id: uuid.UUID, project_id: uuid.UUID
) -> list[Script]:
    """Generated files waiting for a decision: no listing shows them until one is accepted."""
    await require_role(session, user_id, project_id, Role.VIEWER)
    return await ChangeSetRepository(session).drafts_in_review(project_id)


async def get_changeset(
    session: AsyncSession, user_id: uuid.UUID, script_id: uuid.UUID, changeset_id: uuid.UUID
) -> ScriptChangeSet:
    """One change set of a script the caller may see."""
    await get_script(session, user_id, script_id)
    return await _changeset(session, script_id, changeset_id)


async def _changeset(
    session: AsyncSession, script_id: uuid.UUID, changeset_id: uuid.UUID
) -> ScriptChangeSet:
    changeset = await ChangeSetRepository(session).of_script(script_id, changeset_id)
    if changeset is None:
        raise NotFound("changeset", changeset_id)
    return changeset


def _require_proposed(changeset: ScriptChangeSet) -> None:
    if changeset.status != ChangesetStatus.PROPOSED:
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
    hunks: Sequence[int] | None = None,
    expected_version: int | None = None,
) -> ScriptRevision:
    """Make a proposed change set, or the chosen review hunks of it, the script's next revision.

    ``hunks`` numbers review hunks from 0 (`scriptflow.scripts.hunks`); the rest of the change
    set is left out of the revision and the change set is closed as accepted, recording which
    hunks it took. ``expected_version`` is the script version the reviewer saw: when the
    script has moved on since, the accept is refused (409) rather than applied unseen.
    """
    script = await get_script(session, user_id, script_id, Role.REVIEWER)
    role = await require_role(session, user_id, script.project_id, Role.REVIEWER)
    changeset = await _changeset(session, script_id, changeset_id)
    _require_proposed(changeset)
    _require_version(script, expected_version)
    pieces = review_hunks(changeset.proposed_diff)
    chosen = _chosen_hunks(pieces, hunks)
    if changeset.is_new_file and chosen is not None:
        raise ValidationFailed.for_field(
            "hunks", "a new file is accepted whole", review_hunks=len(pieces)
        )
    risks = (
        sorted({risk for hunk in changeset.hunks for risk in hunk["risks"]})
        if chosen is None
        else sorted({risk for i in chosen for risk in classify_hunk(pieces[i].hunk).risks})
    )
    if risks and not (role == Role.OWNER and acknowledge_risk):
        raise GuardrailViolation(
            "This change set is high risk: only a project owner may accept it, and only after "
            "acknowledging the risk",
            details={"risks": risks, "your_role": role.value, "acknowledge_risk": False},
        )
    project = await ProjectRepository(session).get(script.project_id)
    policy = read_settings(project.settings if project is not None else None)
    if policy.require_distinct_reviewer and changeset.proposed_by == user_id:
        raise GuardrailViolation(
            "This project requires someone other than the proposer to accept a change set",
            details={"setting": "require_distinct_reviewer"},
        )
    repo = ChangeSetRepository(session)
    if not await repo.decide(
        changeset.id,
        status=ChangesetStatus.ACCEPTED,
        decided_by=user_id,
        decided_at=utcnow(),
        accepted_hunks=list(range(len(pieces))) if chosen is None else chosen,
    ):
        await ChangeSetRepository(session).refresh(changeset)
        _require_proposed(changeset)
        raise InvalidChangesetState("The change set was decided by someone else meanwhile")
    # Read the script again: another transaction may have moved it on while we waited.
    await ScriptRepository(session).refresh(script)
    if changeset.is_new_file:
        revision = await _publish_new_file(session, script, changeset, user_id)
    else:
        revision = await _commit_changes(session, script, changeset, pieces, chosen, user_id)
    await repo.link_revision(changeset.id, revision.id)
    await ChangeSetRepository(session).refresh(changeset)
    events.record(
        session,
        ChangesetAccepted(
            project_id=script.project_id,
            script_id=script.id,
            changeset_id=changeset.id,
            revision_id=revision.id,
        ),
    )
    return revision


async def _commit_changes(
    session: AsyncSession,
    script: Script,
    changeset: ScriptChangeSet,
    pieces: list[ReviewHunk],
    chosen: list[int] | None,
    user_id: uuid.UUID,
) -> ScriptRevision:
    if chosen is None:
        new_content = await _content_to_commit(script, changeset)
        message = f"Accepted change set {changeset.id}"
    else:
        new_content = await _chosen_content(script, changeset, [pieces[i] for i in chosen])
        numbers = ", ".join(str(i) for i in chosen)
        message = f"Accepted hunks {numbers} of {len(pieces)} from change set {changeset.id}"
    return await commit_revision(
        session,
        script,
        new_content,
        source="changeset",
        applied_by=user_id,
        changeset_id=changeset.id,
        message=message,
    )


async def _publish_new_file(
    session: AsyncSession, script: Script, changeset: ScriptChangeSet, user_id: uuid.UUID
) -> ScriptRevision:
    """A generated file becomes version 1 of its script, at its target path (source
    `generated`); until now the script was a draft at version 0, in no listing."""
    repo = ChangeSetRepository(session)
    target = changeset.target_path or script.title
    if await repo.path_taken(script.project_id, target, script.id):
        raise Conflict(
            f"A file already exists at {target}; generate again with another target_path",
            details={"target_path": target},
        )
    if not await ScriptRepository(session).bump_version(script.id, 0, changeset.proposed_content):
        raise _stale(script, changeset, "The generated file was already published")
    await repo.place_new_file(script.id, target)
    revision = ScriptRevision(
        script_id=script.id,
        version=1,
        diff=changeset.proposed_diff,
        content=changeset.proposed_content,
        source="generated",
        applied_by=user_id,
        changeset_id=changeset.id,
        message=f"Generated from {(changeset.generation or {}).get('path', 'a page')}",
    )
    session.add(revision)
    await session.flush()
    await ScriptRepository(session).refresh(script)
    return revision


def _require_version(script: Script, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != script.version:
        raise StaleChangeset(
            f"The script is at version {script.version}, not the version {expected_version} "
            "you reviewed; reload and review again",
            details={"current_version": script.version, "expected_version": expected_version},
        )


def _chosen_hunks(pieces: list[ReviewHunk], hunks: Sequence[int] | None) -> list[int] | None:
    """The chosen review hunks, sorted; None when the whole change set is taken."""
    if hunks is None:
        return None
    chosen = sorted(set(hunks))
    if not chosen or chosen[0] < 0 or chosen[-1] >= len(pieces):
        raise ValidationFailed(
            f"Choose review hunks between 0 and {len(pieces) - 1}",
            details={
                "fields": [{"field": "hunks", "message": f"0 to {len(pieces) - 1}, not empty"}],
                "review_hunks": len(pieces),
            },
        )
    return None if len(chosen) == len(pieces) else chosen


def _stale(script: Script, changeset: ScriptChangeSet, message: str) -> StaleChangeset:
    """A change set that cannot be taken onto the script's current version, and why."""
    return StaleChangeset(
        message,
        details={"base_version": changeset.base_version, "current_version": script.version},
    )


async def _chosen_content(
    script: Script, changeset: ScriptChangeSet, chosen: list[ReviewHunk]
) -> str:
    try:
        content = await asyncio.to_thread(
            apply_hunks, script.content, [piece.hunk for piece in chosen]
        )
    except DiffDoesNotApply as exc:
        raise _stale(
            script,
            changeset,
            f"The chosen hunks no longer apply to version {script.version}; enhance the current "
            "version again",
        ) from exc
    if content == script.content:
        raise _stale(
            script,
            changeset,
            "The script already contains the chosen changes",
        )
    return content


async def _content_to_commit(script: Script, changeset: ScriptChangeSet) -> str:
    if script.version == changeset.base_version:
        return changeset.proposed_content
    try:
        content = await apply_diff_async(script.content, changeset.proposed_diff)
    except DiffDoesNotApply as exc:
        raise _stale(
            script,
            changeset,
            f"The script moved on from version {changeset.base_version} to {script.version} and "
            "the change set no longer applies; enhance the current version again",
        ) from exc
    if content == script.content:
        raise _stale(
            script,
            changeset,
            "The script already contains these changes",
        )
    return content


async def reject_changeset(
    session: AsyncSession,
    user_id: uuid.UUID,
    script_id: uuid.UUID,
    changeset_id: uuid.UUID,
    *,
    reason: str | None = None,
    expected_version: int | None = None,
) -> ScriptChangeSet:
    """Mark a proposed change set rejected, with the reviewer's reason when one is given.

    The seed's reject carries no body, so ``None`` is allowed; a blank reason is refused.
    """
    script = await get_script(session, user_id, script_id, Role.REVIEWER)
    changeset = await _changeset(session, script_id, changeset_id)
    _require_proposed(changeset)
    _require_version(script, expected_version)
    if reason is not None:
        reason = reason.strip()
    if reason == "":
        raise ValidationFailed(
            "Say why the change set is rejected",
            details={"fields": [{"field": "reason", "message": "required"}]},
        )
    if not await ChangeSetRepository(session).decide(
        changeset.id,
        status=ChangesetStatus.REJECTED,
        decided_by=user_id,
        decided_at=utcnow(),
        reason=reason,
    ):
        raise InvalidChangesetState("The change set was decided by someone else meanwhile")
    await ChangeSetRepository(session).refresh(changeset)
    return changeset


MAX_COMMENT_CHARS = 4000


async def list_comments(
    session: AsyncSession, user_id: uuid.UUID, script_id: uuid.UUID, changeset_id: uuid.UUID
) -> list[ChangeSetComment]:
    """The comments on a change set anyone in its project may see, oldest first."""
    changeset = await get_changeset(session, user_id, script_id, changeset_id)
    return await ChangeSetCommentRepository(session).of_changeset(changeset.id)


async def add_comment(
    session: AsyncSession,
    user_id: uuid.UUID,
    script_id: uuid.UUID,
    changeset_id: uuid.UUID,
    *,
    body: str,
    hunk: int | None = None,
) -> ChangeSetComment:
    """A reviewer's note on one review hunk (numbered from 0) or, without one, the whole."""
    await get_script(session, user_id, script_id, Role.REVIEWER)
    changeset = await _changeset(session, script_id, changeset_id)
    text = body.strip()
    if not text or len(text) > MAX_COMMENT_CHARS:
        raise ValidationFailed.for_field("body", f"1 to {MAX_COMMENT_CHARS} characters")
    if hunk is not None:
        count = len(await asyncio.to_thread(review_hunks, changeset.proposed_diff))
        if not 0 <= hunk < count:
            raise ValidationFailed.for_field(
                "hunk", f"a review hunk between 0 and {count - 1}", review_hunks=count
            )
    return await ChangeSetCommentRepository(session).add(
        changeset.id, hunk=hunk, author_id=user_id, body=text
    )
