"""Shared fixtures: both databases for real, the app over ASGI, and account factories."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.main import create_app
from scriptflow.config import Settings
from scriptflow.db import migrate
from scriptflow.db.engine import create_engine
from scriptflow.wiring import wired_sessionmaker
from tests.enhance.openai_stub import OpenAIStub
from tests.support.postgres import PostgresCluster, PostgresUnavailable, start_cluster

IN_CI = os.environ.get("CI", "").lower() == "true"
TEST_SECRET = "test-secret-" + "x" * 40
DEFAULT_PASSWORD = "correct horse battery staple"


def need(reason: str) -> None:
    """A dependency is missing: fail in CI (never skip there), skip on a laptop."""
    if IN_CI:
        pytest.fail(f"CI=true and {reason}")
    pytest.skip(reason)


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


def settings_for(db_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    """Settings for one test: its own database and data dir, rate limits out of the way."""
    values: dict[str, Any] = {
        "DATABASE_URL": db_url,
        "JWT_SECRET": TEST_SECRET,
        "data_dir": tmp_path / "data",
        "rate_limit_login_per_minute": 1000,
        "rate_limit_register_per_minute": 1000,
        "rate_limit_enhance_per_minute": 1000,
        "rate_limit_runs_per_minute": 1000,
        "workers": 0,
    }
    return Settings(**(values | overrides))


def settings_with_openai(db_url: str, tmp_path: Path, stub: OpenAIStub) -> Settings:
    """Settings whose AI provider is the loopback OpenAI stub, failing fast instead of retrying."""
    return settings_for(
        db_url,
        tmp_path,
        OPENAI_API_KEY="sk-test-not-a-real-key",
        OPENAI_BASE_URL=stub.base_url,
        openai_max_retries=0,
        openai_timeout_s=10,
    )


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


@dataclass
class Account:
    email: str
    password: str
    user_id: str
    project_id: str
    token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def signup(
    client: httpx.AsyncClient, *, email: str | None = None, password: str = DEFAULT_PASSWORD
) -> Account:
    """Register, log in and find the personal project, through the API as a client would."""
    email = email or f"user-{uuid.uuid4().hex[:10]}@example.com"
    r = await client.post("/auth/register", json={"email": email, "password": password})
    assert r.status_code == 201, r.text
    user_id = r.json()["id"]
    r = await client.post("/auth/login", json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    tokens = r.json()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    r = await client.get("/v1/projects", headers=headers)
    assert r.status_code == 200, r.text
    return Account(
        email=email,
        password=password,
        user_id=user_id,
        project_id=r.json()[0]["id"],
        token=tokens["access_token"],
        refresh_token=tokens["refresh_token"],
    )


async def create_script(
    client: httpx.AsyncClient,
    account: Account,
    *,
    title: str = "Login flow",
    content: str = "def test_login(page):\n    page.goto('/login')\n",
    project_id: str | None = None,
) -> dict[str, object]:
    r = await client.post(
        "/v1/scripts",
        json={"project_id": project_id or account.project_id, "title": title, "content": content},
        headers=account.headers,
    )
    assert r.status_code == 201, r.text
    body: dict[str, object] = r.json()
    return body


async def create_environment(
    client: httpx.AsyncClient, account: Account, base_url: str, *, name: str = "staging"
) -> dict[str, Any]:
    """Add an environment to the account's personal project."""
    r = await client.post(
        f"/v1/projects/{account.project_id}/environments",
        json={"name": name, "base_url": base_url},
        headers=account.headers,
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body
