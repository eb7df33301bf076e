"""Enhance, review and accept over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI

from app.main import create_app
from scriptflow.config import Settings
from tests.factories import Account, create_environment, create_script, signup
from tests.support.openai_stub import OpenAIStub

FLAKY = (
    "import time\n"
    "\n"
    "\n"
    "def test_login(page):\n"
    '    page.goto("https://staging.example.com/login")\n'
    "    time.sleep(1)  # wait for the form\n"
    '    page.click("#submit")\n'
    '    assert page.is_visible("#welcome")\n'
)
CLEAN = (
    "from playwright.sync_api import expect\n"
    "\n"
    "\n"
    "def test_login(page):\n"
    '    page.goto("/login")\n'
    '    page.get_by_role("button", name="Sign in").click()\n'
    '    expect(page.get_by_text("Welcome")).to_be_visible()\n'
)


@asynccontextmanager
async def client_for(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    application: FastAPI = create_app(settings, run_background=False)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


async def enhance(
    client: httpx.AsyncClient, account: Account, script_id: object, **body: Any
) -> httpx.Response:
    return await client.post(f"/scripts/{script_id}/enhance", json=body, headers=account.headers)


async def member(client: httpx.AsyncClient, owner: Account, role: str) -> Account:
    other = await signup(client)
    r = await client.post(
        f"/v1/projects/{owner.project_id}/members",
        json={"email": other.email, "role": role},
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text
    return other


async def proposed(client: httpx.AsyncClient, account: Account, content: str = FLAKY) -> tuple:
    script = await create_script(client, account, content=content)
    r = await enhance(client, account, script["id"])
    assert r.status_code == 200, r.text
    return script, r.json()


def error_code(response: httpx.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


async def test_enhance_proposes_a_change_set_with_the_seed_fields_and_more(
    client: httpx.AsyncClient,
) -> None:
    owner = await signup(client)
    await create_environment(client, owner, base_url="https://staging.example.com")
    script = await create_script(client, owner, content=FLAKY)
    r = await enhance(client, owner, script["id"], prompt="Improve waits and selectors")
    assert r.status_code == 200, r.text
    body = r.json()
    for key in (
        "id",
        "script_id",
        "proposed_diff",
        "ai_model",
        "confidence",
        "status",
        "created_at",
    ):
        assert key in body
    assert body["status"] == "proposed"
    assert body["provider"] == "rules"
    assert body["base_version"] == 1
    assert body["prompt"] == "Improve waits and selectors"
    assert body["risk"] == "low"
    assert 0 <= body["confidence"] <= 1
    assert body["proposed_diff"].startswith("diff --git a/")
    assert "\n--- a/" in body["proposed_diff"] and "\n+++ b/" in body["proposed_diff"]
    categories = {finding["category"] for finding in body["findings"]}
    assert categories == {"wait", "locator"}  # the prompt chose waits and selectors only
    finding = body["findings"][0]
    assert set(finding) >= {"rule", "line_start", "line_end", "category", "rationale", "confidence"}

    r = await client.get(
        f"/v1/scripts/{script['id']}/changesets/{body['id']}", headers=owner.headers
    )
    assert r.status_code == 200 and r.json()["proposed_diff"] == body["proposed_diff"]
    r = await client.get(
        f"/v1/scripts/{script['id']}/changesets?status=proposed", headers=owner.headers
    )
    assert [c["id"] for c in r.json()] == [body["id"]]
    r = await client.get(
        f"/v1/scripts/{script['id']}/changesets?status=accepted", headers=owner.headers
    )
    assert r.json() == []


async def test_accept_makes_the_proposal_the_next_revision(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    script, changeset = await proposed(client, owner)
    url = f"/scripts/{script['id']}/changesets/{changeset['id']}/accept"
    r = await client.post(url, headers=owner.headers)
    assert r.status_code == 200, r.text
    accepted = r.json()
    assert accepted["status"] == "accepted" and accepted["version"] == 2
    r = await client.get(f"/v1/scripts/{script['id']}", headers=owner.headers)
    assert r.json()["version"] == 2
    content = r.json()["content"]
    assert "time.sleep" not in content and "# wait for the form" in content
    r = await client.get(f"/v1/scripts/{script['id']}/revisions/2", headers=owner.headers)
    revision = r.json()
    assert revision["source"] == "changeset"
    assert revision["changeset_id"] == changeset["id"]
    assert revision["id"] == accepted["revision_id"]
    r = await client.get(
        f"/v1/scripts/{script['id']}/changesets/{changeset['id']}", headers=owner.headers
    )
    assert r.json()["status"] == "accepted"
    assert r.json()["revision_id"] == accepted["revision_id"]
    assert r.json()["decided_by"] == owner.user_id

    r = await client.post(url, headers=owner.headers)
    assert r.status_code == 409 and error_code(r) == "INVALID_CHANGESET_STATE"
    r = await enhance(client, owner, script["id"])
    assert r.status_code == 200 and r.json()["status"] == "no_changes"


async def test_twenty_concurrent_accepts_make_exactly_one_revision(
    client: httpx.AsyncClient,
) -> None:
    owner = await signup(client)
    script, changeset = await proposed(client, owner)
    url = f"/scripts/{script['id']}/changesets/{changeset['id']}/accept"
    responses = await asyncio.gather(*(client.post(url, headers=owner.headers) for _ in range(20)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [409] * 19, [r.text for r in responses if r.status_code != 409]
    assert {error_code(r) for r in responses if r.status_code == 409} == {"INVALID_CHANGESET_STATE"}
    r = await client.get(f"/v1/scripts/{script['id']}/revisions", headers=owner.headers)
    assert sorted(rev["version"] for rev in r.json()) == [1, 2]


async def test_nothing_to_improve_answers_200_and_stores_nothing(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    script = await create_script(client, owner, content=CLEAN)
    r = await enhance(client, owner, script["id"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "no_changes" and body["proposed_diff"] == "" and body["id"] is None
    r = await client.get(f"/v1/scripts/{script['id']}/changesets", headers=owner.headers)
    assert r.json() == []


async def test_no_changes_still_explains_what_it_saw(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    content = CLEAN.replace(
        'page.get_by_role("button", name="Sign in")', 'page.locator(".css-1x2y3z")'
    )
    script = await create_script(client, owner, content=content)
    body = (await enhance(client, owner, script["id"])).json()
    assert body["status"] == "no_changes"
    assert [f["rule"] for f in body["findings"]] == ["selectors.brittle"]
    assert body["findings"][0]["changed"] is False


async def test_a_script_that_is_not_python_is_422_naming_the_line(
    client: httpx.AsyncClient,
) -> None:
    owner = await signup(client)
    script = await create_script(
        client, owner, content="def test_x(page):\n    page.goto('/')\n    page.click(\n"
    )
    r = await enhance(client, owner, script["id"])
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["code"] == "SCRIPT_SYNTAX_ERROR"
    assert "line 3" in error["message"] and error["details"]["line"] == 3


async def test_stale_change_set_is_applied_when_it_still_fits_and_409_when_not(
    client: httpx.AsyncClient,
) -> None:
    owner = await signup(client)
    script, changeset = await proposed(client, owner)
    # An unrelated edit on top: the diff still applies, shifted.
    r = await client.put(
        f"/v1/scripts/{script['id']}",
        json={"content": "# smoke suite\n" + FLAKY},
        headers=owner.headers,
    )
    assert r.status_code == 200, r.text
    r = await client.post(
        f"/scripts/{script['id']}/changesets/{changeset['id']}/accept", headers=owner.headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 3
    content = (await client.get(f"/v1/scripts/{script['id']}", headers=owner.headers)).json()
    assert content["content"].startswith("# smoke suite\n")
    assert 'page.locator("#submit").click()' in content["content"]

    script, changeset = await proposed(client, owner)
    r = await client.put(
        f"/v1/scripts/{script['id']}",
        json={"content": FLAKY.replace('page.click("#submit")', 'page.click("#go")')},
        headers=owner.headers,
    )
    assert r.status_code == 200
    r = await client.post(
        f"/scripts/{script['id']}/changesets/{changeset['id']}/accept", headers=owner.headers
    )
    assert r.status_code == 409 and error_code(r) == "STALE_CHANGESET"
    r = await client.get(
        f"/v1/scripts/{script['id']}/changesets/{changeset['id']}", headers=owner.headers
    )
    assert r.json()["status"] == "proposed"  # the failed accept left nothing behind


async def test_reject_with_a_reason_then_the_change_set_is_closed(
    client: httpx.AsyncClient,
) -> None:
    owner = await signup(client)
    script, changeset = await proposed(client, owner)
    base = f"/scripts/{script['id']}/changesets/{changeset['id']}"
    r = await client.post(
        f"{base}/reject", json={"reason": "keep the sleep"}, headers=owner.headers
    )
    assert r.status_code == 200 and r.json() == {"status": "rejected"}
    detail = (await client.get(f"/v1{base}", headers=owner.headers)).json()
    assert detail["status"] == "rejected" and detail["decision_reason"] == "keep the sleep"
    r = await client.post(f"{base}/accept", headers=owner.headers)
    assert r.status_code == 409 and error_code(r) == "INVALID_CHANGESET_STATE"
    r = await client.post(f"{base}/reject", json={"reason": "again"}, headers=owner.headers)
    assert r.status_code == 409


async def test_roles_decide_who_proposes_and_who_accepts(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    viewer = await member(client, owner, "viewer")
    editor = await member(client, owner, "editor")
    reviewer = await member(client, owner, "reviewer")
    stranger = await signup(client)
    script = await create_script(client, owner, content=FLAKY)

    assert (await enhance(client, viewer, script["id"])).status_code == 403
    r = await enhance(client, stranger, script["id"])
    assert r.status_code == 404 and error_code(r) == "SCRIPT_NOT_FOUND"
    r = await enhance(client, editor, script["id"])
    assert r.status_code == 200
    changeset = r.json()
    accept = f"/scripts/{script['id']}/changesets/{changeset['id']}/accept"
    assert (await client.post(accept, headers=editor.headers)).status_code == 403
    assert (await client.post(accept, headers=stranger.headers)).status_code == 404
    r = await client.get(
        f"/v1/scripts/{script['id']}/changesets/{changeset['id']}", headers=stranger.headers
    )
    assert r.status_code == 404
    assert (await client.post(accept, headers=reviewer.headers)).status_code == 200


async def test_high_risk_needs_an_owner_who_acknowledges_it(
    client: httpx.AsyncClient, stub: OpenAIStub
) -> None:
    owner = await signup(client)
    reviewer = await member(client, owner, "reviewer")
    script = await create_script(client, owner, content=CLEAN)
    risky = CLEAN.replace(
        '    expect(page.get_by_text("Welcome")).to_be_visible()\n',
        "    page.wait_for_timeout(2000)\n",
    )
    stub.answer(
        risky,
        [
            {
                "line_start": 7,
                "line_end": 7,
                "category": "wait",
                "rationale": "slow page",
                "confidence": 0.7,
            }
        ],
    )
    r = await enhance(client, owner, script["id"], provider="openai")
    assert r.status_code == 200, r.text
    changeset = r.json()
    assert changeset["risk"] == "high"
    assert changeset["confidence"] <= 0.3
    assert set(changeset["hunks"][0]["risks"]) == {"removes_assertion", "adds_hard_wait"}
    accept = f"/scripts/{script['id']}/changesets/{changeset['id']}/accept"

    r = await client.post(accept, json={"acknowledge_risk": True}, headers=reviewer.headers)
    assert r.status_code == 403 and error_code(r) == "GUARDRAIL"
    r = await client.post(accept, headers=owner.headers)
    assert r.status_code == 403 and error_code(r) == "GUARDRAIL"
    r = await client.post(accept, json={"acknowledge_risk": False}, headers=owner.headers)
    assert r.status_code == 403 and error_code(r) == "GUARDRAIL"
    r = await client.post(accept, json={"acknowledge_risk": True}, headers=owner.headers)
    assert r.status_code == 200, r.text


async def test_project_can_require_a_reviewer_other_than_the_proposer(
    client: httpx.AsyncClient,
) -> None:
    owner = await signup(client)
    reviewer = await member(client, owner, "reviewer")
    r = await client.patch(
        f"/v1/projects/{owner.project_id}",
        json={"settings": {"require_distinct_reviewer": True}},
        headers=owner.headers,
    )
    assert r.status_code == 200, r.text
    script, changeset = await proposed(client, owner)
    accept = f"/scripts/{script['id']}/changesets/{changeset['id']}/accept"
    r = await client.post(accept, headers=owner.headers)
    assert r.status_code == 403 and error_code(r) == "GUARDRAIL"
    assert (await client.post(accept, headers=reviewer.headers)).status_code == 200


async def test_openai_provider_proposes_from_structured_output(
    client: httpx.AsyncClient, stub: OpenAIStub
) -> None:
    owner = await signup(client)
    script = await create_script(client, owner, content=FLAKY)
    improved = FLAKY.replace("    time.sleep(1)  # wait for the form\n", "")
    stub.answer(
        improved,
        [
            {
                "line_start": 6,
                "line_end": 6,
                "category": "wait",
                "rationale": "click waits on its own",
                "confidence": 0.97,
            }
        ],
    )
    r = await enhance(
        client,
        owner,
        script["id"],
        provider="openai",
        model="gpt-4o-mini",
        temperature=0.2,
        prompt="Improve waits",
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["provider"] == "openai" and body["ai_model"] == "gpt-4o-mini"
    assert body["confidence"] == 0.9  # the model's own 0.97, capped
    assert body["findings"][0]["rule"] == "openai:gpt-4o-mini"
    sent = stub.behaviour.requests[-1]
    assert sent["body"]["model"] == "gpt-4o-mini" and sent["body"]["temperature"] == 0.2
    assert sent["body"]["response_format"]["type"] == "json_schema"
    assert "time.sleep(1)" in sent["body"]["messages"][-1]["content"]


async def test_openai_output_that_is_not_usable_is_502_and_stores_nothing(
    client: httpx.AsyncClient, stub: OpenAIStub
) -> None:
    owner = await signup(client)
    script = await create_script(client, owner, content=FLAKY)
    for bad in ("not json at all", '{"changes": []}'):
        stub.answer_raw(bad)
        r = await enhance(client, owner, script["id"], provider="openai")
        assert r.status_code == 502 and error_code(r) == "AI_OUTPUT_INVALID", r.text
    stub.answer("def test_login(page:\n")
    r = await enhance(client, owner, script["id"], provider="openai")
    assert r.status_code == 502 and error_code(r) == "AI_OUTPUT_INVALID"
    r = await client.get(f"/v1/scripts/{script['id']}/changesets", headers=owner.headers)
    assert r.json() == []


async def test_openai_failing_or_unreachable_or_unconfigured_is_503(
    client: httpx.AsyncClient, stub: OpenAIStub, settings: Settings
) -> None:
    owner = await signup(client)
    script = await create_script(client, owner, content=FLAKY)
    for status in (500, 401, 429):
        stub.fail_with(status)
        r = await enhance(client, owner, script["id"], provider="openai")
        assert r.status_code == 503 and error_code(r) == "AI_PROVIDER_UNAVAILABLE", r.text
        assert "sk-test" not in r.text

    unreachable = settings.model_copy(update={"openai_base_url": "http://127.0.0.1:9/v1"})
    async with client_for(unreachable) as other:
        account = await signup(other)
        created = await create_script(other, account, content=FLAKY)
        r = await enhance(other, account, created["id"], provider="openai")
        assert r.status_code == 503 and "OPENAI_BASE_URL" in r.json()["error"]["message"]

    unconfigured = settings.model_copy(update={"openai_api_key": None})
    async with client_for(unconfigured) as other:
        account = await signup(other)
        created = await create_script(other, account, content=FLAKY)
        r = await enhance(other, account, created["id"], provider="openai")
        assert r.status_code == 503 and "OPENAI_API_KEY" in r.json()["error"]["message"]


async def test_models_outside_the_allow_list_are_refused(
    client: httpx.AsyncClient, stub: OpenAIStub
) -> None:
    owner = await signup(client)
    script = await create_script(client, owner, content=FLAKY)
    r = await enhance(client, owner, script["id"], provider="openai", model="o9-ultra")
    assert r.status_code == 422 and error_code(r) == "VALIDATION_ERROR"
    assert stub.behaviour.requests == []


async def test_enhance_is_rate_limited_per_user(settings: Settings) -> None:
    limited = settings.model_copy(update={"rate_limit_enhance_per_minute": 3})
    async with client_for(limited) as client:
        owner = await signup(client)
        other = await signup(client)
        script = await create_script(client, owner, content=CLEAN)
        for _ in range(3):
            assert (await enhance(client, owner, script["id"])).status_code == 200
        r = await enhance(client, owner, script["id"])
        assert r.status_code == 429 and error_code(r) == "RATE_LIMITED"
        assert int(r.headers["Retry-After"]) >= 1
        theirs = await create_script(client, other, content=CLEAN)
        assert (await enhance(client, other, theirs["id"])).status_code == 200


async def test_unknown_fields_and_bad_values_are_422(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    script = await create_script(client, owner, content=FLAKY)
    assert (await enhance(client, owner, script["id"], provder="rules")).status_code == 422
    assert (await enhance(client, owner, script["id"], provider="magic")).status_code == 422
    assert (await enhance(client, owner, script["id"], temperature=9)).status_code == 422
    r = await client.get(
        f"/v1/scripts/{script['id']}/changesets?status=maybe", headers=owner.headers
    )
    assert r.status_code == 422


async def test_locator_hints_in_the_request_replace_brittle_selectors(
    client: httpx.AsyncClient,
) -> None:
    owner = await signup(client)
    content = 'def test_x(page):\n    page.locator("div > ul > li:nth-child(2)").click()\n'
    script = await create_script(client, owner, content=content)
    r = await enhance(
        client,
        owner,
        script["id"],
        locator_hints={"div > ul > li:nth-child(2)": {"role": "tab", "name": "Factures"}},
    )
    assert r.status_code == 200, r.text
    assert '+    page.get_by_role("tab", name="Factures").click()\n' in r.json()["proposed_diff"]


async def test_a_slow_model_does_not_hold_the_database(
    client: httpx.AsyncClient, stub: OpenAIStub
) -> None:
    owner = await signup(client)
    script = await create_script(client, owner, content=FLAKY)
    other = await create_script(client, owner, title="Other", content=CLEAN)
    stub.answer(FLAKY.replace("    time.sleep(1)  # wait for the form\n", ""))
    stub.behaviour.gate = threading.Event()  # the model answers when the test says so
    pending = asyncio.create_task(enhance(client, owner, script["id"], provider="openai"))
    try:
        while not stub.behaviour.requests:  # the enhancement is now waiting on the model
            assert not pending.done(), pending.result().text
            await asyncio.sleep(0.05)
        # A write lock held across the model call would keep this edit waiting for the gate.
        r = await asyncio.wait_for(
            client.put(
                f"/v1/scripts/{other['id']}",
                json={"content": CLEAN + "# edited\n"},
                headers=owner.headers,
            ),
            timeout=30,
        )
        assert r.status_code == 200, r.text
        assert not pending.done()
    finally:
        stub.behaviour.gate.set()
    assert (await pending).status_code == 200


async def test_change_sets_page_newest_first_with_a_link_header(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    script = await create_script(client, owner, content=FLAKY)
    ids = [(await enhance(client, owner, script["id"])).json()["id"] for _ in range(3)]
    r = await client.get(f"/v1/scripts/{script['id']}/changesets?limit=2", headers=owner.headers)
    assert [c["id"] for c in r.json()] == ids[::-1][:2]
    next_url = r.headers["Link"].split(";")[0].strip("<>")
    r = await client.get(next_url, headers=owner.headers)
    assert [c["id"] for c in r.json()] == ids[:1]
    assert "Link" not in r.headers
