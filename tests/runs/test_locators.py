"""Internal selectors read back as the locator code people write."""

from __future__ import annotations

import ast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scriptflow.runs.locators import locator_code


@pytest.mark.parametrize(
    ("selector", "code"),
    [
        ('internal:role=button[name="Log in"i]', 'get_by_role("button", name="Log in")'),
        ('internal:role=link[name="Home"s]', 'get_by_role("link", name="Home", exact=True)'),
        ("internal:role=checkbox[checked=true]", 'get_by_role("checkbox", checked=True)'),
        ('internal:label="Username"i', 'get_by_label("Username")'),
        ('internal:text="a >> b"i', 'get_by_text("a >> b")'),
        ('internal:testid=[data-testid="submit"s]', 'get_by_test_id("submit")'),
        ('internal:attr=[placeholder="Email"i]', 'get_by_placeholder("Email")'),
        ("#welcome", 'locator("#welcome")'),
        ("#list >> li >> nth=0", 'locator("#list").locator("li").first'),
        ("li >> nth=3", 'locator("li").nth(3)'),
        ("internal:role=button[name=/Log/i]", 'locator("internal:role=button[name=/Log/i]")'),
    ],
)
def test_common_selectors(selector: str, code: str) -> None:
    assert locator_code(selector) == code


@given(st.text(max_size=60))
def test_always_a_python_expression(selector: str) -> None:
    ast.parse(locator_code(selector), mode="eval")
