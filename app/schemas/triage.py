"""Failure triage: a failed test's or run's class, who set it and when."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from app.schemas import RequestModel, ResponseModel
from scriptflow.runs.failure_class import FailureClass


class FailureClassIn(RequestModel):
    # null: forget the reviewer's class and return to the rules' class.
    failure_class: FailureClass | None = Field(
        description="product, automation or system; null returns to the rules' class"
    )


class TriagedTestOut(ResponseModel):
    id: uuid.UUID
    position: int
    name: str
    nodeid: str | None
    outcome: str
    error: str | None
    failure_class: str | None
    failure_class_source: str | None = Field(description="rules or reviewer")
    failure_class_by: uuid.UUID | None
    failure_class_at: datetime | None


class TriageOut(ResponseModel):
    run_id: uuid.UUID
    status: str
    failure_class: str | None
    failure_class_source: str | None = Field(description="rules or reviewer")
    failure_class_by: uuid.UUID | None
    failure_class_at: datetime | None
    tests: list[TriagedTestOut]
    can_edit: bool = Field(description="whether the caller may change the classes (reviewer+)")
