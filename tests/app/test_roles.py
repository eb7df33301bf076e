"""A viewer reads and never writes: every state-changing route answers 403 to one.

Like the isolation matrix, this walks the OpenAPI schema, so a new write route is covered
the day it appears; one the matrix cannot build a request for fails until it is taught.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scriptflow.db.engine import transaction
from scriptflow.insights.models import AIInsight
from tests.app.test_isolation import BODIES
from tests.factories import Account, create_environment, create_script, signup

WRITES = ("post", "put", "patch", "delete")
# Writes that are not about a project someone else owns: the caller acts on their own account.
OWN_ACCOUNT = {
    ("post", "/v1/projects"),
    ("post", "/v1/auth/register"),
    ("post", "/v1/auth/login"),
    ("post", "/v1/auth/refresh"),
    ("post", "/v1/auth/logout"),
}
# Bodies for writes without path parameters, naming the owner's objects.
TOP_LEVEL_BODIES = {
    ("post", "/v1/scripts"): lambda ids: {
        "project_id": ids["project_id"],
        "title": "by a viewer",
        "content": "def test_x(page):\n    pass\n",
    },
    ("post", "/v1/test-runs"): lambda ids: {
        "script_id": ids["script_id"],
        "environment": "staging",
    },
}
EXTRA_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("post", "/v1/insights/{insight_id}/summary"): {},
    ("patch", "/v1/test-runs/{run_id}/failure-class"): {"failure_class": "system"},
    ("patch", "/v1/test-runs/{run_id}/tests/{test_id}"): {"failure_class": "system"},
}


async def owner_world(
    client: httpx.AsyncClient,
    owner: Account,
    viewer: Account,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> dict[str, str]:
    """One object of each kind in the owner's project, which the viewer is a member of."""
    r = await client.post(
        f"/v1/projects/{owner.project_id}/members",
        json={"email": viewer.email, "role": "viewer"},
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text
    env = await create_environment(client, owner, base_url="http://127.0.0.1:9")
    script = await create_script(
        client,
        owner,
        content="import time\n\ndef test_x(page):\n    page.goto('/')\n    time.sleep(1)\n",
    )
    ids = {
        "project_id": owner.project_id,
        "env_id": env["id"],
        "member_user_id": viewer.user_id,
        "script_id": str(script["id"]),
    }
    r = await client.post(
        f"/v1/scripts/{ids['script_id']}/enhance", json={"provider": "rules"}, headers=owner.headers
    )
    assert r.status_code == 200 and r.json()["status"] == "proposed", r.text
    ids["changeset_id"] = r.json()["id"]
    r = await client.post(
        "/v1/test-runs",
        json={"script_id": ids["script_id"], "environment": "staging"},
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text
    ids["run_id"] = r.json()["id"]
    # The queued run has no tests yet; the role is checked before the test is looked up.
    ids["test_id"] = str(uuid.uuid4())
    async with transaction(sessionmaker) as session:
        insight = AIInsight(
            project_id=uuid.UUID(owner.project_id),
            script_id=uuid.UUID(ids["script_id"]),
            type="brittle-code",
            severity="medium",
            summary="Hard wait on line 5",
            details={"category": "wait", "lines": [5]},
            fingerprint=uuid.uuid4().hex,
        )
        session.add(insight)
        await session.flush()
        ids["insight_id"] = str(insight.id)
    return ids


async def test_a_viewer_gets_403_on_every_state_changing_route(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await signup(client)
    viewer = await signup(client)
    ids = await owner_world(client, owner, viewer, sessionmaker)
    before = (await client.get(f"/v1/scripts/{ids['script_id']}", headers=owner.headers)).json()
    paths = (await client.get("/openapi.json")).json()["paths"]
    checked = []
    for template, operations in sorted(paths.items()):
        for method in WRITES:
            if method not in operations or not template.startswith("/v1/"):
                continue
            if (method, template) in OWN_ACCOUNT:
                continue
            params = re.findall(r"{(\w+)}", template)
            missing = [p for p in params if p not in ids]
            assert not missing, f"the role matrix has no object for {missing} in {template}"
            url = template
            for p in params:
                url = url.replace("{" + p + "}", ids[p])
            key = (method, template)
            if key in TOP_LEVEL_BODIES:
                body: dict[str, Any] | None = TOP_LEVEL_BODIES[key](ids)
            else:
                body = BODIES.get(key, EXTRA_BODIES.get(key))
            needs_body = operations[method].get("requestBody", {}).get("required")
            assert body is not None or not needs_body, (
                f"the role matrix needs a body for {method.upper()} {template}"
            )
            r = await client.request(method, url, json=body, headers=viewer.headers)
            assert r.status_code == 403, (
                f"{method.upper()} {url} answered {r.status_code}: {r.text}"
            )
            assert r.json()["error"]["code"] == "FORBIDDEN"
            checked.append(key)
    assert len(checked) >= 18, checked

    # Nothing changed: the script, its change set and the insight are as the owner left them.
    after = (await client.get(f"/v1/scripts/{ids['script_id']}", headers=owner.headers)).json()
    assert after == before
    r = await client.get(f"/v1/insights/{ids['insight_id']}", headers=owner.headers)
    assert r.json()["ai_summary"] is None and r.json()["status"] == "open"
    r = await client.get(
        f"/v1/scripts/{ids['script_id']}/changesets/{ids['changeset_id']}", headers=owner.headers
    )
    assert r.json()["status"] == "proposed"
