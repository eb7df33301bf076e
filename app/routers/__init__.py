"""Every domain router; each is mounted under /v1 and again unversioned (hidden)."""

from fastapi import APIRouter

from app.routers import auth, projects, scripts

ROUTERS: list[APIRouter] = [
    auth.router,
    projects.router,
    scripts.router,
]
