"""Locator hints from a run: ARIA snapshots and stored results."""

from __future__ import annotations

from scriptflow.enhance.hints import hint_from_aria_snapshot, hints_from_run_results
from scriptflow.enhance.proposal import LocatorHint


def test_aria_snapshot_gives_role_and_name() -> None:
    assert hint_from_aria_snapshot('- button "Se connecter"') == LocatorHint(
        role="button", name="Se connecter"
    )
    assert hint_from_aria_snapshot('- link "Say \\"hi\\""\n  - img') == LocatorHint(
        role="link", name='Say "hi"'
    )
    assert hint_from_aria_snapshot("- separator") == LocatorHint(role="separator")
    assert hint_from_aria_snapshot("") is None


def test_only_well_formed_hints_are_taken_from_results() -> None:
    results = {
        "locator_hints": {
            "#a1b2c3d": {"role": "button", "name": "Pay", "extra": 1},
            ".css-1x2y3z": {"test_id": "cart"},
            "bad": "not a dict",
            "empty": {"role": ""},
        }
    }
    assert hints_from_run_results(results) == {
        "#a1b2c3d": LocatorHint(role="button", name="Pay"),
        ".css-1x2y3z": LocatorHint(test_id="cart"),
    }
    assert hints_from_run_results(None) == {}
    assert hints_from_run_results({"locator_hints": ["nope"]}) == {}
