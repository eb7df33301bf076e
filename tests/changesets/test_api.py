"""Accepting part of a change set, the decision trail and stale views, over HTTP on both DBs."""

from __future__ import annotations

import httpx

from tests.factories import Account, create_script, signup

# Three changes a line or two apart: one diff hunk, three review hunks.
SPREAD = """from playwright.sync_api import Page, expect


def test_checkout(page: Page) -> None:
    page.goto("/shop")
    page.wait_for_timeout(1000)
    expect(page.get_by_role("heading", name="Shop")).to_be_visible()
    expect(page.get_by_role("link", name="Cart")).to_be_visible()
    page.click("#add-to-cart")
    expect(page.get_by_role("status")).to_have_text("1 item")
    expect(page.get_by_role("link", name="Cart")).to_be_visible()
    assert page.is_visible("text=Thanks")
"""


async def proposal(client: httpx.AsyncClient, owner: Account) -> tuple[str, dict]:
    script = await create_script(client, owner, title="Checkout", content=SPREAD)
    r = await client.post(
        f"/v1/scripts/{script['id']}/enhance",
        json={"prompt": "Improve waits and selectors"},
        headers=owner.headers,
    )
    assert r.status_code == 200, r.text
    return str(script["id"]), r.json()


async def test_accepting_chosen_hunks_makes_a_revision_with_exactly_those(
    client: httpx.AsyncClient,
) -> None:
    owner = await signup(client)
    script_id, changeset = await proposal(client, owner)
    hunks = changeset["review_hunks"]
    assert [h["index"] for h in hunks] == [0, 1, 2]
    assert len(changeset["hunks"]) == 1  # one hunk of the unified diff
    assert "wait_for_timeout" in hunks[0]["diff"] and '"#add-to-cart"' in hunks[1]["diff"]

    base = f"/v1/scripts/{script_id}/changesets/{changeset['id']}"
    r = await client.post(
        f"{base}/accept", json={"hunks": [0, 2], "expected_version": 1}, headers=owner.headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2

    content = (await client.get(f"/v1/scripts/{script_id}", headers=owner.headers)).json()[
        "content"
    ]
    assert "wait_for_timeout" not in content  # hunk 0 taken
    assert 'page.click("#add-to-cart")' in content  # hunk 1 left out
    assert 'page.get_by_text("Thanks").is_visible()' in content  # hunk 2 taken
    assert content == SPREAD.replace("    page.wait_for_timeout(1000)\n", "").replace(
        'page.is_visible("text=Thanks")', 'page.get_by_text("Thanks").is_visible()'
    )
    decided = (await client.get(base, headers=owner.headers)).json()
    assert decided["status"] == "accepted"
    assert decided["accepted_hunks"] == [0, 2]
    assert decided["decided_by"] == owner.user_id and decided["decided_at"]
    assert decided["revision_id"] == r.json()["revision_id"]


async def test_unknown_or_no_hunks_and_a_stale_version_are_refused(
    client: httpx.AsyncClient,
) -> None:
    owner = await signup(client)
    script_id, changeset = await proposal(client, owner)
    base = f"/v1/scripts/{script_id}/changesets/{changeset['id']}"
    for hunks in ([], [3], [-1]):
        r = await client.post(f"{base}/accept", json={"hunks": hunks}, headers=owner.headers)
        assert r.status_code == 422, (hunks, r.text)
    # The script moved on after the reviewer looked: the accept they meant is refused.
    r = await client.put(
        f"/v1/scripts/{script_id}", json={"content": SPREAD + "\n"}, headers=owner.headers
    )
    assert r.status_code == 200, r.text
    r = await client.post(f"{base}/accept", json={"expected_version": 1}, headers=owner.headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "STALE_CHANGESET"
    still = (await client.get(base, headers=owner.headers)).json()
    assert still["status"] == "proposed"


async def test_a_rejection_refuses_a_blank_reason_and_keeps_a_given_one_on_record(
    client: httpx.AsyncClient,
) -> None:
    owner = await signup(client)
    script_id, changeset = await proposal(client, owner)
    base = f"/v1/scripts/{script_id}/changesets/{changeset['id']}"
    for body in ({}, {"reason": "   "}):
        r = await client.post(f"{base}/reject", json=body, headers=owner.headers)
        assert r.status_code == 422, r.text
    r = await client.post(
        f"{base}/reject", json={"reason": "the wait covers an animation"}, headers=owner.headers
    )
    assert r.status_code == 200, r.text
    decided = (await client.get(base, headers=owner.headers)).json()
    assert decided["status"] == "rejected"
    assert decided["decision_reason"] == "the wait covers an animation"
    assert decided["decided_by"] == owner.user_id and decided["accepted_hunks"] is None


async def test_comments_attach_to_a_hunk_or_the_whole_and_read_in_order(
    client: httpx.AsyncClient,
) -> None:
    owner = await signup(client)
    script_id, changeset = await proposal(client, owner)
    base = f"/v1/scripts/{script_id}/changesets/{changeset['id']}/comments"
    r = await client.post(
        base, json={"hunk": 1, "body": "  keep page.click here  "}, headers=owner.headers
    )
    assert r.status_code == 201, r.text
    r = await client.post(base, json={"body": "fine otherwise"}, headers=owner.headers)
    assert r.status_code == 201, r.text
    for bad in ({"hunk": 3, "body": "no such hunk"}, {"body": "   "}):
        r = await client.post(base, json=bad, headers=owner.headers)
        assert r.status_code == 422, (bad, r.text)
    comments = (await client.get(base, headers=owner.headers)).json()
    assert [(c["hunk"], c["body"], c["author_id"]) for c in comments] == [
        (1, "keep page.click here", owner.user_id),
        (None, "fine otherwise", owner.user_id),
    ]


async def test_the_seeds_bodiless_reject_still_rejects(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    script_id, changeset = await proposal(client, owner)
    r = await client.post(
        f"/scripts/{script_id}/changesets/{changeset['id']}/reject", headers=owner.headers
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "rejected"}
    decided = (
        await client.get(
            f"/v1/scripts/{script_id}/changesets/{changeset['id']}", headers=owner.headers
        )
    ).json()
    assert decided["status"] == "rejected" and decided["decision_reason"] is None
