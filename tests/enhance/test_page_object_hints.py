"""Locators held in attributes of a page object get their proposal where they were built.

A run notes where each locator was built (the page object's file and line); the rules must
propose there, whether the locator is chained from an attribute (``self.form.locator(...)``),
kept in one (``self.submit = ...`` then ``self.submit.click()``) or reached through an object
the rules cannot see into (``shop.form.locator(...)`` in a test).
"""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scriptflow.config import Settings
from scriptflow.db.base import utcnow
from scriptflow.db.engine import transaction
from scriptflow.enhance.hints import hints_from_run_results
from scriptflow.enhance.proposal import EnhanceOptions, LocatorHint
from scriptflow.enhance.rules import enhance_with_rules
from scriptflow.enhance.service import EnhanceRequest, NoChanges, enhance_script
from scriptflow.runs import models as run_models
from tests.factories import signup
from tests.support.settings import enhance_service_kwargs

SIGNUP_PAGE = '''"""The sign-up form."""

from playwright.sync_api import Locator, Page


class SignupPage:
    submit: Locator

    def __init__(self, page: Page) -> None:
        self.page = page
        self.form = page.locator("form.signup")
        self.email = self.form.locator(".css-1q2w3e")
        self.submit = page.locator("div > form > button:nth-child(3)")
        self.terms: Locator = self.form.locator(".sc-AxjAm")

    def sign_up(self, email: str) -> None:
        self.email.fill(email)
        self.form.locator("input:nth-child(2)").fill("secret")
        self.terms.check()
        self.submit.click()
'''
TEST_SIGNUP = """from pages.signup_page import SignupPage


def test_sign_up(page):
    SignupPage(page).sign_up("a@example.com")
"""
PAGE_PATH = "pages/signup_page.py"
LINES = SIGNUP_PAGE.splitlines()


def line_of(text: str) -> int:
    return next(i + 1 for i, line in enumerate(LINES) if text in line)


# What a run of tests/test_signup.py stores: each hint says where its locator was built.
RUN_HINTS = {
    ".css-1q2w3e": {"role": "textbox", "name": "Email", "file": PAGE_PATH},
    "input:nth-child(2)": {"role": "textbox", "name": "Password", "file": PAGE_PATH},
    ".sc-AxjAm": {"role": "checkbox", "name": "I accept the terms", "file": PAGE_PATH},
    "div > form > button:nth-child(3)": {"role": "button", "name": "Sign up", "file": PAGE_PATH},
}
for _selector, _hint in RUN_HINTS.items():
    _hint["line"] = str(line_of(_selector))


def test_attribute_held_locators_are_proposed_where_they_were_built() -> None:
    hints = hints_from_run_results({"locator_hints": RUN_HINTS})
    assert hints[".css-1q2w3e"].file == PAGE_PATH
    assert hints[".css-1q2w3e"].line == line_of(".css-1q2w3e")
    proposal = enhance_with_rules(SIGNUP_PAGE, EnhanceOptions(locator_hints=hints, path=PAGE_PATH))
    content = proposal.content
    # Chained from an attribute that holds a locator, in __init__ and in a method.
    assert 'self.email = self.form.get_by_role("textbox", name="Email")' in content
    assert 'self.form.get_by_role("textbox", name="Password").fill("secret")' in content
    # Kept in an annotated attribute, and in one a later method acts on.
    assert 'self.terms: Locator = self.form.get_by_role("checkbox", name="I accept' in content
    assert 'self.submit = page.get_by_role("button", name="Sign up")' in content
    assert "self.submit.click()" in content and "self.terms.check()" in content
    changed = sorted(f.line_start for f in proposal.findings if f.changed)
    assert changed == sorted(line_of(selector) for selector in RUN_HINTS)
    # The container itself is not brittle and has no hint: it stays.
    assert 'self.form = page.locator("form.signup")' in content
    # Proposals settle: a second pass changes nothing.
    assert enhance_with_rules(content, EnhanceOptions(locator_hints=hints)).content == content


def test_without_hints_attribute_held_brittle_selectors_are_flagged_only() -> None:
    proposal = enhance_with_rules(SIGNUP_PAGE, EnhanceOptions(path=PAGE_PATH))
    assert proposal.content == SIGNUP_PAGE
    flagged = {f.line_start for f in proposal.findings if f.rule == "selectors.brittle"}
    assert flagged == {line_of(selector) for selector in RUN_HINTS}


def test_a_locator_the_run_saw_built_on_an_unknown_receiver_is_proposed_on_that_line() -> None:
    script = (
        "def test_x(page, shop):\n"
        '    shop.form.locator(".css-1q2w3e").fill("a")\n'
        '    shop.other.locator(".css-1q2w3e").fill("b")\n'
    )
    seen = LocatorHint(role="textbox", name="Email", file="tests/test_x.py", line=2)
    options = EnhanceOptions(locator_hints={".css-1q2w3e": seen}, path="tests/test_x.py")
    content = enhance_with_rules(script, options).content
    assert 'shop.form.get_by_role("textbox", name="Email").fill("a")' in content
    # Line 3 was not where the run saw it built: `shop.other` may be anything.
    assert 'shop.other.locator(".css-1q2w3e").fill("b")' in content
    # Nor is a hint of another file's line taken for this one.
    elsewhere = EnhanceOptions(
        locator_hints={".css-1q2w3e": LocatorHint(role="textbox", file="pages/x.py", line=2)},
        path="tests/test_x.py",
    )
    assert enhance_with_rules(script, elsewhere).content == script


def test_malformed_places_are_dropped_and_the_hint_kept() -> None:
    raw = {
        "a": {"role": "button", "file": "pages/a.py", "line": "x"},
        "b": {"role": "button", "file": "pages/b.py", "line": "0"},
        "c": {"role": "button", "file": 7, "line": "3"},
        "d": {"role": "button", "file": "pages/d.py", "line": 12},
    }
    hints = hints_from_run_results({"locator_hints": raw})
    assert [(hints[k].file, hints[k].line) for k in "abcd"] == [
        (None, None),
        (None, None),
        (None, None),
        ("pages/d.py", 12),
    ]


# The lookup of a page object's hints is the repository's, tested on both databases in
# tests/suites; here what the rules make of them.
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_enhancing_the_page_object_of_a_suite_uses_the_test_runs_hints(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    owner = await signup(client)
    ids: dict[str, str] = {}
    for path, content in ((PAGE_PATH, SIGNUP_PAGE), ("tests/test_signup.py", TEST_SIGNUP)):
        r = await client.post(
            "/v1/scripts",
            json={"project_id": owner.project_id, "title": path, "content": content, "path": path},
            headers=owner.headers,
        )
        assert r.status_code == 201, r.text
        ids[path] = r.json()["id"]
    # A suite run of the tree: the page object is never a run's own script.
    async with transaction(sessionmaker) as session:
        session.add(
            run_models.TestRun(
                project_id=uuid.UUID(owner.project_id),
                kind="suite",
                snapshot={path: [script_id, 1] for path, script_id in ids.items()},
                environment="staging",
                base_url="http://127.0.0.1:9",
                browser="chromium",
                status="passed",
                completed_at=utcnow(),
                results={"locator_hints": RUN_HINTS},
            )
        )
    proposal = await enhance_script(
        sessionmaker,
        uuid.UUID(owner.user_id),
        uuid.UUID(ids[PAGE_PATH]),
        EnhanceRequest(),
        **enhance_service_kwargs(settings),
    )
    assert not isinstance(proposal, NoChanges)
    assert 'self.email = self.form.get_by_role("textbox", name="Email")' in (
        proposal.proposed_content
    )
    assert 'self.submit = page.get_by_role("button", name="Sign up")' in (proposal.proposed_content)


def test_the_ai_provider_is_told_where_each_locator_was_built() -> None:
    from scriptflow.enhance.openai_provider import _user_message

    hints = hints_from_run_results({"locator_hints": RUN_HINTS})
    message = _user_message(SIGNUP_PAGE, EnhanceOptions(locator_hints=hints, path=PAGE_PATH))
    assert f"'.css-1q2w3e': role='textbox' name='Email' test_id=None built at {PAGE_PATH}:" in (
        message
    )
    assert f"built at {PAGE_PATH}:{line_of('.sc-AxjAm')}" in message


class _SeenElement:
    """What the recorder reads of a matched element (a Playwright locator's two calls)."""

    def aria_snapshot(self, timeout: float) -> str:
        return '- textbox "Email"'

    def get_attribute(self, name: str, timeout: float) -> str | None:
        return None


def test_every_place_a_selector_was_built_reaches_the_rules_and_the_ai(tmp_path: Path) -> None:
    """One selector built in a page object and again in a test (an object the rules cannot see
    into): the run notes both places, the stored hint keeps both, and each gets its proposal."""
    from scriptflow.enhance.openai_provider import _user_message
    from scriptflow.runs.engine.record import Recorder, RunConfig
    from scriptflow.runs.results import locator_hints_document

    recorder = Recorder(RunConfig(results_path="", artifacts_dir=str(tmp_path)))
    seen = _SeenElement()
    test_path = "tests/test_x.py"
    for origin in [(PAGE_PATH, 11), (test_path, 2), (PAGE_PATH, 11), (test_path, 3)]:
        recorder.note_element(".css-1q2w3e", seen, origin)  # type: ignore[arg-type]
    raw = recorder.locator_hints[".css-1q2w3e"]
    assert (raw["file"], raw["line"]) == (PAGE_PATH, "11")  # the first, as before
    stored = locator_hints_document(recorder.locator_hints)
    hint = hints_from_run_results({"locator_hints": stored})[".css-1q2w3e"]
    assert hint.places == ((PAGE_PATH, 11), (test_path, 2), (test_path, 3))

    script = (
        "def test_x(page, shop):\n"
        '    shop.form.locator(".css-1q2w3e").fill("a")\n'
        '    shop.other.locator(".css-1q2w3e").fill("b")\n'
        '    shop.third.locator(".css-1q2w3e").fill("c")\n'
    )
    options = EnhanceOptions(locator_hints={".css-1q2w3e": hint}, path=test_path)
    content = enhance_with_rules(script, options).content
    assert 'shop.form.get_by_role("textbox", name="Email").fill("a")' in content
    assert 'shop.other.get_by_role("textbox", name="Email").fill("b")' in content
    assert 'shop.third.locator(".css-1q2w3e").fill("c")' in content  # never seen built there
    message = _user_message(script, options)
    assert f"built at {PAGE_PATH}:11, {test_path}:2, {test_path}:3" in message
    # Malformed places from the (untrusted) run are dropped, the well-formed kept.
    places = [{"file": "a.py", "line": "0"}, "x", {"file": "b.py", "line": 4}]
    junk = {"role": "button", "places": places}
    assert hints_from_run_results({"locator_hints": {"s": junk}})["s"].places == (("b.py", 4),)
