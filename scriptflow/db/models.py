"""Every ORM model, imported in one place so the metadata is complete (Alembic, tests)."""

from scriptflow.auth.models import RefreshToken, User
from scriptflow.changesets.models import ChangeSetComment, ScriptChangeSet
from scriptflow.db.base import Base
from scriptflow.db.rate_limits import RATE_LIMIT_COUNTERS
from scriptflow.insights.models import AIInsight
from scriptflow.projects.models import Environment, Project, ProjectMember
from scriptflow.runs.models import RunArtifact, RunStep, RunTest, TestRun
from scriptflow.runs.outbox.models import RunOutboxEntry
from scriptflow.runs.progress.models import RunEvent
from scriptflow.scripts.models import Script, ScriptRevision

__all__ = [
    "RATE_LIMIT_COUNTERS",
    "AIInsight",
    "Base",
    "ChangeSetComment",
    "Environment",
    "Project",
    "ProjectMember",
    "RefreshToken",
    "RunArtifact",
    "RunEvent",
    "RunOutboxEntry",
    "RunStep",
    "RunTest",
    "Script",
    "ScriptChangeSet",
    "ScriptRevision",
    "TestRun",
    "User",
]
