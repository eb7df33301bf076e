"""Scripts in the forms people write become a pytest module that runs them."""

from __future__ import annotations

import ast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scriptflow.errors import ScriptSyntaxError
from scriptflow.runs.script_forms import ScriptForm, prepare_script
from tests.runs.conftest import CODEGEN_SCRIPT, LOGIN_TEST


def test_pytest_scripts_run_unchanged() -> None:
    prepared = prepare_script(LOGIN_TEST)
    assert prepared.form is ScriptForm.PYTEST
    assert prepared.source == LOGIN_TEST


def test_codegen_footer_is_replaced_by_a_test_and_lines_keep_their_numbers() -> None:
    prepared = prepare_script(CODEGEN_SCRIPT)
    assert prepared.form is ScriptForm.CODEGEN
    tree = ast.parse(prepared.source)
    assert not any(isinstance(n, ast.With) for n in tree.body)  # no headed launch at import
    names = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
    assert names == ["run", "test_codegen_script"]
    original, rewritten = CODEGEN_SCRIPT.splitlines(), prepared.source.splitlines()
    line = next(i for i, text in enumerate(original) if "get_by_role" in text)
    assert rewritten[line] == original[line]


def test_async_codegen_is_recognised() -> None:
    script = (
        "import asyncio\nfrom playwright.async_api import async_playwright\n\n"
        "async def run(playwright):\n    browser = await playwright.chromium.launch()\n"
        "    await browser.close()\n\n"
        "async def main():\n    async with async_playwright() as p:\n        await run(p)\n\n"
        "asyncio.run(main())\n"
    )
    prepared = prepare_script(script)
    assert prepared.form is ScriptForm.CODEGEN_ASYNC
    assert "asyncio.run(main())" not in prepared.source


def test_invalid_python_is_a_script_syntax_error_with_the_line() -> None:
    with pytest.raises(ScriptSyntaxError) as exc:
        prepare_script("def test_x(page):\n    page.goto('/'\n")
    assert exc.value.details["line"] >= 2


@given(st.lists(st.from_regex(r"test_[a-z]{1,8}", fullmatch=True), min_size=1, max_size=4))
def test_any_module_with_tests_is_left_alone(names: list[str]) -> None:
    tests = "".join(f"def {n}(page):\n    pass\n\n" for n in names)
    source = tests + "def run(playwright):\n    pass\n"
    assert prepare_script(source).source == source
