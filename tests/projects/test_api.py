"""Projects, members with roles, and environments through the API."""

from __future__ import annotations

import httpx

from tests.factories import Account, create_script, signup


async def _add_member(
    client: httpx.AsyncClient, owner: Account, member: Account, role: str
) -> None:
    r = await client.post(
        f"/v1/projects/{owner.project_id}/members",
        json={"email": member.email, "role": role},
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text


async def test_project_crud_and_settings(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    r = await client.post("/v1/projects", json={"name": "Checkout"}, headers=owner.headers)
    assert r.status_code == 201
    pid = r.json()["id"]
    r = await client.patch(
        f"/v1/projects/{pid}",
        json={"name": "Checkout v2", "settings": {"require_distinct_reviewer": True}},
        headers=owner.headers,
    )
    assert r.status_code == 200
    assert r.json()["name"] == "Checkout v2"
    assert r.json()["settings"]["require_distinct_reviewer"] is True
    bad = await client.patch(
        f"/v1/projects/{pid}", json={"settings": {"no_such_key": 1}}, headers=owner.headers
    )
    assert bad.status_code == 422
    r = await client.get("/v1/projects", headers=owner.headers)
    assert {p["name"] for p in r.json()} == {"Personal", "Checkout v2"}
    assert (await client.delete(f"/v1/projects/{pid}", headers=owner.headers)).status_code == 204
    assert (await client.get(f"/v1/projects/{pid}", headers=owner.headers)).status_code == 404


async def test_roles_gate_what_members_may_do(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    viewer = await signup(client)
    editor = await signup(client)
    await _add_member(client, owner, viewer, "viewer")
    await _add_member(client, owner, editor, "editor")
    script = await create_script(client, owner)

    # Viewers read but do not write.
    assert (await client.get(f"/scripts/{script['id']}", headers=viewer.headers)).status_code == 200
    r = await client.put(f"/scripts/{script['id']}", json={"title": "x"}, headers=viewer.headers)
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "FORBIDDEN"
    # Editors write scripts but do not manage environments or members.
    r = await client.put(f"/scripts/{script['id']}", json={"title": "y"}, headers=editor.headers)
    assert r.status_code == 200
    r = await client.post(
        f"/v1/projects/{owner.project_id}/environments",
        json={"name": "staging", "base_url": "https://staging.example.com"},
        headers=editor.headers,
    )
    assert r.status_code == 403
    r = await client.post(
        f"/v1/projects/{owner.project_id}/members",
        json={"email": viewer.email, "role": "owner"},
        headers=editor.headers,
    )
    assert r.status_code == 403


async def test_members_list_change_and_remove(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    other = await signup(client)
    await _add_member(client, owner, other, "viewer")
    await _add_member(client, owner, other, "reviewer")  # changes the role
    r = await client.get(f"/v1/projects/{owner.project_id}/members", headers=owner.headers)
    roles = {m["email"]: m["role"] for m in r.json()}
    assert roles == {owner.email: "owner", other.email: "reviewer"}
    # The last owner cannot leave.
    r = await client.delete(
        f"/v1/projects/{owner.project_id}/members/{owner.user_id}", headers=owner.headers
    )
    assert r.status_code == 409
    r = await client.delete(
        f"/v1/projects/{owner.project_id}/members/{other.user_id}", headers=owner.headers
    )
    assert r.status_code == 204
    assert (
        await client.get(f"/v1/projects/{owner.project_id}", headers=other.headers)
    ).status_code == 404
    r = await client.post(
        f"/v1/projects/{owner.project_id}/members",
        json={"email": "nobody@example.com", "role": "viewer"},
        headers=owner.headers,
    )
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "USER_NOT_REGISTERED"


async def test_environments_crud_with_unique_names(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    base = f"/v1/projects/{owner.project_id}/environments"
    r = await client.post(
        base,
        json={"name": "staging", "base_url": "https://staging.example.com/"},
        headers=owner.headers,
    )
    assert r.status_code == 201
    env = r.json()
    assert env["base_url"] == "https://staging.example.com"
    dup = await client.post(
        base,
        json={"name": "staging", "base_url": "https://other.example.com"},
        headers=owner.headers,
    )
    assert dup.status_code == 409
    bad = await client.post(base, json={"name": "qa", "base_url": "ftp://x"}, headers=owner.headers)
    assert bad.status_code == 422
    r = await client.patch(
        f"{base}/{env['id']}", json={"base_url": "http://127.0.0.1:9000"}, headers=owner.headers
    )
    assert r.status_code == 200 and r.json()["base_url"] == "http://127.0.0.1:9000"
    r = await client.get(base, headers=owner.headers)
    assert [e["name"] for e in r.json()] == ["staging"]
    assert (await client.delete(f"{base}/{env['id']}", headers=owner.headers)).status_code == 204
    assert (await client.get(base, headers=owner.headers)).json() == []


def test_the_settings_schema_names_every_insight_threshold_and_nothing_else() -> None:
    from dataclasses import fields

    from app.schemas.projects import InsightThresholdsIn
    from scriptflow.insights.thresholds import Thresholds

    assert set(InsightThresholdsIn.model_fields) == {f.name for f in fields(Thresholds)}


async def test_settings_merge_key_by_key_and_refuse_unknown_thresholds(
    client: httpx.AsyncClient,
) -> None:
    account = await signup(client)
    url = f"/v1/projects/{account.project_id}"
    r = await client.patch(
        url,
        json={"settings": {"insights": {"flaky_min_runs": 8, "slow_min_ratio": 2}}},
        headers=account.headers,
    )
    assert r.status_code == 200, r.text
    r = await client.patch(
        url, json={"settings": {"require_distinct_reviewer": True}}, headers=account.headers
    )
    assert r.status_code == 200, r.text
    settings = r.json()["settings"]
    assert settings["require_distinct_reviewer"] is True
    assert settings["insights"] == {"flaky_min_runs": 8, "slow_min_ratio": 2.0}
    r = await client.patch(
        url, json={"settings": {"insights": {"flaky_typo": 1}}}, headers=account.headers
    )
    assert r.status_code == 422
    assert any("flaky_typo" in f["field"] for f in r.json()["error"]["details"]["fields"])
