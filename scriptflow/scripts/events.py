"""What scripts tell the rest of the house (dispatched after commit, see scriptflow.events)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class ScriptRevised:
    """A script has a new current version (an edit, a save by path, a revert, an accept)."""

    project_id: uuid.UUID
    script_id: uuid.UUID
    version: int
    source: str
