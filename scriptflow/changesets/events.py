"""What change sets tell the rest of the house (dispatched after commit, see scriptflow.events)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class ChangesetAccepted:
    """A change set became the script's next revision."""

    project_id: uuid.UUID
    script_id: uuid.UUID
    changeset_id: uuid.UUID
    revision_id: uuid.UUID
