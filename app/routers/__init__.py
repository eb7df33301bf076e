"""Every domain router; each is mounted under /v1 and again unversioned (hidden)."""

from fastapi import APIRouter

from app.routers import auth, browsers, changesets, insights, projects, scripts, test_runs

ROUTERS: list[APIRouter] = [
    auth.router,
    projects.router,
    scripts.router,
    changesets.router,
    test_runs.router,
    browsers.router,
    insights.router,
]
