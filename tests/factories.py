"""Keyword-only factories that make accounts, scripts and environments through the API."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx

DEFAULT_PASSWORD = "correct horse battery staple"


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
    client: httpx.AsyncClient, account: Account, *, base_url: str, name: str = "staging"
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
