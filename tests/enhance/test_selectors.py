"""Which selectors are brittle, and why."""

from __future__ import annotations

import pytest

from scriptflow.enhance.rules.selectors import brittleness, looks_generated


@pytest.mark.parametrize(
    ("selector", "reason"),
    [
        ("div > ul > li:nth-child(3) > a", "positional"),
        ("button >> nth=2", "positional"),
        ("xpath=/html/body/div[2]/button", "absolute XPath"),
        ("/html/body/form", "absolute XPath"),
        ("(//a)[3]", "positional XPath"),
        ("main form div span button", "long descendant chain"),
        (".css-1q2w3e", "generated-looking"),
        ("#ember1234", "generated-looking"),
        (".sc-AxjAm", "generated-looking"),
        ("#a1b2c3d", "generated-looking"),
    ],
)
def test_brittle_selectors_say_why(selector: str, reason: str) -> None:
    found = brittleness(selector)
    assert found is not None and reason in found


@pytest.mark.parametrize(
    "selector",
    [
        "#login",
        "[data-testid=buy]",
        "text=Sign in",
        "role=button[name='Pay']",
        ".btn.btn-primary",
        "#step2",
        ".MuiButton-root",
        "//button[@type='submit']",
        "form > button",
    ],
)
def test_stable_selectors_pass(selector: str) -> None:
    assert brittleness(selector) is None


def test_counters_are_not_hashes() -> None:
    assert not looks_generated("item10")
    assert looks_generated("x9f3kq2")
