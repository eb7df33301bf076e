"""Failure classes from real-looking Playwright and pytest errors (pure rules)."""

from __future__ import annotations

import pytest

from scriptflow.runs.failure_class import FailureClass, failure_class

UNREACHABLE = (
    "test_home: goto failed: Page.goto: net::ERR_CONNECTION_REFUSED at http://127.0.0.1:9/\n"
    'Call log:\n  - navigating to "http://127.0.0.1:9/", waiting until "load"'
)
LOCATOR_TIMEOUT = (
    "TimeoutError: Locator.click: Timeout 5000ms exceeded.\nCall log:\n"
    '  - waiting for locator("#login")'
)
ASSERTION = (
    'AssertionError: Locator expected to have text "1 item"\nActual value: "0 items"\n'
    'Call log:\n  - Expect "to_have_text" with timeout 5000ms'
)


@pytest.mark.parametrize(
    ("status", "error", "expected"),
    [
        ("failed", UNREACHABLE, FailureClass.SYSTEM),
        ("failed", "Target page, context or browser has been closed", FailureClass.SYSTEM),
        ("error", None, FailureClass.SYSTEM),
        ("failed", LOCATOR_TIMEOUT, FailureClass.AUTOMATION),
        (
            "failed",
            "strict mode violation: locator('button') resolved to 2 elements",
            FailureClass.AUTOMATION,
        ),
        ("failed", "NameError: name 'pgae' is not defined", FailureClass.AUTOMATION),
        ("failed", ASSERTION, FailureClass.PRODUCT),
        ("failed", "assert page.is_visible('text=Welcome')\nAssertionError", FailureClass.PRODUCT),
        ("failed", "something nobody has seen before", FailureClass.AUTOMATION),
    ],
)
def test_a_failure_is_classed_by_its_error(
    status: str, error: str | None, expected: FailureClass
) -> None:
    assert failure_class(status, error) == expected


@pytest.mark.parametrize("status", ["passed", "queued", "running", "cancelled"])
def test_a_run_that_did_not_fail_has_no_class(status: str) -> None:
    assert failure_class(status, UNREACHABLE) is None
