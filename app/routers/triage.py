"""Failure triage of finished runs: read the classes, and a reviewer's override."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from app.deps import CurrentUser, SessionDep
from app.schemas.triage import FailureClassIn, TriageOut
from scriptflow.runs import triage

router = APIRouter(tags=["test-runs"])


@router.get("/test-runs/{run_id}/triage", response_model=TriageOut)
async def get_triage(run_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> TriageOut:
    """Failure classes of a run and its tests.

    Each failed test and run has a class: `product` (an assertion failed), `automation` (a
    locator or wait of the test code failed) or `system` (the environment was unreachable or
    the browser crashed), decided by rules when the run finished (source `rules`) or set by a
    reviewer (source `reviewer`, with who and when). A `system` failure counts as not tested
    in pass rates, flakiness and failure clusters.
    """
    return TriageOut.model_validate(await triage.get_triage(session, user.id, run_id))


@router.patch("/test-runs/{run_id}/tests/{test_id}", response_model=TriageOut)
async def set_test_failure_class(
    run_id: uuid.UUID,
    test_id: uuid.UUID,
    body: FailureClassIn,
    user: CurrentUser,
    session: SessionDep,
) -> TriageOut:
    """Set a failed test's class (reviewer or owner); null returns to the rules' class.

    The run's class follows its tests unless a reviewer set the run's own class. 409 while the
    run has not finished; 422 for a test that did not fail; editors and viewers get 403.
    """
    view = await triage.set_test_class(session, user.id, run_id, test_id, body.failure_class)
    return TriageOut.model_validate(view)


@router.patch("/test-runs/{run_id}/failure-class", response_model=TriageOut)
async def set_run_failure_class(
    run_id: uuid.UUID, body: FailureClassIn, user: CurrentUser, session: SessionDep
) -> TriageOut:
    """Set a failed run's own class (reviewer or owner), e.g. a run that broke before any test
    ran; null returns to what its tests and error say."""
    view = await triage.set_run_class(session, user.id, run_id, body.failure_class)
    return TriageOut.model_validate(view)
