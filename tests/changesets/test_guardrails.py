"""Every hunk is classified; risky ones make the change set high risk."""

from __future__ import annotations

import pytest

from scriptflow.changesets.guardrails import classify_diff, risk_of
from scriptflow.scripts.diffing import unified_diff

BASE = (
    "import pytest\n"
    "\n"
    "\n"
    "def test_checkout(page):\n"
    '    page.goto("/cart")\n'
    '    page.get_by_role("button", name="Pay").click()\n'
    '    expect(page.get_by_text("Paid")).to_have_text("Paid")\n'
    '    assert page.url.endswith("/done")\n'
)


def risks(new: str) -> set[str]:
    reports = classify_diff(unified_diff(BASE, new))
    return {risk for report in reports for risk in report.risks}


@pytest.mark.parametrize(
    ("old", "new", "risk"),
    [
        ('    assert page.url.endswith("/done")\n', "", "removes_assertion"),
        (
            '    expect(page.get_by_text("Paid")).to_have_text("Paid")\n',
            '    expect(page.get_by_text("Paid")).to_contain_text("Pa")\n',
            "weakens_assertion",
        ),
        (
            '    assert page.url.endswith("/done")\n',
            '    assert page.url.endswith("/done") or True\n',
            "weakens_assertion",
        ),
        (
            '    page.goto("/cart")\n',
            '    page.goto("/cart")\n    page.wait_for_timeout(3000)\n',
            "adds_hard_wait",
        ),
        (
            '    page.goto("/cart")\n',
            '    page.goto("/cart")\n    time.sleep(1)\n',
            "adds_hard_wait",
        ),
        (
            "def test_checkout(page):\n",
            "@pytest.mark.skip\ndef test_checkout(page):\n",
            "skips_test",
        ),
        (
            "def test_checkout(page):\n",
            '@pytest.mark.xfail(reason="flaky")\ndef test_checkout(page):\n',
            "skips_test",
        ),
        (
            '    page.goto("/cart")\n',
            '    page.goto("/cart")\n    pytest.skip("later")\n',
            "skips_test",
        ),
        ('    page.get_by_role("button", name="Pay").click()\n', "", "deletes_steps"),
    ],
)
def test_risky_hunks_are_named(old: str, new: str, risk: str) -> None:
    assert old in BASE
    assert risk in risks(BASE.replace(old, new))
    assert risk_of(classify_diff(unified_diff(BASE, BASE.replace(old, new)))) == "high"


def test_locator_and_assertion_rewrites_are_low_risk() -> None:
    new = BASE.replace(
        '    assert page.url.endswith("/done")\n', '    expect(page).to_have_url("/done")\n'
    ).replace('page.goto("/cart")', 'page.goto("/cart")  # cart first')
    reports = classify_diff(unified_diff(BASE, new))
    assert risk_of(reports) == "low"
    assert "assertion" in reports[0].categories


def test_removing_a_hard_wait_is_not_deleting_a_step() -> None:
    base = "def test_x(page):\n    page.wait_for_timeout(100)\n    page.click('#a')\n"
    new = "def test_x(page):\n    page.locator('#a').click()\n"
    (report,) = classify_diff(unified_diff(base, new))
    assert report.risks == []
    assert set(report.categories) >= {"wait", "locator"}


def test_commenting_out_a_step_deletes_it() -> None:
    base = "def test_x(page):\n    page.click('#a')\n    page.click('#b')\n"
    new = "def test_x(page):\n    page.click('#a')\n    # page.click('#b')\n"
    assert risks_of(base, new) == {"deletes_steps"}


def risks_of(base: str, new: str) -> set[str]:
    return {risk for report in classify_diff(unified_diff(base, new)) for risk in report.risks}


def test_each_hunk_gets_its_own_report() -> None:
    base = "".join(f"x{i} = {i}\n" for i in range(40))
    new = base.replace("x1 = 1\n", "x1 = 2\n").replace("x30 = 30\n", "x30 = 31\n")
    reports = classify_diff(unified_diff(base, new))
    assert [r.index for r in reports] == [1, 2]
    assert all(r.categories == ["flow"] for r in reports)
