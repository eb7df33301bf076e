"""Pure rules of suite runs: hostile selections, shard plans, JUnit out and in."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scriptflow.errors import PayloadTooLarge, ValidationFailed
from scriptflow.runs.junit import junit_address, node_id_of, parse_junit, write_junit
from scriptflow.runs.selection import build_selection
from scriptflow.runs.shards import plan_shards
from tests.suites.junit_schema import assert_valid_junit

TREE = ["conftest.py", "pages/login_page.py", "tests/test_cart.py", "tests/test_login.py"]


@pytest.mark.parametrize(
    "entry",
    [
        "-p",
        "--",
        "-pmalicious",
        "--rootdir=/",
        "@args.txt",
        "../outside.py",
        "tests/../../etc/passwd",
        "/etc/passwd",
        "C:/windows",
        "tests\\test_cart.py",
        "tests/test_cart.py\x00",
        "tests/test_cart.py\n-p",
        "tests/test_cart.py::",
        "tests/missing.py",
        "pages/login_page.py.bak::test_x",
    ],
)
def test_hostile_or_unknown_entries_are_refused(entry: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        build_selection([entry], None, None, TREE)
    assert refused.value.details["fields"][0]["field"] == "select"


@pytest.mark.parametrize("expression", ["-p evil", "@file", "a and (", "x; rm", "not"])
def test_bad_expressions_are_refused(expression: str) -> None:
    with pytest.raises(ValidationFailed):
        build_selection([], expression, None, TREE)
    with pytest.raises(ValidationFailed):
        build_selection([], None, expression, TREE)


def test_a_selection_becomes_paths_and_glued_expressions() -> None:
    selection = build_selection(
        ["./tests/", "tests/test_cart.py::TestCart::test_total[2-x]", "tests/"],
        "login and not slow",
        "smoke",
        TREE,
    )
    # Glued: an expression can never be read as an option of its own.
    assert selection.pytest_args() == [
        "-klogin and not slow",
        "-msmoke",
        "tests",
        "tests/test_cart.py::TestCart::test_total[2-x]",
    ]
    assert build_selection(None, None, None, TREE).pytest_args() == []


@given(
    st.dictionaries(st.text("abcdef", min_size=1, max_size=6), st.integers(1, 10_000), max_size=40),
    st.integers(1, 6),
)
def test_every_test_lands_in_exactly_one_shard_and_the_load_is_balanced(
    durations: dict[str, int], count: int
) -> None:
    nodes = sorted(durations)
    plan = plan_shards(nodes, durations, count)
    assert sorted(n for part in plan for n in part) == nodes
    loads = [sum(durations[n] for n in part) for part in plan]
    # Longest-first greedy: no shard exceeds the lightest by more than one test.
    longest = max(durations.values(), default=0)
    assert max(loads, default=0) - min(loads, default=0) <= longest
    for part in plan:  # collection order kept inside a shard
        assert part == sorted(part, key=nodes.index)


def test_without_history_shards_are_contiguous_runs_of_equal_count() -> None:
    # Four alike modules of a slow first test and two quick ones: dealt one by one, shard 1
    # would get every slow test; contiguous, each shard gets two whole modules.
    nodes = [f"tests/test_{m}.py::{t}" for m in "abcd" for t in ("slow", "quick1", "quick2")]
    assert plan_shards(nodes, {}, 2) == [nodes[:6], nodes[6:]]
    assert [len(part) for part in plan_shards(nodes, {}, 5)] == [2, 2, 3, 2, 3]
    assert plan_shards(nodes[:1], {}, 3) == [[], [], nodes[:1]]
    # With some history the plan balances by duration again (the unknown get the median).
    assert plan_shards(["a", "b", "c"], {"a": 9000, "b": 1000}, 2) == [["a"], ["b", "c"]]


def test_shards_balance_by_history_and_guess_the_unknown() -> None:
    nodes = ["a", "b", "c", "d", "new"]
    plan = plan_shards(nodes, {"a": 9000, "b": 1000, "c": 1000, "d": 1000}, 2)
    assert plan == [["a"], ["b", "c", "d", "new"]]


def test_junit_out_is_pytests_shape_with_retries_visible() -> None:
    tests = [
        {"nodeid": "tests/test_cart.py::test_total[chromium]", "outcome": "failed",
         "attempts": 2, "error": "AssertionError: no total\nlong text", "duration_ms": 1500},
        {"nodeid": "tests/test_cart.py::TestCart::test_reload[chromium]", "outcome": "flaky",
         "attempts": 2, "error": "lost \x1b on reload", "duration_ms": 700},
        {"nodeid": "tests/test_login.py::test_ok", "outcome": "passed", "attempts": 1,
         "error": None, "duration_ms": 10},
        {"nodeid": "tests/test_login.py::test_setup", "outcome": "error", "attempts": 1,
         "error": "fixture exploded", "duration_ms": 0},
        {"nodeid": "tests/test_login.py::test_skip", "outcome": "skipped", "attempts": 1,
         "error": "not today", "duration_ms": 0},
    ]  # fmt: skip
    document = write_junit(tests, started_at=datetime(2026, 12, 1, tzinfo=UTC), duration_ms=2210)
    assert_valid_junit(document)
    assert document.startswith(b'<?xml version="1.0" encoding="utf-8"?><testsuites')
    assert b'failures="1"' in document and b'errors="1"' in document
    assert b'skipped="1"' in document and b'tests="5"' in document
    assert b'time="2.210"' in document
    assert b'classname="tests.test_cart.TestCart" name="test_reload[chromium]"' in document
    assert b"#x1B" in document  # an illegal XML character, escaped as pytest does
    back = {
        c.node_id: (c.outcome, c.attempts) for c in parse_junit(document, ["tests/test_cart.py"])
    }
    assert back == {
        "tests/test_cart.py::test_total[chromium]": ("failed", 2),
        "tests/test_cart.py::TestCart::test_reload[chromium]": ("flaky", 2),
        "tests/test_login.py::test_ok": ("passed", 1),
        "tests/test_login.py::test_setup": ("error", 1),
        "tests/test_login.py::test_skip": ("skipped", 1),
    }


PLAYWRIGHT_JUNIT = b"""<?xml version="1.0" encoding="UTF-8"?>
<testsuites id="" name="" tests="2" failures="1" skipped="0" errors="0" time="3.2">
<testsuite name="cart.spec.ts" timestamp="2026-12-01T10:00:00.000Z" hostname="chromium"
 tests="2" failures="1" skipped="0" time="3.1" errors="0">
<testcase name="cart &#8250; shows the total" classname="cart.spec.ts" time="2.5">
<failure message="cart.spec.ts:10:5 shows the total" type="FAILURE">Error: expect(locator)
</failure>
</testcase>
<testcase name="cart &#8250; adds" classname="cart.spec.ts" time="0.6"></testcase>
</testsuite>
</testsuites>"""


def test_playwright_reports_import_by_spec_file() -> None:
    cases = parse_junit(PLAYWRIGHT_JUNIT)
    assert [(c.node_id, c.outcome, c.duration_ms) for c in cases] == [
        ("cart.spec.ts::cart \u203a shows the total", "failed", 2500),
        ("cart.spec.ts::cart \u203a adds", "passed", 600),
    ]


@pytest.mark.parametrize(
    "document",
    [
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><testsuites>&a;</testsuites>',
        b'<!DOCTYPE x SYSTEM "file:///etc/passwd"><testsuites/>',
        b"<testsuites><testsuite>",
        b"<html/>",
        b"<testsuites/>",
        b'<testsuite name="x" tests="1"><testcase classname="a"/></testsuite>',
    ],
)
def test_hostile_or_empty_reports_are_422(document: bytes) -> None:
    with pytest.raises(ValidationFailed):
        parse_junit(document)


def test_oversized_reports_are_refused_before_parsing() -> None:
    with pytest.raises(PayloadTooLarge):
        parse_junit(b"<testsuites>" + b" " * (10 * 1024 * 1024) + b"</testsuites>")


def test_node_ids_come_back_from_pytest_classnames() -> None:
    assert junit_address("tests/a/test_b.py::TestC::test_d[1-x]") == (
        "tests.a.test_b.TestC",
        "test_d[1-x]",
    )
    tree = {"tests/a/test_b.py"}
    assert node_id_of("tests.a.test_b.TestC", "test_d", None, tree) == (
        "tests/a/test_b.py::TestC::test_d"
    )
    # Without the file in the tree: up to the test module by pytest's naming.
    assert node_id_of("suite.test_x.TestY", "test_z", None, set()) == (
        "suite/test_x.py::TestY::test_z"
    )


@pytest.mark.parametrize(
    ("selector", "key"),
    [
        ("#username", "#username"),
        ("div.form >> input:nth-child(2)", "input:nth-child(2)"),
        ('internal:role=form >> input[name="a>>b"]', 'input[name="a>>b"]'),
        ('internal:testid=[data-testid="login"s] >> #user', "#user"),
        ('internal:text="Sign in"i >> xpath=..', "xpath=.."),
        # Already user-facing at the end: nothing to propose, no hint to read.
        ('internal:role=button[name="Log in"i]', None),
        ('li >> internal:text="Banana"i', None),
        ("li >> nth=2", None),  # a position: no locator names the element alone
        ('li >> internal:has-text="Banana"i', None),  # a filter
        ("", None),
    ],
)
def test_hints_are_keyed_by_what_the_last_call_of_the_chain_wrote(
    selector: str, key: str | None
) -> None:
    from scriptflow.runs.locators import hint_key

    assert hint_key(selector) == key


def test_a_chained_locator_in_a_page_object_gets_its_proposal_from_the_hint() -> None:
    from scriptflow.enhance.proposal import EnhanceOptions, LocatorHint
    from scriptflow.enhance.rules import enhance_with_rules

    page_object = (
        "class LoginPage:\n"
        "    def __init__(self, page):\n"
        '        self.username = page.locator("div.form").locator("input:nth-child(2)")\n'
    )
    hints = {"input:nth-child(2)": LocatorHint(role="textbox", name="Username")}
    proposal = enhance_with_rules(page_object, EnhanceOptions(locator_hints=hints))
    assert 'page.locator("div.form").get_by_role("textbox", name="Username")' in proposal.content
