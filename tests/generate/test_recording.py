"""A pasted codegen recording becomes the steps of a pytest-playwright test (pure)."""

from __future__ import annotations

import pytest

from scriptflow.generate.recording import NotARecording, parse_recording

RECORDING = """import re
from playwright.sync_api import Playwright, sync_playwright, expect


def run(playwright: Playwright) -> None:
    browser = playwright.chromium.launch(headless=False, slow_mo=500)
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    page.goto("https://shop.example.com/login?next=/cart")
    page.get_by_label("Username").fill("demo")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("https://shop.example.com/welcome")
    page.goto("https://shop.example.com.evil.test/")
    page.goto('https://other.example/x')

    # ---------------------
    context.close()
    browser.close()


with sync_playwright() as playwright:
    run(playwright)
"""


def test_set_up_goes_steps_stay_and_urls_on_the_recorded_site_become_relative() -> None:
    recording = parse_recording(RECORDING)
    assert recording.body == [
        'page.goto("/login?next=/cart")',
        'page.get_by_label("Username").fill("demo")',
        'page.get_by_role("button", name="Log in").click()',
        'page.wait_for_url("/welcome")',
        'page.goto("https://shop.example.com.evil.test/")',  # only looks alike
        "page.goto('https://other.example/x')",
    ]
    assert recording.start_path == "/login?next=/cart"
    assert recording.imports == [] and not recording.uses_re


def test_a_page_named_otherwise_is_the_fixture_page_and_other_imports_stay() -> None:
    source = (
        RECORDING.replace("page = context.new_page()", "tab = context.new_page()")
        .replace('page.get_by_label("Username")', 'tab.get_by_label("Username")')
        .replace("import re\n", "import re\nimport json\n")
    )
    recording = parse_recording(source)
    assert recording.body[0] == "tab = page"
    assert recording.imports == ["import json"]


@pytest.mark.parametrize(
    "source",
    [
        "def test_x(page):\n    page.goto('/')\n",
        "def run(playwright):\n    pass\n",
        "def run(:\n",
    ],
)
def test_anything_else_is_not_a_recording(source: str) -> None:
    with pytest.raises(NotARecording):
        parse_recording(source)
