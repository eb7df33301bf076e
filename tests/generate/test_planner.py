"""The openai planner through the official SDK against the loopback stub; no browser needed."""

from __future__ import annotations

import json

import pytest

from scriptflow.errors import AIOutputInvalid, AIProviderUnavailable
from scriptflow.generate.openai_planner import OpenAIPlanner, plan_tests
from scriptflow.generate.plan import PlanOut
from tests.support.openai_stub import OpenAIStub

PLAN = {
    "test_name": "test_sign_in",
    "steps": [
        {"action": "fill", "target": {"label": "Username"}, "value": "demo"},
        {"action": "click", "target": {"role": "button", "name": "Log in"}},
        {"action": "expect_url", "value": "/welcome"},
    ],
}


def planner(stub: OpenAIStub, key: str | None = "sk-test") -> OpenAIPlanner:
    return OpenAIPlanner(api_key=key, base_url=stub.base_url, max_retries=0, timeout_s=10)


async def ask(stub: OpenAIStub, key: str | None = "sk-test") -> PlanOut:
    plan, model = await planner(stub, key).plan(
        description="sign in", path="/login", outline='- textbox "Username"', model=None
    )
    assert model == "gpt-4o-mini"
    return plan


async def test_a_plan_is_structured_output_and_the_outline_goes_with_the_description(
    stub: OpenAIStub,
) -> None:
    stub.answer_raw(json.dumps(PLAN))
    plan = await ask(stub)
    assert [s.action for s in plan.steps] == ["fill", "click", "expect_url"]
    request = stub.behaviour.requests[-1]
    assert request["body"]["response_format"]["type"] == "json_schema"
    assert 'textbox "Username"' in request["body"]["messages"][1]["content"]


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        (PLAN | {"code": "import os"}, None),  # code is not part of a plan
        (PLAN | {"steps": PLAN["steps"][:2]}, "no_outcome_assertion"),
        ({"test_name": "x", "steps": [{"action": "run_python", "value": "1"}]}, None),
        (
            PLAN
            | {"steps": [{"action": "goto", "value": "https://evil.example/"}, *PLAN["steps"]]},
            "not_a_path",
        ),
        (
            PLAN | {"steps": [{"action": "goto", "value": "//evil.example/"}, *PLAN["steps"]]},
            "not_a_path",
        ),
        ("not json at all", None),
    ],
)
async def test_plans_that_are_not_plans_or_check_nothing_are_502(
    stub: OpenAIStub, answer: object, problem: str | None
) -> None:
    stub.answer_raw(answer if isinstance(answer, str) else json.dumps(answer))
    with pytest.raises(AIOutputInvalid) as caught:
        await ask(stub)
    assert caught.value.status_code == 502
    if problem:
        assert caught.value.details["problem"] == problem


async def test_an_unavailable_provider_is_503_without_the_key(stub: OpenAIStub) -> None:
    with pytest.raises(AIProviderUnavailable) as caught:
        await ask(stub, key=None)
    assert "OPENAI_API_KEY" in caught.value.message
    stub.fail_with(500)
    with pytest.raises(AIProviderUnavailable) as caught:
        await ask(stub, key="sk-secret-value")
    assert "sk-secret-value" not in caught.value.message
    assert caught.value.details["status"] == 500


def test_a_step_the_page_could_not_do_is_502_naming_it() -> None:
    plan = PlanOut.model_validate(PLAN)
    report = {"steps": [], "failed": {"step": 1, "error": "matches 3 elements, not one"}}
    with pytest.raises(AIOutputInvalid) as caught:
        plan_tests(plan, report, "/login")
    assert caught.value.details["step"] == 1
    assert caught.value.details["planned"]["target"] == {"role": "button", "name": "Log in"}
    assert "matches 3 elements" in caught.value.message
