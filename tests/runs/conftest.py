"""Fixtures for run tests: the demo target on loopback and a real Chromium."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.demo.server import DemoServer
from scriptflow.config import Settings
from scriptflow.runs.browsers import BrowserTarget, find_chromium
from tests.support.ci import need

LOGIN_TEST = """
from playwright.sync_api import Page, expect


def test_login(page: Page):
    page.goto("/login")
    page.get_by_label("Username").fill("demo")
    page.get_by_label("Password").fill("demo-password")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#welcome")).to_have_text("Welcome, demo")
"""

MISSING_BUTTON_TEST = """
def test_submit(page):
    page.goto("/")
    page.locator("#submit-order").click(timeout=1000)
"""

CODEGEN_SCRIPT = """import re
from playwright.sync_api import Playwright, sync_playwright, expect


def run(playwright: Playwright) -> None:
    browser = playwright.chromium.launch(headless=False)
    context = browser.new_context()
    page = context.new_page()
    page.goto("/login")
    page.get_by_label("Username").click()
    page.get_by_label("Username").fill("demo")
    page.get_by_label("Password").fill("demo-password")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#welcome")).to_contain_text("Welcome")

    # ---------------------
    context.close()
    browser.close()


with sync_playwright() as playwright:
    run(playwright)
"""


@pytest.fixture(scope="session")
def demo() -> Iterator[DemoServer]:
    with DemoServer(flaky_rate=0.0) as server:
        yield server


@pytest.fixture(scope="session")
def chromium() -> BrowserTarget:
    target = find_chromium(Settings())
    if target is None:
        need("Chromium is not installed")
        raise AssertionError
    return target
