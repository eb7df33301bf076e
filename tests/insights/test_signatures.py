"""Error signatures group the same failure across runs, whatever the numbers, ids and URLs."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from scriptflow.insights.fingerprints import fingerprint
from scriptflow.insights.signatures import error_signature


def test_numbers_urls_ids_and_timings_are_stripped_but_the_locator_is_kept() -> None:
    a = error_signature(
        'TimeoutError: Locator.click: Timeout 30000ms exceeded waiting for locator("#login") '
        "at http://127.0.0.1:51234/login?attempt=3",
        action="click",
        locator="#login",
    )
    b = error_signature(
        'TimeoutError: Locator.click: Timeout 5000ms exceeded waiting for locator("#login") '
        "at https://staging.example.com/login?attempt=9",
        action="click",
        locator="#login",
    )
    assert a == b
    assert a.startswith("click #login | ")
    assert 'locator("#login")' in a
    assert "51234" not in a and "example.com" not in a


def test_different_locators_do_not_collide() -> None:
    base = 'Timeout 3000ms exceeded waiting for locator("{}")'
    assert error_signature(base.format("#login")) != error_signature(base.format("#logout"))


def test_call_log_and_uuids_are_dropped() -> None:
    a = error_signature(
        "Error: order 5f3a2c1b-1234-4abc-9def-0123456789ab missing\nCall log:\n  - step 1"
    )
    b = error_signature("Error: order 00000000-1111-4222-8333-444444444444 missing\nCall log:\n")
    assert a == b == "Error: order <id> missing"


def test_no_error_has_no_signature() -> None:
    assert error_signature(None) == ""
    assert error_signature("   ") == ""


@given(st.integers(min_value=0, max_value=10**9), st.integers(min_value=0, max_value=10**9))
def test_any_numbers_give_the_same_signature(n: int, m: int) -> None:
    template = "expected {} rows, got {} after {}ms"
    assert error_signature(template.format(n, m, n)) == error_signature(template.format(m, n, m))


@given(st.text(max_size=300))
def test_signatures_are_deterministic_and_bounded(text: str) -> None:
    assert error_signature(text) == error_signature(text)
    assert len(error_signature(text)) <= 400


def test_fingerprints_are_stable_and_distinct() -> None:
    a = fingerprint("flaky-selector", "script", "click", "#login", "staging", "chromium")
    assert a == fingerprint("flaky-selector", "script", "click", "#login", "staging", "chromium")
    assert a != fingerprint("flaky-selector", "script", "click", "#login", "prod", "chromium")
    assert len(a) == 64
    # Parts are delimited, so shifting text between parts changes the fingerprint.
    assert fingerprint("t", "ab", "c") != fingerprint("t", "a", "bc")
