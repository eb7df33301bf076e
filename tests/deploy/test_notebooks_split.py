"""API processes without notebooks, and the session cookie they issue opening the notebooks
process's dashboard: what lets a load balancer spread API calls with no sticky sessions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from app.main import create_app
from app.web.session_auth import SESSION_COOKIE
from scriptflow.config import Settings
from tests.factories import signup
from tests.support.settings import settings_for

HTML = {"Accept": "text/html"}


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    application = create_app(settings, run_background=False)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_an_api_process_without_notebooks_and_a_notebooks_process_share_one_login(
    db_url: str, tmp_path: Path
) -> None:
    api_settings = settings_for(db_url, tmp_path / "api", notebooks=False)
    notebook_settings = settings_for(db_url, tmp_path / "notebooks")
    async with serving(api_settings) as api, serving(notebook_settings) as notebooks:
        account = await signup(api)
        r = await api.post("/login", data={"email": account.email, "password": account.password})
        assert r.status_code == 303
        cookie = api.cookies[SESSION_COOKIE]
        # The API process serves the API and the login, not the notebook apps.
        assert (
            await api.get(f"/v1/projects/{account.project_id}", headers=account.headers)
        ).is_success
        for path in ("/dashboard/", "/notebooks/run/"):
            assert (await api.get(path, headers=HTML)).status_code == 404
        # The notebooks process opens them for the cookie another process issued.
        anonymous = await notebooks.get("/dashboard/", headers=HTML)
        assert anonymous.status_code == 303
        assert anonymous.headers["location"].startswith("/login")
        notebooks.cookies.set(SESSION_COOKIE, cookie)
        page = await notebooks.get("/dashboard/", headers=HTML)
        assert page.status_code == 200 and "marimo" in page.text.lower()
