"""Factories for run tests, through the API as a client would."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from tests.factories import Account, create_environment, create_script


async def queue_run(
    client: httpx.AsyncClient,
    account: Account,
    script: str,
    *,
    base_url: str = "http://127.0.0.1:9",
    environment: str = "staging",
    **options: Any,
) -> dict[str, Any]:
    """Create a script (and the environment if missing) and queue a run of it."""
    envs = (
        await client.get(f"/v1/projects/{account.project_id}/environments", headers=account.headers)
    ).json()
    if not any(e["name"] == environment for e in envs):
        await create_environment(client, account, base_url=base_url, name=environment)
    created = await create_script(client, account, content=script)
    r = await client.post(
        "/v1/test-runs",
        json={"script_id": created["id"], "environment": environment, "browser": "chromium"}
        | options,
        headers=account.headers,
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def wait_for_status(
    client: httpx.AsyncClient,
    account: Account,
    run_id: str,
    statuses: set[str],
    *,
    timeout_s: float = 60,
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        r = await client.get(f"/v1/test-runs/{run_id}", headers=account.headers)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        if body["status"] in statuses:
            return body
        assert time.monotonic() < deadline, f"run still {body['status']}"
        await asyncio.sleep(0.1)
