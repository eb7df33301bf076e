"""Another user's objects are 404 on every route, never 403, and never leak content.

The matrix walks the OpenAPI schema, so a new route with path parameters is covered
automatically; a parameter or body the matrix does not know fails loudly until it is added.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.factories import Account, create_script, signup

# A valid body per (method, path template): the request must get past validation so that
# the 404 comes from the ownership check, not from a 422.
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("patch", "/v1/projects/{project_id}"): {"name": "stolen"},
    ("post", "/v1/projects/{project_id}/members"): {"email": "x@example.com", "role": "viewer"},
    ("post", "/v1/projects/{project_id}/environments"): {
        "name": "prod",
        "base_url": "https://example.com",
    },
    ("patch", "/v1/projects/{project_id}/environments/{env_id}"): {"name": "renamed"},
    ("put", "/v1/scripts/{script_id}"): {"title": "stolen"},
    ("post", "/v1/scripts/{script_id}/revert"): {"version": 1},
    ("post", "/v1/scripts/{script_id}/enhance"): {"prompt": "waits", "provider": "rules"},
    ("post", "/v1/scripts/{script_id}/changesets/{changeset_id}/accept"): {},
    ("post", "/v1/scripts/{script_id}/changesets/{changeset_id}/reject"): {"reason": "not mine"},
    ("post", "/v1/scripts/{script_id}/changesets/{changeset_id}/comments"): {"body": "mine"},
    ("post", "/v1/test-runs/{run_id}/cancel"): {},
    # Any body: the role is checked before the archive is read.
    ("post", "/v1/projects/{project_id}/import"): {},
    # Any body: the role is checked before the JUnit report is parsed.
    ("post", "/v1/projects/{project_id}/results"): {},
    ("post", "/v1/insights/{insight_id}/resolve"): {},
    ("patch", "/v1/test-runs/{run_id}/failure-class"): {"failure_class": "system"},
    ("patch", "/v1/test-runs/{run_id}/tests/{test_id}"): {"failure_class": "system"},
    # The role is checked before the page is opened.
    ("post", "/v1/projects/{project_id}/generate"): {"environment": "staging", "path": "/"},
}


async def alice_world(client: httpx.AsyncClient, alice: Account) -> dict[str, str]:
    """Alice's objects, one of each kind, keyed by the path parameter that names them."""
    carol = await signup(client)
    h = alice.headers
    r = await client.post(
        f"/v1/projects/{alice.project_id}/members",
        json={"email": carol.email, "role": "viewer"},
        headers=h,
    )
    assert r.status_code == 201
    r = await client.post(
        f"/v1/projects/{alice.project_id}/environments",
        json={"name": "staging", "base_url": "http://127.0.0.1:9"},
        headers=h,
    )
    env_id = r.json()["id"]
    script = await create_script(
        client,
        alice,
        content=(
            "import time\n\ndef test_x(page):\n    page.goto('/')\n    time.sleep(1)\n"
            "    page.click('#go')\n"
        ),
    )
    ids = {
        "project_id": alice.project_id,
        "env_id": env_id,
        "member_user_id": carol.user_id,
        "script_id": str(script["id"]),
        "version": "1",
    }
    paths = (await client.get("/openapi.json")).json()["paths"]
    if "/v1/scripts/{script_id}/enhance" in paths:
        r = await client.post(
            f"/v1/scripts/{ids['script_id']}/enhance", json={"provider": "rules"}, headers=h
        )
        assert r.status_code in (200, 201) and r.json()["status"] == "proposed", r.text
        ids["changeset_id"] = r.json()["id"]
    if "/v1/test-runs" in paths:
        r = await client.post(
            "/v1/test-runs",
            json={"script_id": ids["script_id"], "environment": "staging", "browser": "chromium"},
            headers=h,
        )
        if r.status_code in (200, 201, 202):
            ids["run_id"] = r.json()["id"]
    return ids


def routes_with_parameters(paths: dict[str, Any]) -> list[tuple[str, str]]:
    out = []
    for path, ops in paths.items():
        if not path.startswith("/v1/") or "{" not in path:
            continue
        out += [
            (method, path) for method in ops if method in ("get", "post", "put", "patch", "delete")
        ]
    return sorted(out)


async def test_every_route_answers_404_to_a_stranger(client: httpx.AsyncClient) -> None:
    alice = await signup(client)
    bob = await signup(client)
    ids = await alice_world(client, alice)
    paths = (await client.get("/openapi.json")).json()["paths"]
    checked = []
    for method, template in routes_with_parameters(paths):
        params = re.findall(r"{(\w+)}", template)
        missing = [p for p in params if p not in ids]
        if any(p in ("insight_id", "name", "test_id") for p in missing):
            continue  # objects that need real runs; covered by their own domain's tests
        assert not missing, f"the isolation matrix has no object for {missing} in {template}"
        url = template
        for p in params:
            url = url.replace("{" + p + "}", ids[p])
        body = BODIES.get((method, template))
        has_body = "requestBody" in paths[template][method]
        assert (
            body is not None
            or not has_body
            or not paths[template][method]["requestBody"].get("required")
        ), f"the isolation matrix needs a body for {method.upper()} {template}"
        r = await client.request(method, url, json=body, headers=bob.headers)
        assert r.status_code == 404, f"{method.upper()} {url} answered {r.status_code}: {r.text}"
        assert r.json()["error"]["code"].endswith("NOT_FOUND")
        assert "time.sleep" not in r.text and "staging" not in r.text
        checked.append((method, template))
    assert len(checked) >= 15

    # Alice's things are untouched and still hers.
    r = await client.get(f"/v1/scripts/{ids['script_id']}", headers=alice.headers)
    assert r.status_code == 200 and r.json()["title"] == "Login flow"


async def test_lists_never_show_a_strangers_objects(client: httpx.AsyncClient) -> None:
    alice = await signup(client)
    bob = await signup(client)
    await alice_world(client, alice)
    r = await client.get("/v1/scripts", headers=bob.headers)
    assert r.json() == []
    r = await client.get(
        "/v1/scripts", params={"project_id": alice.project_id}, headers=bob.headers
    )
    assert r.json() == []
    r = await client.get("/v1/projects", headers=bob.headers)
    assert [p["id"] for p in r.json()] == [bob.project_id]
