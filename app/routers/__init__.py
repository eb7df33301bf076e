"""Every domain router; each is mounted under /v1 and again unversioned (hidden)."""

from fastapi import APIRouter

from app.routers import (
    auth,
    browsers,
    changesets,
    files,
    generate,
    insights,
    projects,
    scripts,
    test_runs,
    triage,
)

# Matched in order: the hottest reads first.
ROUTERS: list[APIRouter] = [
    scripts.router,
    auth.router,
    projects.router,
    files.router,
    changesets.router,
    generate.router,
    test_runs.router,
    triage.router,
    browsers.router,
    insights.router,
]
