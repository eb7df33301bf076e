"""Shared fixtures: both databases for real, the app over ASGI, the OpenAI stub.

Factories live in tests/factories.py, settings builders and `need` in tests/support/.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.main import create_app
from scriptflow.config import Settings
from scriptflow.db import migrate
from scriptflow.db.engine import create_engine
from scriptflow.wiring import wired_sessionmaker
from tests.support.ci import need
from tests.support.openai_stub import OpenAIStub
from tests.support.postgres import PostgresCluster, PostgresUnavailable, start_cluster
from tests.support.settings import settings_for


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Modules with slow tests first, then those with browser tests, then the rest.

    Under xdist's work stealing the quick tests then fill the gaps at the end, instead of one
    worker starting a three-minute test while the other runs out of work. Each module stays
    in one piece and in its own order, so its module-scoped set-up happens once.
    """
    modules: dict[object, list[pytest.Item]] = {}
    for item in items:
        modules.setdefault(item.path, []).append(item)

    def weight(module_items: list[pytest.Item]) -> int:
        marks = {mark.name for item in module_items for mark in item.iter_markers()}
        return 2 if "slow" in marks else 1 if "browser" in marks else 0

    ordered = sorted(modules.values(), key=weight, reverse=True)  # stable: same weight keeps order
    items[:] = [item for module_items in ordered for item in module_items]


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PostgresCluster]:
    try:
        cluster = start_cluster()
    except PostgresUnavailable as exc:
        need(f"PostgreSQL cannot start: {exc}")
        raise
    try:
        template = cluster.create_database("scriptflow_template")
        migrate.upgrade(template)
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    migrate.upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(params=["sqlite", "postgres"])
def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database with no schema at all, on each backend: for tests of the migrations."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    cluster: PostgresCluster = request.getfixturevalue("pg_cluster")
    return cluster.create_database(f"m_{uuid.uuid4().hex[:12]}")


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """A fresh, migrated database per test, on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "scriptflow.db"
        shutil.copyfile(sqlite_template, path)
        return f"sqlite+aiosqlite:///{path}"
    cluster: PostgresCluster = request.getfixturevalue("pg_cluster")
    name = f"t_{uuid.uuid4().hex[:12]}"
    cluster.create_database_from_template(name, "scriptflow_template")
    return cluster.url_for(name)


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return settings_for(db_url, tmp_path)


@pytest.fixture(scope="session")
def openai_stub() -> Iterator[OpenAIStub]:
    """One OpenAI-compatible server on loopback for the session, started only when asked for."""
    server = OpenAIStub().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def stub(openai_stub: OpenAIStub) -> OpenAIStub:
    """The shared stub, reset to a harmless answer for each test."""
    openai_stub.answer("")
    openai_stub.behaviour.requests.clear()
    return openai_stub


@pytest.fixture
async def sessionmaker(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(settings.resolved_database_url)
    try:
        yield wired_sessionmaker(engine, settings)
    finally:
        await engine.dispose()


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings, run_background=False)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c
