"""Failure triage: the class of every failed test and run, stored when the run finishes and
editable by a reviewer.

The rules (`scriptflow.runs.failure_class`) decide first (source ``rules``). A reviewer or an
owner may override a test's or a run's class (source ``reviewer``, with who and when); clearing
the override returns to the rules' class. Editors may not: the person who wrote a test is the
one tempted to call its failures "the environment", and a ``system`` failure leaves the pass
rates, so moving a failure out of them takes the role that accepts changes.

A run's class follows its tests: ``product`` when any failed test is a product failure, else
``automation`` when any is, else ``system``; a run with no failed test rows (it broke before
any test ran) is classed by its own error.

Inside the sandbox the browser reaches the environment through the egress proxy, which answers
an unreachable host with a 502 page: the browser sees a page, the test then fails on a locator
or an assertion. The proxy records the destinations it could not reach; when the run's own
environment is among them, every failure of that run is ``system``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from scriptflow import events
from scriptflow.db.base import utcnow
from scriptflow.errors import Conflict, NotFound, ValidationFailed
from scriptflow.projects.roles import Role
from scriptflow.projects.service import require_role
from scriptflow.runs.failure_class import FailureClass, failure_class
from scriptflow.runs.models import TERMINAL_STATUSES, RunTest, TestRun
from scriptflow.runs.repository import RunRepository

RULES = "rules"
REVIEWER = "reviewer"
# Who may override a class (see the module docstring for why editors may not).
TRIAGE_ROLE = Role.REVIEWER

FAILED_OUTCOMES = frozenset({"failed", "error"})
_PRECEDENCE = (FailureClass.PRODUCT, FailureClass.AUTOMATION, FailureClass.SYSTEM)


@dataclass(frozen=True)
class FailureClassChanged:
    """A reviewer changed a finished run's classes: what the analysis copy says is stale."""

    run_id: uuid.UUID
    project_id: uuid.UUID
    script_id: uuid.UUID | None


def run_failure_class(
    status: str, error: str | None, test_classes: Iterable[str | None]
) -> FailureClass | None:
    """A finished run's class from its failed tests' classes, else from its own error (pure)."""
    if status not in FAILED_OUTCOMES:
        return None
    present = {c for c in test_classes if c}
    for candidate in _PRECEDENCE:
        if candidate.value in present:
            return candidate
    return failure_class(status, error)


def environment_unreachable(base_url: str, results: Mapping[str, Any] | None) -> bool:
    """Whether the run's egress proxy could not connect to the run's environment (pure)."""
    url = urlsplit(base_url)
    if not url.hostname:
        return False
    port = url.port or (443 if url.scheme == "https" else 80)
    seen = (results or {}).get("unreachable") or []
    return any(
        isinstance(r, Mapping)
        and str(r.get("host", "")).lower() == url.hostname.lower()
        and r.get("port") == port
        for r in seen
    )


def rules_class_of_test(outcome: str, error: str | None, unreachable: bool) -> FailureClass | None:
    """A test's class by the rules, knowing whether its environment answered (pure)."""
    value = failure_class(outcome, error)
    return FailureClass.SYSTEM if value is not None and unreachable else value


def _stamp(
    row: TestRun | RunTest, value: FailureClass | None, source: str | None, by: uuid.UUID | None
) -> None:
    row.failure_class = value.value if value is not None else None
    row.failure_class_source = source if value is not None else None
    row.failure_class_by = by
    row.failure_class_at = utcnow() if value is not None else None


async def _tests(session: AsyncSession, run_id: uuid.UUID) -> list[RunTest]:
    return await RunRepository(session).tests(run_id)


def _derive_run(run: TestRun, tests: Sequence[RunTest]) -> None:
    if run.failure_class_source == REVIEWER:
        return
    value = run_failure_class(run.status, run.error, (t.failure_class for t in tests))
    if value is not None and not tests and environment_unreachable(run.base_url, run.results):
        value = FailureClass.SYSTEM
    _stamp(run, value, RULES if value else None, None)


async def classify_run(session: AsyncSession, run_id: uuid.UUID) -> None:
    """Store the rules' class on a finished run and its failed tests, inside the caller's
    transaction; a reviewer's override is kept."""
    # The finish updated the row with a bulk UPDATE: read it again, not from the identity map.
    run = await RunRepository(session).lock(run_id)
    if run is None:
        return
    tests = await _tests(session, run_id)
    unreachable = environment_unreachable(run.base_url, run.results)
    for test in tests:
        if test.failure_class_source != REVIEWER:
            value = rules_class_of_test(test.outcome, test.error, unreachable)
            _stamp(test, value, RULES if value else None, None)
    _derive_run(run, tests)
    await session.flush()


@dataclass(frozen=True)
class TriagedTest:
    id: uuid.UUID
    position: int
    name: str
    nodeid: str | None
    outcome: str
    error: str | None
    failure_class: str | None
    failure_class_source: str | None
    failure_class_by: uuid.UUID | None
    failure_class_at: datetime | None


@dataclass(frozen=True)
class Triage:
    """A run's class and its tests' classes, as a reviewer sees them."""

    run_id: uuid.UUID
    status: str
    failure_class: str | None
    failure_class_source: str | None
    failure_class_by: uuid.UUID | None
    failure_class_at: datetime | None
    tests: Sequence[TriagedTest]
    can_edit: bool


async def _run_for(
    session: AsyncSession, user_id: uuid.UUID, run_id: uuid.UUID, minimum: Role
) -> tuple[TestRun, Role]:
    runs = RunRepository(session)
    # Locked where the database can: two reviewers' overrides apply one after the other.
    run = await (runs.get(run_id) if minimum == Role.VIEWER else runs.lock(run_id))
    if run is None:
        raise NotFound("test run", run_id)
    try:
        role = await require_role(session, user_id, run.project_id, minimum)
    except NotFound:
        raise NotFound("test run", run_id) from None
    return run, role


def _view(run: TestRun, tests: Sequence[RunTest], role: Role) -> Triage:
    return Triage(
        run_id=run.id,
        status=run.status,
        failure_class=run.failure_class,
        failure_class_source=run.failure_class_source,
        failure_class_by=run.failure_class_by,
        failure_class_at=run.failure_class_at,
        tests=[
            TriagedTest(
                id=t.id,
                position=t.position,
                name=t.name,
                nodeid=t.nodeid,
                outcome=t.outcome,
                error=t.error,
                failure_class=t.failure_class,
                failure_class_source=t.failure_class_source,
                failure_class_by=t.failure_class_by,
                failure_class_at=t.failure_class_at,
            )
            for t in tests
        ],
        can_edit=role.at_least(TRIAGE_ROLE),
    )


async def get_triage(session: AsyncSession, user_id: uuid.UUID, run_id: uuid.UUID) -> Triage:
    """The classes of a run and its tests; another user's run is not found."""
    run, role = await _run_for(session, user_id, run_id, Role.VIEWER)
    return _view(run, await _tests(session, run_id), role)


def _finished(run: TestRun) -> None:
    if run.status not in TERMINAL_STATUSES:
        raise Conflict(
            "Only a finished run's failures can be classed",
            details={"status": run.status},
        )


async def set_test_class(
    session: AsyncSession,
    user_id: uuid.UUID,
    run_id: uuid.UUID,
    test_id: uuid.UUID,
    value: FailureClass | None,
) -> Triage:
    """A reviewer's class for one failed test (None: back to the rules); the run follows."""
    run, role = await _run_for(session, user_id, run_id, TRIAGE_ROLE)
    _finished(run)
    tests = await _tests(session, run_id)
    test = next((t for t in tests if t.id == test_id), None)
    if test is None:
        raise NotFound("test", test_id)
    if test.outcome not in FAILED_OUTCOMES:
        raise ValidationFailed.for_field(
            "failure_class",
            "not_failed",
            message=f"The test {test.outcome}; only a failed test has a failure class",
        )
    if value is None:
        unreachable = environment_unreachable(run.base_url, run.results)
        _stamp(test, rules_class_of_test(test.outcome, test.error, unreachable), RULES, None)
    else:
        _stamp(test, value, REVIEWER, user_id)
    _derive_run(run, tests)
    await session.flush()
    events.record(session, FailureClassChanged(run.id, run.project_id, run.script_id))
    return _view(run, tests, role)


async def set_run_class(
    session: AsyncSession, user_id: uuid.UUID, run_id: uuid.UUID, value: FailureClass | None
) -> Triage:
    """A reviewer's class for the run itself (None: back to what its tests and error say)."""
    run, role = await _run_for(session, user_id, run_id, TRIAGE_ROLE)
    _finished(run)
    if run.status not in FAILED_OUTCOMES:
        raise ValidationFailed.for_field(
            "failure_class",
            "not_failed",
            message=f"The run {run.status}; only a failed run has a failure class",
        )
    tests = await _tests(session, run_id)
    if value is None:
        run.failure_class_source = None
        _derive_run(run, tests)
    else:
        _stamp(run, value, REVIEWER, user_id)
    await session.flush()
    events.record(session, FailureClassChanged(run.id, run.project_id, run.script_id))
    return _view(run, tests, role)
