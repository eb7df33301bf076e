"""Generate a test from a live page or a description (step 1), verified before review.

`generate_test` does the live work — the page explored in the run sandbox, the steps
resolved and compiled by our code generator — holding no transaction meanwhile (a browser or
a model may take seconds; SQLite's write lock and PostgreSQL connections are not held for
it). A generator that cannot produce a test with an outcome assertion is refused then, with
nothing stored. Otherwise it stores a new-file change set, `generating`, on a draft script
(version 0, in no listing) and queues the verification runs. `verify_generated` waits for
them and makes the change set `proposed` when every run passed, `failed` otherwise.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from dataclasses import dataclass, replace

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scriptflow.changesets.guardrails import classify_diff, risk_of
from scriptflow.changesets.models import ChangesetStatus, ScriptChangeSet
from scriptflow.config import Settings
from scriptflow.db.engine import transaction
from scriptflow.errors import AIOutputInvalid, ScriptflowError, ValidationFailed
from scriptflow.generate.codegen import (
    GeneratedModule,
    compile_module,
    compile_recording,
    function_name_for,
)
from scriptflow.generate.live import ExplorationFailed, PageExplorer
from scriptflow.generate.openai_planner import Planner, plan_tests
from scriptflow.generate.plan import MalformedReport, resolved_steps
from scriptflow.generate.recording import parse_recording
from scriptflow.generate.repository import GenerationRepository
from scriptflow.generate.rules import NothingToAssert, generated_tests
from scriptflow.generate.verification import verify_generated, waiting_verifications
from scriptflow.projects.repository import ProjectRepository
from scriptflow.projects.roles import Role
from scriptflow.projects.service import require_role
from scriptflow.runs.egress import blocked_reason
from scriptflow.runs.service import create_run

log = logging.getLogger("scriptflow.generate")

PROVIDERS = ("rules", "openai")
MAX_VERIFY_RUNS = 5
_PAGE_PATH = re.compile(r"^/(?!/)[^\s\x00-\x1f\\]{0,2000}$")


class GenerationFailed(ScriptflowError):
    """The page gave the generator nothing it could turn into a verified test."""

    status_code = 422
    code = "GENERATION_FAILED"


@dataclass(frozen=True)
class GenerateRequest:
    environment: str
    path: str
    description: str | None = None
    provider: str = "rules"
    model: str | None = None
    target_path: str | None = None
    verify_runs: int = 3
    # A pasted `playwright codegen` recording to convert (then `path` is where it starts).
    recording: str | None = None


@dataclass(frozen=True)
class Outline:
    """What the preview shows: the page's accessibility outline as the sandbox read it."""

    environment: str
    path: str
    url: str
    title: str
    outline: str


@dataclass(frozen=True)
class _Target:
    project_id: uuid.UUID
    base_url: str
    environment: str


def new_file_diff(content: str, path: str) -> str:
    """A git-style diff creating ``path`` with ``content`` (from /dev/null)."""
    body = _diff_body(content)
    header = f"diff --git a/{path} b/{path}\nnew file mode 100644\n"
    return f"{header}--- /dev/null\n+++ b/{path}\n{body}"


def _diff_body(content: str) -> str:
    lines = content.splitlines(keepends=True)
    out = [f"@@ -0,0 +1,{len(lines)} @@\n" if len(lines) != 1 else "@@ -0,0 +1 @@\n"]
    for line in lines:
        ending = "" if line.endswith("\n") else "\n\\ No newline at end of file\n"
        out.append(f"+{line}{ending}")
    return "".join(out)


def draft_path_for(target_path: str) -> str:
    """Beside the target (its conftest applies), a test module by name, unique."""
    folder, _, name = target_path.rpartition("/")
    draft = f"{name.removesuffix('.py')}_draft_{uuid.uuid4().hex[:12]}.py"
    return f"{folder}/{draft}" if folder else draft


def default_target_path(page_path: str) -> str:
    words = re.findall(r"[a-z0-9]+", page_path.lower())
    return f"tests/test_generated_{'_'.join(words)[:60] or 'home'}.py"


def _check_request(request: GenerateRequest, allowed_models: list[str]) -> None:
    if request.provider not in PROVIDERS:
        raise ValidationFailed.for_field("provider", f"one of {list(PROVIDERS)}")
    if request.recording is not None and request.provider != "rules":
        raise ValidationFailed.for_field("provider", "a recording is converted by the rules")
    if not _PAGE_PATH.match(request.path):
        raise ValidationFailed.for_field(
            "path",
            "a path on the environment starting with / (no scheme, host or spaces)",
            message="path must be a relative URL such as /signup",
        )
    if not 1 <= request.verify_runs <= MAX_VERIFY_RUNS:
        raise ValidationFailed.for_field("verify_runs", f"between 1 and {MAX_VERIFY_RUNS}")
    if request.provider == "openai":
        if not (request.description or "").strip():
            raise ValidationFailed.for_field(
                "description", "required with the openai provider: say what the test does"
            )
        if request.model is not None and request.model not in allowed_models:
            raise ValidationFailed.for_field(
                "model",
                f"one of {allowed_models}",
                message=f"Model {request.model!r} is not allowed",
            )
    target = request.target_path
    if target is not None and not re.fullmatch(r"(?:[\w.-]+/)*test_[\w.-]*\.py", target):
        raise ValidationFailed.for_field(
            "target_path", "a relative path of a test module, e.g. tests/test_signup.py"
        )
    if target is not None and ".." in target.split("/"):
        raise ValidationFailed.for_field("target_path", "must not contain ..")


async def _target(
    session: AsyncSession,
    user_id: uuid.UUID,
    project_id: uuid.UUID,
    environment: str,
    settings: Settings,
    minimum: Role,
) -> _Target:
    await require_role(session, user_id, project_id, minimum)
    projects = ProjectRepository(session)
    env = await projects.environment_by_name(project_id, environment)
    if env is None:
        known = [e.name for e in await projects.environments(project_id)]
        raise ValidationFailed.for_field(
            "environment",
            f"Unknown environment {environment!r}; known: {', '.join(known) or 'none'}",
            message=f"Unknown environment {environment!r}",
            known_environments=known,
        )
    if not settings.private_egress_allowed:
        reason = await asyncio.to_thread(blocked_reason, env.base_url)
        if reason:
            raise ValidationFailed.for_field(
                "environment",
                f"points at a private network ({reason}); this server does not let runs reach it",
            )
    return _Target(project_id, env.base_url, env.name)


async def preview_outline(
    sessionmaker: async_sessionmaker[AsyncSession],
    user_id: uuid.UUID,
    project_id: uuid.UUID,
    *,
    environment: str,
    path: str,
    settings: Settings,
    explorer: PageExplorer,
) -> Outline:
    """The page's accessibility outline, read in the sandbox (any member may look)."""
    async with transaction(sessionmaker, write=False) as session:
        await require_role(session, user_id, project_id, Role.VIEWER)
        if not _PAGE_PATH.match(path):
            raise ValidationFailed.for_field("path", "a path on the environment starting with /")
        target = await _target(session, user_id, project_id, environment, settings, Role.VIEWER)
    report = await explorer.explore(target.base_url, {"mode": "outline", "path": path})
    return Outline(
        environment=target.environment,
        path=path,
        url=str(report.get("url", ""))[:2000],
        title=str(report.get("title", ""))[:500],
        outline=str(report.get("outline", "")),
    )


async def generate_test(
    sessionmaker: async_sessionmaker[AsyncSession],
    user_id: uuid.UUID,
    project_id: uuid.UUID,
    request: GenerateRequest,
    *,
    settings: Settings,
    explorer: PageExplorer,
    planner: Planner,
) -> ScriptChangeSet:
    """Generate the module live, store it as a `generating` change set, queue its runs."""
    if request.recording is not None and not request.path:
        start = (await asyncio.to_thread(parse_recording, request.recording)).start_path
        request = replace(request, path=start)
    _check_request(request, settings.openai_models)
    async with transaction(sessionmaker, write=False) as session:
        target = await _target(
            session, user_id, project_id, request.environment, settings, Role.EDITOR
        )
    module, model = await _generate(request, target, explorer, planner)
    target_path = request.target_path or default_target_path(request.path)
    diff = new_file_diff(module.content, target_path)
    if len(module.content.encode()) > settings.max_script_bytes:
        raise GenerationFailed("The generated module is larger than the script size limit")
    reports = await asyncio.to_thread(classify_diff, diff)
    async with transaction(sessionmaker) as session:
        await _target(session, user_id, project_id, request.environment, settings, Role.EDITOR)
        repo = GenerationRepository(session)
        draft = await repo.add_draft_script(
            project_id=project_id,
            title=target_path,
            created_by=user_id,
            draft_path=draft_path_for(target_path),
        )
        await repo.set_draft_content(draft.id, module.content)
        changeset = ScriptChangeSet(
            script_id=draft.id,
            base_version=0,
            proposed_diff=diff,
            proposed_content=module.content,
            provider="recording" if request.recording is not None else request.provider,
            ai_model=model,
            prompt=request.description,
            confidence=1.0 if request.provider == "rules" else 0.9,
            findings=module.findings,
            hunks=[report.to_dict() for report in reports],
            risk=risk_of(reports),
            status=ChangesetStatus.GENERATING,
            proposed_by=user_id,
            target_path=target_path,
            generation={
                "environment": target.environment,
                "path": request.path,
                "provider": request.provider,
                "from_recording": request.recording is not None,
                "verify_runs": request.verify_runs,
            },
            verification={
                "runs": request.verify_runs,
                "passed": 0,
                "run_ids": [],
                "durations_ms": [],
            },
        )
        session.add(changeset)
        await session.flush()
        run_ids = []
        for _ in range(request.verify_runs):
            run = await create_run(
                session,
                user_id,
                settings,
                script_id=draft.id,
                environment=target.environment,
                browser="chromium",
                version=0,
                trigger="verification",
            )
            run_ids.append(str(run.id))
        changeset.verification = {**(changeset.verification or {}), "run_ids": run_ids}
        await session.flush()
    return changeset


async def _generate(
    request: GenerateRequest, target: _Target, explorer: PageExplorer, planner: Planner
) -> tuple[GeneratedModule, str | None]:
    if request.recording is not None:
        return await _from_recording(request.recording, target, explorer), None
    if request.provider == "openai":
        outline = await explorer.explore(target.base_url, {"mode": "outline", "path": request.path})
        plan, model = await planner.plan(
            description=request.description or "",
            path=request.path,
            outline=str(outline.get("outline", "")),
            model=request.model,
        )
        job = {
            "mode": "plan",
            "path": request.path,
            "steps": [s.model_dump(exclude_none=True) for s in plan.steps],
        }
        report = await explorer.explore(target.base_url, job)
        tests = plan_tests(plan, report, request.path)
        return compile_module(tests, provider="openai", source=request.path), model
    report = await explorer.explore(target.base_url, {"mode": "rules", "path": request.path})
    try:
        tests, notes = generated_tests(report)
    except NothingToAssert as exc:
        raise GenerationFailed(str(exc), details={"path": request.path}) from exc
    except MalformedReport as exc:
        raise ExplorationFailed(f"The page's exploration report is malformed: {exc}") from exc
    module = compile_module(tests, provider="rules", source=request.path)
    left_out = [
        {
            "rule": "generate:rules",
            "line_start": 1,
            "line_end": 1,
            "category": "flow",
            "rationale": f"Left out: {note}",
            "confidence": 1.0,
            "changed": False,
        }
        for note in notes
    ]
    return GeneratedModule(module.content, module.findings + left_out), None


async def _from_recording(source: str, target: _Target, explorer: PageExplorer) -> GeneratedModule:
    """The recording's steps run live, and where they leave the page becomes the assertion."""
    recording = await asyncio.to_thread(parse_recording, source)
    imports = [*recording.imports, "import re"] if recording.uses_re else list(recording.imports)
    job = {
        "mode": "final",
        "path": recording.start_path,
        "recorded": {"imports": "\n".join(imports), "body": recording.body},
    }
    report = await explorer.explore(target.base_url, job)
    failed = report.get("failed")
    if isinstance(failed, dict):
        raise GenerationFailed(
            f"The recording did not replay on the page: {str(failed.get('error'))[:500]}",
            details={"path": recording.start_path},
        )
    try:
        raw = report.get("outcome")
        outcome = resolved_steps(raw if isinstance(raw, list) else [])
    except MalformedReport as exc:
        raise ExplorationFailed(f"The page's exploration report is malformed: {exc}") from exc
    if not outcome:
        raise GenerationFailed(
            "The recording's last page shows nothing to assert (no new URL, heading or status)"
        )
    return compile_recording(
        recording.body,
        recording.imports,
        outcome,
        name=function_name_for("recording", recording.start_path),
        uses_re=recording.uses_re,
    )


__all__ = [
    "AIOutputInvalid",
    "GenerateRequest",
    "GenerationFailed",
    "Outline",
    "generate_test",
    "preview_outline",
    "verify_generated",
    "waiting_verifications",
]
