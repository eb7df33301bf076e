"""Shared fixtures: both databases for real, the app over ASGI, the OpenAI stub.

Factories live in tests/factories.py, settings builders and `need` in tests/support/.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import settings as hypothesis_settings
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

# The suite shares two cores with browsers and servers: an example's wall time says nothing
# about the code, so no property test fails on hypothesis' per-example deadline.
hypothesis_settings.register_profile("suite", deadline=None)
hypothesis_settings.load_profile("suite")

# Rough cost of one test by its marks, only to spread the expensive modules over the workers.
ITEM_COST = {"slow": 40, "browser": 8}


def _module_cost(module_items: list[pytest.Item]) -> int:
    cost = 0
    for item in module_items:
        marks = {mark.name for mark in item.iter_markers()}
        cost += max([ITEM_COST[m] for m in marks if m in ITEM_COST], default=1)
    return cost


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Spread the expensive modules over xdist's workers, each worker's share first.

    Work stealing starts by giving each of N workers one contiguous Nth of the list, then
    moves tests from the end of a busy worker's queue to an idle one. So the list is built as N
    parts of those sizes: the modules with slow or browser tests dealt to the cheapest part so
    far (heaviest first), then quick tests filling each part up to its size. Every worker then
    starts on its share of the long tests, and the quick ones, at the ends, are what is stolen.
    A module stays in one piece and in its own order, so its module-scoped set-up happens once.
    Without xdist, the expensive modules simply go first.
    """
    modules: dict[object, list[pytest.Item]] = {}
    for item in items:
        modules.setdefault(item.path, []).append(item)
    groups = list(modules.values())
    heavy = sorted((g for g in groups if _module_cost(g) > len(g)), key=_module_cost, reverse=True)
    light = [item for g in groups if _module_cost(g) == len(g) for item in g]
    workers = max(int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1), 1)

    # The sizes xdist's work stealing gives each worker at the start.
    sizes, left = [], len(items)
    for i in range(workers):
        sizes.append(left // (workers - i))
        left -= sizes[-1]
    parts: list[list[pytest.Item]] = [[] for _ in range(workers)]
    costs = [0] * workers
    for group in heavy:
        i = min(range(workers), key=lambda k: (costs[k], len(parts[k])))
        parts[i].extend(group)
        costs[i] += _module_cost(group)
    for i in range(workers):
        room = max(sizes[i] - len(parts[i]), 0) if i < workers - 1 else len(light)
        parts[i].extend(light[:room])
        del light[:room]
    items[:] = [item for part in parts for item in part]


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
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[str]:
    """A fresh, migrated database per test, on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "scriptflow.db"
        shutil.copyfile(sqlite_template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    cluster: PostgresCluster = request.getfixturevalue("pg_cluster")
    name = f"t_{uuid.uuid4().hex[:12]}"
    cluster.create_database_from_template(name, "scriptflow_template")
    yield cluster.url_for(name)
    # Hundreds of 9 MB copies made the cluster's removal at the session's end take a minute.
    cluster.drop_database(name)


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


# Figures a test measured (``record_property("measured", text)``), printed in the summary even
# under xdist, which keeps the workers' prints: CI logs show them at the load they were taken.
_MEASURED: list[tuple[str, str]] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call":
        found = [str(value) for key, value in report.user_properties if key == "measured"]
        _MEASURED.extend((report.nodeid, text) for text in found)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _MEASURED:
        terminalreporter.section("measured")
        for nodeid, text in _MEASURED:
            terminalreporter.write_line(f"{nodeid}: {text}")
