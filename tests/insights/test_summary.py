"""The optional AI summary, against an OpenAI-compatible server on loopback."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scriptflow.config import Settings
from tests.factories import create_script, signup
from tests.insights.test_api import CLEAN, finish, flaky_runs
from tests.support.openai_stub import OpenAIStub
from tests.support.settings import settings_with_openai


@pytest.fixture
def settings(db_url: str, tmp_path: Path, openai_stub: OpenAIStub) -> Settings:
    return settings_with_openai(db_url, tmp_path, openai_stub)


async def test_an_ai_summary_is_written_from_the_evidence_and_kept(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    stub: OpenAIStub,
) -> None:
    account = await signup(client)
    script = await create_script(client, account, content=CLEAN)
    runs = await flaky_runs(sessionmaker, account, str(script["id"]))
    await finish(sessionmaker, account, str(script["id"]), runs[-1])
    [insight] = (
        await client.get(
            f"/v1/scripts/{script['id']}/insights",
            params={"type": "flaky-selector"},
            headers=account.headers,
        )
    ).json()
    assert insight["ai_summary"] is None

    stub.answer_raw("The login button fails in about a third of runs; wait for it to be enabled.")
    stub.behaviour.requests.clear()
    r = await client.post(f"/v1/insights/{insight['id']}/summary", headers=account.headers)
    assert r.status_code == 200, r.text
    assert r.json()["ai_summary"].startswith("The login button fails")
    [request] = stub.behaviour.requests
    sent = request["body"]["messages"][-1]["content"]
    assert "#login" in sent and "run_ids" in sent
    assert "get_by_role" not in sent  # the script's content is not sent

    stub.fail_with(500)
    r = await client.post(f"/v1/insights/{insight['id']}/summary", headers=account.headers)
    assert r.status_code == 503
    assert r.json()["error"]["code"] == "AI_PROVIDER_UNAVAILABLE"
    stranger = await signup(client)
    r = await client.post(f"/v1/insights/{insight['id']}/summary", headers=stranger.headers)
    assert r.status_code == 404


async def test_a_refused_summary_spends_none_of_the_ai_limit(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    stub: OpenAIStub,
) -> None:
    owner = await signup(client)
    script = await create_script(client, owner, content=CLEAN)
    runs = await flaky_runs(sessionmaker, owner, str(script["id"]))
    await finish(sessionmaker, owner, str(script["id"]), runs[-1])
    [insight] = (
        await client.get(f"/v1/scripts/{script['id']}/insights", headers=owner.headers)
    ).json()[:1]
    viewer = await signup(client)
    added = await client.post(
        f"/v1/projects/{owner.project_id}/members",
        json={"email": viewer.email, "role": "viewer"},
        headers=owner.headers,
    )
    assert added.status_code == 201, added.text
    client._transport.app.state.rate_limiters["enhance"].per_minute = 1  # type: ignore[attr-defined]
    stub.behaviour.requests.clear()
    refused = [
        (await client.post(f"/v1/insights/{insight['id']}/summary", headers=viewer.headers))
        for _ in range(3)
    ]
    assert [r.status_code for r in refused] == [403, 403, 403]
    assert stub.behaviour.requests == []
    stub.answer_raw("A summary.")
    first = await client.post(f"/v1/insights/{insight['id']}/summary", headers=owner.headers)
    assert first.status_code == 200, first.text
    # Enhance and summaries share one key per user: the summary spent this minute's call.
    enhance = await client.post(
        f"/v1/scripts/{script['id']}/enhance", json={"provider": "rules"}, headers=owner.headers
    )
    assert enhance.status_code == 429, enhance.text
