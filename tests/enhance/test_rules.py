"""The rules provider on scripts as people write them, and its invariants on generated ones."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scriptflow.changesets.guardrails import classify_diff, risk_of
from scriptflow.enhance.proposal import EnhanceOptions, LocatorHint
from scriptflow.enhance.rules import RulesProvider, enhance_with_rules, families_for_prompt
from scriptflow.errors import ScriptSyntaxError
from scriptflow.scripts.diffing import apply_diff, unified_diff

FIXTURES = Path(__file__).parent / "fixtures"
BASE = "https://shop.example.com"
OPTIONS = EnhanceOptions(base_urls=(BASE,))


def fixture(name: str) -> str:
    return (FIXTURES / name).read_bytes().decode()


def enhance(source: str, options: EnhanceOptions = OPTIONS) -> str:
    return enhance_with_rules(source, options).content


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.py.txt")))
def test_every_fixture_round_trips_and_settles(name: str) -> None:
    base = fixture(name)
    proposal = enhance(base)
    ast.parse(proposal)
    assert apply_diff(base, unified_diff(base, proposal)) == proposal
    assert enhance(proposal) == proposal
    assert risk_of(classify_diff(unified_diff(base, proposal))) == "low"


def test_sync_pytest_script_gets_locators_web_first_assertions_and_no_hard_waits() -> None:
    base = (
        "import time\n"
        "from playwright.sync_api import Page\n"
        "\n"
        "\n"
        "def test_login(page: Page) -> None:\n"
        f'    page.goto("{BASE}/login")\n'
        "    # let the form settle\n"
        "    page.wait_for_timeout(1000)  # animation\n"
        '    page.fill("#user", "zoë", strict=True)\n'
        "    time.sleep(2)\n"
        '    page.click("#submit")\n'
        '    assert page.is_visible("#welcome"), "welcome shown"\n'
        '    assert page.inner_text("h1") == "Hello, Zoë"\n'
        '    assert page.title() == "Dashboard"\n'
        f'    assert page.url == "{BASE}/home"\n'
        '    assert "Zoë" in page.locator(".greeting").inner_text()\n'
        '    assert not page.locator("#spinner").is_visible()\n'
    )
    assert enhance(base) == (
        "from playwright.sync_api import Page\n"
        "from playwright.sync_api import expect\n"
        "\n"
        "\n"
        "def test_login(page: Page) -> None:\n"
        '    page.goto("/login")\n'
        "    # let the form settle\n"
        "    # animation\n"
        '    page.locator("#user").fill("zoë")\n'
        '    page.locator("#submit").click()\n'
        '    expect(page.locator("#welcome"), "welcome shown").to_be_visible()\n'
        '    expect(page.locator("h1")).to_have_text("Hello, Zoë")\n'
        '    expect(page).to_have_title("Dashboard")\n'
        '    expect(page).to_have_url("/home")\n'
        '    expect(page.locator(".greeting")).to_contain_text("Zoë")\n'
        '    expect(page.locator("#spinner")).not_to_be_visible()\n'
    )


def test_async_script_awaits_expect_and_imports_it_from_the_async_api() -> None:
    proposal = enhance(fixture("async_test.py.txt"))
    assert "from playwright.async_api import expect\n" in proposal
    assert '    await expect(page.locator(".result")).to_have_count(10)\n' in proposal
    assert '    await expect(page.locator("h1")).to_have_text("Résultats")\n' in proposal
    assert "asyncio" not in proposal.split("@pytest")[0]
    assert "# results are slow" in proposal


def test_crlf_tabs_and_odd_spacing_survive_outside_the_changed_lines() -> None:
    base = fixture("class_crlf_tabs.py.txt")
    proposal = enhance(base)
    assert "\r\n" in proposal and "\n" not in proposal.replace("\r\n", "")
    assert '\t\tpage.goto( "/cart" )\r\n' in proposal
    assert '\t@pytest.mark.parametrize("item", ["thé", "café"])\r\n' in proposal
    assert "\t\t# ⏳ wait\r\n" in proposal
    assert '\t\tpage.locator("#agree").check()\r\n' in proposal
    # A hard wait pacing a loop is only reported, never removed.
    assert "\t\t\tpage.wait_for_timeout(100)\r\n" in proposal


def test_codegen_script_keeps_unknown_waits_and_flags_absolute_xpath() -> None:
    result = enhance_with_rules(fixture("codegen_run.py.txt"), OPTIONS)
    assert 'page.locator("#password").press_sequentially("hunter2")' in result.content
    assert "page1.wait_for_timeout(1000)" in result.content
    flags = {(f.rule, f.line_start) for f in result.findings if not f.changed}
    assert ("selectors.brittle", 14) in flags
    assert ("waits.hard-wait", 18) in flags


def test_brittle_selector_becomes_role_locator_when_the_element_is_known() -> None:
    base = 'def test_x(page):\n    page.click("div > ul > li:nth-child(3) > a")\n'
    options = EnhanceOptions(
        locator_hints={"div > ul > li:nth-child(3) > a": LocatorHint(role="link", name="Rapports")}
    )
    result = enhance_with_rules(base, options)
    assert result.content == (
        'def test_x(page):\n    page.get_by_role("link", name="Rapports").click()\n'
    )
    assert "selectors.user-facing-locator" in {f.rule for f in result.findings}


def test_test_id_hint_wins_and_unknown_brittle_selectors_are_only_flagged() -> None:
    base = 'def test_x(page):\n    page.locator(".css-1q2w3e").click()\n'
    flagged = enhance_with_rules(base, EnhanceOptions())
    assert flagged.content == base
    assert [f.rule for f in flagged.findings] == ["selectors.brittle"]
    hinted = enhance_with_rules(
        base, EnhanceOptions(locator_hints={".css-1q2w3e": LocatorHint(test_id="buy")})
    )
    assert 'page.get_by_test_id("buy").click()' in hinted.content


def test_positional_nth_is_flagged() -> None:
    base = 'def test_x(page):\n    page.locator("li").nth(3).click()\n'
    result = enhance_with_rules(base, EnhanceOptions())
    assert result.content == base
    assert [(f.rule, f.changed) for f in result.findings] == [("selectors.brittle", False)]


def test_nothing_to_improve_gives_the_same_text_and_explains_why() -> None:
    base = fixture("nothing_to_do.py.txt")
    result = enhance_with_rules(base, OPTIONS)
    assert result.content == base
    assert all(not f.changed for f in result.findings)


def test_a_wait_before_a_read_in_an_assert_becomes_wait_for_when_assertions_are_not_asked() -> None:
    base = (
        "def test_x(page):\n"
        "    page.wait_for_timeout(500)\n"
        '    assert not page.locator("#spinner").is_visible()\n'
    )
    proposal = enhance(base, EnhanceOptions(prompt="fix the waits"))
    assert proposal == (
        "def test_x(page):\n"
        '    page.locator("#spinner").wait_for(state="hidden")\n'
        '    assert not page.locator("#spinner").is_visible()\n'
    )


def test_a_wait_that_ends_a_test_goes_but_one_that_ends_a_helper_stays() -> None:
    base = (
        "import time\n"
        "\n"
        "\n"
        "def test_x(page):\n"
        "    page.goto('/')\n"
        "    time.sleep(1)  # let it settle\n"
        "\n"
        "\n"
        "def settle(page):\n"
        "    page.wait_for_timeout(100)\n"
    )
    result = enhance_with_rules(base, EnhanceOptions())
    assert result.content == (
        "def test_x(page):\n"
        "    page.goto('/')\n"
        "    # let it settle\n"
        "\n"
        "\n"
        "def settle(page):\n"
        "    page.wait_for_timeout(100)\n"
    )
    assert {f.rule for f in result.findings} == {
        "waits.remove-at-end-of-test",
        "waits.unused-import",
        "waits.hard-wait",
    }


def test_a_wait_before_a_conditional_is_kept() -> None:
    base = (
        "def test_x(page):\n"
        "    page.wait_for_timeout(500)\n"
        '    if page.is_visible("#cookie"):\n'
        '        page.click("#cookie")\n'
    )
    proposal = enhance(base, EnhanceOptions(prompt="waits"))
    assert proposal == base


def test_the_prompt_selects_and_orders_rule_families() -> None:
    assert families_for_prompt("Improve waits and selectors") == ["waits", "selectors"]
    assert families_for_prompt("use expect assertions, then relative URLs") == [
        "assertions",
        "urls",
    ]
    assert families_for_prompt("make it better") == ["waits", "selectors", "assertions", "urls"]
    assert families_for_prompt(None) == ["waits", "selectors", "assertions", "urls"]
    base = 'def test_x(page):\n    page.click("#a")\n    assert page.is_visible("#b")\n'
    only_selectors = enhance(base, EnhanceOptions(prompt="selectors please"))
    assert "assert page.locator" in only_selectors


def test_urls_with_a_path_in_the_base_are_left_alone() -> None:
    base = 'def test_x(page):\n    page.goto("https://x.example.com/app/login")\n'
    assert enhance(base, EnhanceOptions(base_urls=("https://x.example.com/app",))) == base


def test_a_hard_wait_before_a_text_read_stays_unless_the_assert_becomes_web_first() -> None:
    # inner_text() waits for its element, not for the text: without the expect rewrite, the
    # wait may be what makes the assert pass.
    base = (
        "def test_x(page):\n"
        '    page.goto("/")\n'
        "    page.wait_for_timeout(1000)\n"
        '    assert page.locator("#msg").inner_text().strip() == "Ready"\n'
    )
    for prompt in (None, "fix the waits"):
        proposal = enhance_with_rules(base, EnhanceOptions(prompt=prompt))
        assert "page.wait_for_timeout(1000)" in proposal.content
        assert ("waits.hard-wait", 3) in {(f.rule, f.line_start) for f in proposal.findings}
    only_waits = enhance(base.replace(".strip()", ""), EnhanceOptions(prompt="fix the waits"))
    assert "page.wait_for_timeout(1000)" in only_waits
    everything = enhance(base.replace(".strip()", ""))
    assert "wait_for_timeout" not in everything
    assert 'expect(page.locator("#msg")).to_have_text("Ready")' in everything


def test_legacy_text_and_nth_selectors_move_to_the_locator_api() -> None:
    base = (
        "def test_x(page):\n"
        '    page.click("text=Log in")\n'
        "    page.locator('text=\"Sign up\"').click()\n"
        '    page.locator("li.item >> nth=2").click()\n'
        '    page.locator("text=Cart >> nth=-1").click()\n'
        '    page.locator("text=/^Total/i").click()\n'
    )
    proposal = enhance(base)
    assert proposal.splitlines()[1:] == [
        '    page.get_by_text("Log in").click()',
        '    page.get_by_text("Sign up", exact=True).click()',
        '    page.locator("li.item").nth(2).click()',
        '    page.get_by_text("Cart").nth(-1).click()',
        '    page.locator("text=/^Total/i").click()',
    ]
    assert enhance(proposal) == proposal


def test_a_racy_url_prefix_check_becomes_a_web_first_url_assertion() -> None:
    base = (
        "def test_x(page):\n"
        '    page.goto("/")\n'
        f'    assert page.url.startswith("{BASE}/account")\n'
        '    assert not page.url.endswith("/login")\n'
        '    assert "?step=2" in page.url\n'
    )
    proposal = enhance(base)
    assert proposal.splitlines()[:2] == ["import re", "from playwright.sync_api import expect"]
    assert proposal.splitlines()[4:] == [
        '    expect(page).to_have_url(re.compile(r"^[a-z][a-z0-9+.-]*://[^/]+/account"))',
        '    expect(page).not_to_have_url(re.compile(r"/login$"))',
        '    expect(page).to_have_url(re.compile(r"\\?step=2"))',
    ]
    assert enhance(proposal) == proposal
    ast.parse(proposal)


def test_a_codegen_recording_is_flagged_instead_of_nothing_to_improve() -> None:
    recording = (
        "from playwright.sync_api import Playwright, sync_playwright\n\n\n"
        "def run(playwright: Playwright) -> None:\n"
        "    browser = playwright.chromium.launch(headless=False)\n"
        "    page = browser.new_page()\n"
        f'    page.goto("{BASE}/login")\n'
        '    page.get_by_role("button", name="Log in").click()\n'
        "    browser.close()\n\n\n"
        "with sync_playwright() as playwright:\n"
        "    run(playwright)\n"
    )
    proposal = enhance_with_rules(recording, EnhanceOptions())
    flag = next(f for f in proposal.findings if f.rule == "flow.codegen-recording")
    assert (flag.line_start, flag.changed, flag.category) == (12, False, "flow")
    for trait in ("headless=False", "absolute URL", "no assertion"):
        assert trait in flag.rationale
    test = "def test_x(page):\n    page.goto('/')\n"
    assert not any(
        f.rule == "flow.codegen-recording" for f in enhance_with_rules(test, OPTIONS).findings
    )


async def test_the_provider_reports_a_syntax_error_with_its_line() -> None:
    with pytest.raises(ScriptSyntaxError) as caught:
        await RulesProvider().propose("def test_x(page):\n    page.click(\n", EnhanceOptions())
    assert caught.value.details["line"] >= 2


# -- generated scripts ---------------------------------------------------------------------------

_SELECTORS = [
    "#login",
    "text=Se connecter",
    "div > ul > li:nth-child(2)",
    ".css-9x8y7z",
    "[name=q]",
]
_TEXTS = ["Bonjour", "Zoë", "日本語", "ok", ""]
_URLS = [f"{BASE}/", f"{BASE}/cart?x=1", "/checkout", "https://other.example.org/a"]


@st.composite
def _step(draw: st.DrawFn, asynchronous: bool) -> list[str]:
    aw = "await " if asynchronous else ""
    sel = draw(st.sampled_from(_SELECTORS))
    text = draw(st.sampled_from(_TEXTS))
    url = draw(st.sampled_from(_URLS))
    sleep = "await asyncio.sleep(0.5)" if asynchronous else "time.sleep(0.5)"
    choices = [
        [f'{aw}page.goto("{url}")'],
        [f'{aw}page.click("{sel}")'],
        [f'{aw}page.fill("{sel}", "{text}")'],
        [f'{aw}page.locator("{sel}").click()'],
        [f'{aw}page.get_by_role("button", name="{text}").click()'],
        [f"{aw}page.wait_for_timeout(250)"],
        [sleep],
        [f'assert {aw}page.is_visible("{sel}")'],
        [f'assert not {aw}page.locator("{sel}").is_visible()'],
        [f'assert ({aw}page.inner_text("{sel}")) == "{text}"'],
        [f'assert "{text}" in ({aw}page.locator("{sel}").text_content())'],
        [f'assert ({aw}page.title()) == "{text}"'],
        [f'assert page.url == "{url}"'],
        [f'assert ({aw}page.locator("{sel}").count()) == 2'],
        [f"# étape {text}"],
        [""],
        [f'if {aw}page.is_visible("{sel}"):', f'    {aw}page.click("{sel}")'],
        ["for _ in range(2):", f"    {aw}page.wait_for_timeout(10)", f"    {aw}page.reload()"],
    ]
    lines = draw(st.sampled_from(choices))
    if lines[0] and not lines[0].startswith(("#", "if", "for")) and draw(st.booleans()):
        lines = [lines[0] + f"  # {text or 'note'}", *lines[1:]]
    return lines


@st.composite
def playwright_scripts(draw: st.DrawFn) -> str:
    style = draw(st.sampled_from(["sync_test", "async_test", "class_test", "codegen"]))
    asynchronous = style == "async_test"
    indent_unit = draw(st.sampled_from(["    ", "\t", "  "]))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    steps = [line for _ in range(draw(st.integers(1, 10))) for line in draw(_step(asynchronous))]
    steps.append(f"{'await ' if asynchronous else ''}page.screenshot()")
    header = ["import asyncio" if asynchronous else "import time"]
    if draw(st.booleans()):
        api = "async_api" if asynchronous else "sync_api"
        header.append(f"from playwright.{api} import Page")
    header += ["", ""]
    if style == "class_test":
        head = ["class TestFlow:", f"{indent_unit}def test_flow(self, page):"]
        depth = 2
    elif style == "codegen":
        head = ["def run(playwright):", f"{indent_unit}page = playwright.chromium.launch()"]
        depth = 1
    else:
        prefix = "async def" if asynchronous else "def"
        head = [f"{prefix} test_flow(page):"]
        depth = 1
    body = []
    for step in steps:
        extra = ""
        while step.startswith("    "):
            extra += indent_unit
            step = step[4:]
        body.append((indent_unit * depth + extra + step) if step else "")
    text = newline.join(header + head + body)
    return text + (newline if draw(st.booleans()) else "")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(playwright_scripts(), st.booleans())
def test_rules_proposals_parse_apply_exactly_and_settle(script: str, with_hints: bool) -> None:
    hints = (
        {"div > ul > li:nth-child(2)": LocatorHint(role="tab", name="Deux")} if with_hints else {}
    )
    options = EnhanceOptions(base_urls=(BASE,), locator_hints=hints)
    proposal = enhance_with_rules(script, options)
    ast.parse(proposal.content)
    diff = unified_diff(script, proposal.content)
    assert apply_diff(script, diff) == proposal.content
    assert enhance_with_rules(proposal.content, options).content == proposal.content
    assert risk_of(classify_diff(diff)) == "low"
    assert all(1 <= f.line_start <= f.line_end for f in proposal.findings)
    assert bool(diff) == any(f.changed for f in proposal.findings)
