"""The code generator and the rules generator on reports the sandbox wrote for the demo pages.

The reports are real explorations of `app.demo.site` (kept as files so these tests need no
browser); the live side is covered by tests/generate/test_api.py.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest

from scriptflow.generate.codegen import compile_module
from scriptflow.generate.locator_spec import InvalidSpec, render, validated
from scriptflow.generate.plan import MalformedReport
from scriptflow.generate.rules import NothingToAssert, generated_tests

REPORTS = Path(__file__).parent / "reports"


def report(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((REPORTS / f"{name}.json").read_text())
    return data


def module_for(name: str) -> str:
    tests, _ = generated_tests(report(name))
    return compile_module(tests, provider="rules", source=report(name)["path"]).content


def test_a_repeated_button_is_named_by_its_list_item_never_by_position() -> None:
    code = module_for("products")
    ast.parse(code)
    assert "nth" not in code and ".first" not in code and "locator(" not in code
    for fruit in ("Apple", "Banana", "Cherry"):
        assert (
            f'page.get_by_role("listitem").filter(has_text="{fruit}")'
            '.get_by_role("button", name="Add to cart", exact=True).click()'
        ) in code
        assert f'to_have_text("{fruit} is in your cart")' in code
    names = [n.name for n in ast.walk(ast.parse(code)) if isinstance(n, ast.FunctionDef)]
    assert len(names) == len(set(names)) == 3


def test_the_bare_role_and_name_were_considered_and_refused_as_ambiguous() -> None:
    tests, _ = generated_tests(report("products"))
    click = next(s for s in tests[0].steps if s.action == "click")
    bare = next(
        c
        for c in click.candidates
        if c.spec
        == [{"method": "get_by_role", "role": "button", "name": "Add to cart", "exact": True}]
    )
    assert bare.matches == 3 and not bare.same


def test_a_delayed_outcome_is_asserted_with_a_web_first_wait() -> None:
    code = module_for("newsletter")
    assert 'expect(page.get_by_role("status")).to_have_text("Subscribed ada@example.com")' in code
    assert "wait_for_timeout" not in code and "sleep" not in code


def test_every_field_type_of_the_sign_up_form_is_filled_by_user_facing_locators() -> None:
    code = module_for("signup")
    for line in (
        'page.get_by_role("textbox", name="Email", exact=True).fill("ada@example.com")',
        'page.get_by_role("combobox", name="Plan", exact=True).select_option("Free")',
        'page.get_by_role("radio", name="Email me", exact=True).check()',
        'page.get_by_role("checkbox", name="I accept the terms", exact=True).check()',
        'page.get_by_test_id("signup-submit").click()',
    ):
        assert line in code


def test_the_same_report_gives_the_same_bytes_and_a_finding_per_line() -> None:
    tests, _ = generated_tests(report("signup"))
    first = compile_module(tests, provider="rules", source="/signup")
    second = compile_module(
        generated_tests(report("signup"))[0], provider="rules", source="/signup"
    )
    assert first.content == second.content
    lines = first.content.splitlines()
    for finding in first.findings:
        line = lines[finding["line_start"] - 1]
        if finding["locator"]:
            assert finding["locator"] in line
            assert finding["unique"] is True


def test_a_page_without_an_observable_outcome_is_refused() -> None:
    page = report("signup") | {"forms": []}
    with pytest.raises(NothingToAssert):
        generated_tests(page)


@pytest.mark.parametrize(
    "spec",
    [
        [{"method": "evaluate", "expression": "1"}],
        [{"method": "get_by_role", "role": "button", "name": "x", "has_text": "y"}],
        [{"method": "get_by_role", "role": "bogus"}],
        [{"method": "get_by_text", "text": 5}],
        [],
        "page.locator('x')",
    ],
)
def test_hostile_locator_specs_are_refused(spec: object) -> None:
    with pytest.raises(InvalidSpec):
        validated(spec)


def test_a_report_with_a_hostile_step_is_malformed() -> None:
    page = report("signup")
    page["forms"][0]["steps"][0]["locator"] = [{"method": "evaluate", "expression": "x"}]
    with pytest.raises(MalformedReport):
        generated_tests(page)


def test_strings_are_written_as_python_literals() -> None:
    spec = validated([{"method": "get_by_text", "text": 'a "quoted" \\ text\n'}])
    code = render(spec)
    assert ast.literal_eval(code.split("(", 1)[1].rstrip(")")) == 'a "quoted" \\ text\n'
