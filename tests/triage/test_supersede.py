"""Insights on code a new version removed close themselves, with the reason; new evidence
reopens them. Through the API on both databases, and the rule as a pure function."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scriptflow.db.engine import transaction
from scriptflow.insights.findings import Finding
from scriptflow.insights.models import AIInsight
from scriptflow.insights.refresh import _apply
from scriptflow.insights.supersede import superseded_reason
from tests.factories import Account, create_script, signup

BEFORE = """def test_order(page):
    page.goto("/")
    page.locator("#submit-order").click()
    page.get_by_role("button", name="Pay").click()


def test_flaky_total(page):
    page.goto("/cart")
"""
# #submit-order and test_flaky_total are gone; the Pay button stays.
AFTER = """def test_order(page):
    page.goto("/")
    page.get_by_role("button", name="Submit order").click()
    page.get_by_role("button", name="Pay").click()
"""


async def _insight(
    sessionmaker: async_sessionmaker[AsyncSession],
    account: Account,
    script_id: str,
    insight_type: str,
    details: dict[str, Any],
) -> str:
    async with transaction(sessionmaker) as session:
        insight = AIInsight(
            project_id=uuid.UUID(account.project_id),
            script_id=uuid.UUID(script_id),
            type=insight_type,
            severity="medium",
            summary=f"{insight_type} {details}",
            details=details,
            fingerprint=uuid.uuid4().hex,
        )
        session.add(insight)
        await session.flush()
        return str(insight.id)


async def _status(client: httpx.AsyncClient, account: Account, insight_id: str) -> dict[str, Any]:
    r = await client.get(f"/v1/insights/{insight_id}", headers=account.headers)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_a_saved_version_closes_insights_on_code_it_removed_and_only_those(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await signup(client)
    script_id = str((await create_script(client, owner, content=BEFORE))["id"])
    ids = {
        "selector": await _insight(
            sessionmaker,
            owner,
            script_id,
            "flaky-selector",
            {"locator": 'locator("#submit-order")', "action": "click", "run_ids": ["a"]},
        ),
        "test": await _insight(
            sessionmaker,
            owner,
            script_id,
            "flaky-test",
            {"test": "tests/test_cart.py::test_flaky_total[chromium]", "run_ids": ["a"]},
        ),
        "kept": await _insight(
            sessionmaker,
            owner,
            script_id,
            "flaky-selector",
            {"locator": 'get_by_role("button", name="Pay")', "run_ids": ["a"]},
        ),
        # Built in a page object: never in this file, so a save of this file says nothing.
        "elsewhere": await _insight(
            sessionmaker,
            owner,
            script_id,
            "flaky-selector",
            {"locator": 'get_by_label("Card number")', "run_ids": ["a"]},
        ),
        "no_code": await _insight(
            sessionmaker, owner, script_id, "environment-specific", {"value": "staging"}
        ),
    }
    r = await client.put(f"/v1/scripts/{script_id}", json={"content": AFTER}, headers=owner.headers)
    assert r.status_code == 200 and r.json()["version"] == 2, r.text

    for _ in range(100):  # the handler runs after the save committed
        selector = await _status(client, owner, ids["selector"])
        if selector["status"] == "resolved":
            break
        await asyncio.sleep(0.05)
    assert selector["status"] == "resolved" and selector["resolved_at"]
    assert selector["resolved_reason"].startswith("code replaced in version 2")
    assert "#submit-order" in selector["resolved_reason"]
    test = await _status(client, owner, ids["test"])
    assert test["status"] == "resolved"
    assert test["resolved_reason"] == (
        "code replaced in version 2: the test test_flaky_total no longer appears"
    )
    for still in ("kept", "elsewhere", "no_code"):
        body = await _status(client, owner, ids[still])
        assert (body["status"], body["resolved_reason"]) == ("open", None), still

    # New evidence for the same finding reopens it and forgets the reason.
    async with transaction(sessionmaker) as session:
        insight = await session.get(AIInsight, uuid.UUID(ids["selector"]))
        assert insight is not None
        details = {**insight.details, "run_ids": ["a", "b"]}
        finding = Finding(
            insight.type,
            "medium",
            insight.summary,
            details,
            insight.fingerprint,
            owner.project_id,
            script_id,
        )
        _apply(insight, finding, insight.last_seen)
    reopened = await _status(client, owner, ids["selector"])
    assert (reopened["status"], reopened["resolved_reason"]) == ("open", None)


@pytest.mark.parametrize(
    ("insight_type", "details", "closes"),
    [
        ("flaky-selector", {"locator": 'locator("#submit-order")'}, True),
        ("flaky-selector", {"locator": "#submit-order"}, True),
        ("slow-step", {"locator": 'get_by_role("button", name="Pay")'}, False),
        ("slow-step", {"locator": None, "action": "goto"}, False),
        ("flaky-test", {"test": "test_flaky_total"}, True),
        ("flaky-test", {"test": "tests/t.py::TestCart::test_order[firefox]"}, False),
        ("recurring-failure", {"signature": "TimeoutError"}, False),
    ],
)
def test_which_subjects_a_new_version_removed(
    insight_type: str, details: dict[str, Any], closes: bool
) -> None:
    reason = superseded_reason(insight_type, details, BEFORE, AFTER, 2)
    assert (reason is not None) == closes
    # The same subject added back is not "replaced".
    assert superseded_reason(insight_type, details, AFTER, BEFORE, 3) is None
