"""Which form a script is written in, and the pytest module that runs it (pure)."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from enum import StrEnum

from scriptflow.errors import ScriptSyntaxError


class ScriptForm(StrEnum):
    PYTEST = "pytest"  # def test_…(page)
    CODEGEN = "codegen"  # def run(playwright), as `playwright codegen` writes it
    CODEGEN_ASYNC = "codegen_async"  # async def run(playwright)


@dataclass(frozen=True)
class PreparedScript:
    form: ScriptForm
    source: str


CODEGEN_TEST = """

def test_codegen_script(playwright, pytestconfig):
    from scriptflow.runs.engine.plugin import configured_playwright

    run(configured_playwright(playwright, pytestconfig))
"""

CODEGEN_ASYNC_TEST = """

def test_codegen_script(pytestconfig):
    import asyncio

    from scriptflow.runs.engine.codegen_async import run_async_codegen
    from scriptflow.runs.engine.plugin import run_config

    asyncio.run(run_async_codegen(run, run_config(pytestconfig)))
"""


def detect_form(tree: ast.Module) -> ScriptForm:
    """Tests win over ``run``; a module with neither is a pytest module that collects nothing."""
    functions = [n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    has_tests = any(n.name.startswith("test") for n in functions) or any(
        isinstance(n, ast.ClassDef) and n.name.startswith("Test") for n in tree.body
    )
    if has_tests:
        return ScriptForm.PYTEST
    run = next((n for n in functions if n.name == "run" and n.args.args), None)
    if run is None:
        return ScriptForm.PYTEST
    return ScriptForm.CODEGEN_ASYNC if isinstance(run, ast.AsyncFunctionDef) else ScriptForm.CODEGEN


def _is_playwright_driver(stmt: ast.stmt) -> bool:
    """The codegen footer: ``with sync_playwright() as p: run(p)`` or ``asyncio.run(main())``."""
    if isinstance(stmt, ast.With | ast.AsyncWith):
        return any(
            isinstance(item.context_expr, ast.Call)
            and _call_name(item.context_expr) in ("sync_playwright", "async_playwright")
            for item in stmt.items
        )
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        return _call_name(stmt.value) in ("asyncio.run", "run") and bool(stmt.value.args)
    return False


def _call_name(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        return f"{func.value.id}.{func.attr}"
    return ""


def parse_script(content: str) -> ast.Module:
    """Parse or raise ``ScriptSyntaxError`` with the line and message."""
    try:
        return ast.parse(content)
    except SyntaxError as exc:
        raise ScriptSyntaxError(
            f"The script is not valid Python: {exc.msg} (line {exc.lineno})",
            details={"line": exc.lineno, "message": exc.msg},
        ) from exc


def prepare_script(content: str) -> PreparedScript:
    """The pytest module for a script: unchanged for tests; codegen gets its footer swapped.

    A codegen script would start its own Playwright at import time (headed); we drop that footer
    and call ``run`` from a test, handing it the session's Playwright so that launches follow
    the run's browser settings. Line numbers of the user's code stay the same.
    """
    tree = parse_script(content)
    form = detect_form(tree)
    if form is ScriptForm.PYTEST:
        return PreparedScript(form, content)
    lines = content.splitlines()
    for stmt in tree.body:
        if _is_playwright_driver(stmt):
            start, end = stmt.lineno - 1, stmt.end_lineno or stmt.lineno
            for i in range(start, end):
                lines[i] = ""
            lines[start] = " " * stmt.col_offset + "pass  # footer replaced by scriptflow"
    footer = CODEGEN_TEST if form is ScriptForm.CODEGEN else CODEGEN_ASYNC_TEST
    return PreparedScript(form, "\n".join(lines) + "\n" + footer)
