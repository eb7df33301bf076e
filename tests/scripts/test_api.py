"""Scripts CRUD, revisions, revert, optimistic concurrency, pagination and size limits."""

from __future__ import annotations

import httpx

from scriptflow.scripts.diffing import apply_diff
from tests.factories import create_script, signup


async def test_seed_crud_shapes_and_revisions(client: httpx.AsyncClient) -> None:
    account = await signup(client)
    r = await client.post(
        "/scripts",
        json={"project_id": account.project_id, "title": "Login flow", "content": "a = 1\n"},
        headers=account.headers,
    )
    assert r.status_code == 201
    script = r.json()
    assert {"id", "project_id", "title", "content", "created_at", "updated_at"} <= set(script)
    sid = script["id"]

    r = await client.put(f"/scripts/{sid}", json={"content": "a = 2\n"}, headers=account.headers)
    assert r.status_code == 200
    assert r.json()["content"] == "a = 2\n" and r.json()["title"] == "Login flow"
    assert r.json()["version"] == 2
    # A title-only change is not a new revision.
    r = await client.put(f"/scripts/{sid}", json={"title": "Renamed"}, headers=account.headers)
    assert r.json()["version"] == 2

    r = await client.get(f"/v1/scripts/{sid}/revisions", headers=account.headers)
    revisions = r.json()
    assert [rev["version"] for rev in revisions] == [2, 1]
    assert revisions[0]["source"] == "edit" and revisions[1]["source"] == "create"
    assert revisions[0]["diff"].startswith("diff --git a/")
    assert apply_diff("a = 1\n", revisions[0]["diff"]) == "a = 2\n"
    assert revisions[0]["applied_by"] == account.user_id

    r = await client.get(f"/v1/scripts/{sid}/revisions/1", headers=account.headers)
    assert r.json()["content"] == "a = 1\n"
    assert (
        await client.get(f"/v1/scripts/{sid}/revisions/9", headers=account.headers)
    ).status_code == 404

    r = await client.post(f"/v1/scripts/{sid}/revert", json={"version": 1}, headers=account.headers)
    assert r.status_code == 200
    assert r.json()["version"] == 3 and r.json()["source"] == "revert"
    assert (await client.get(f"/scripts/{sid}", headers=account.headers)).json()[
        "content"
    ] == "a = 1\n"

    assert (await client.delete(f"/scripts/{sid}", headers=account.headers)).status_code == 204
    r = await client.get(f"/scripts/{sid}", headers=account.headers)
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "SCRIPT_NOT_FOUND"


async def test_stale_expected_version_or_if_match_is_a_conflict(client: httpx.AsyncClient) -> None:
    account = await signup(client)
    script = await create_script(client, account, content="x = 1\n")
    sid = script["id"]
    r = await client.put(
        f"/scripts/{sid}",
        json={"content": "x = 2\n", "expected_version": 1},
        headers=account.headers,
    )
    assert r.status_code == 200 and r.headers["ETag"] == '"2"'
    stale = await client.put(
        f"/scripts/{sid}",
        json={"content": "x = 3\n", "expected_version": 1},
        headers=account.headers,
    )
    assert stale.status_code == 409
    assert stale.json()["error"]["details"]["current_version"] == 2
    stale = await client.put(
        f"/scripts/{sid}",
        json={"content": "x = 3\n"},
        headers={**account.headers, "If-Match": '"1"'},
    )
    assert stale.status_code == 409
    # Nothing was lost: the content is still the one saved at version 2.
    assert (await client.get(f"/scripts/{sid}", headers=account.headers)).json()[
        "content"
    ] == "x = 2\n"


async def test_list_filters_and_paginates_with_a_link_header(client: httpx.AsyncClient) -> None:
    account = await signup(client)
    for i in range(5):
        await create_script(client, account, title=f"Checkout {i}")
    await create_script(client, account, title="Login 100%_special")
    r = await client.get("/scripts", params={"q": "checkout", "limit": 2}, headers=account.headers)
    assert r.status_code == 200
    seen = [s["title"] for s in r.json()]
    assert len(seen) == 2
    while "next" in r.links:
        r = await client.get(r.links["next"]["url"], headers=account.headers)
        seen += [s["title"] for s in r.json()]
    assert sorted(seen) == [f"Checkout {i}" for i in range(5)]
    r = await client.get("/scripts", params={"q": "100%_"}, headers=account.headers)
    assert [s["title"] for s in r.json()] == ["Login 100%_special"]
    r = await client.get("/scripts", params={"q": "0%"}, headers=account.headers)
    assert [s["title"] for s in r.json()] == ["Login 100%_special"]
    r = await client.get("/scripts", params={"cursor": "garbage"}, headers=account.headers)
    assert r.status_code == 422


async def test_content_over_the_limit_is_413_and_stores_nothing(client: httpx.AsyncClient) -> None:
    account = await signup(client)
    big = "x = 1\n" * (1024 * 1024 // 6 + 10)
    r = await client.post(
        "/scripts",
        json={"project_id": account.project_id, "title": "big", "content": big},
        headers=account.headers,
    )
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert (await client.get("/scripts", headers=account.headers)).json() == []


async def test_creating_in_a_project_you_do_not_belong_to_is_404(client: httpx.AsyncClient) -> None:
    alice = await signup(client)
    bob = await signup(client)
    r = await client.post(
        "/scripts",
        json={"project_id": alice.project_id, "title": "t", "content": ""},
        headers=bob.headers,
    )
    assert r.status_code == 404
