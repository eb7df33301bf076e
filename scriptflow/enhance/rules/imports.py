"""The imports a rewrite needs, and the ones it leaves unused: the engine's last pass.

Removing hard waits can leave `import time` (or `from time import sleep`) unused; web-first
assertions need `expect`, URL patterns need `re`. Each change is an edit on the same
`SourceText` as the statements' rewrites, with a finding of its own.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence

from scriptflow.enhance.proposal import Finding
from scriptflow.enhance.rules.catalogue import CONFIDENCE
from scriptflow.enhance.rules.facts import ScriptFacts
from scriptflow.enhance.rules.source_text import SourceText


def tidy_imports(
    text: SourceText,
    tree: ast.Module,
    facts: ScriptFacts,
    findings: list[Finding],
    *,
    removed_waits: Sequence[ast.stmt],
    dropped_names: set[str],
    re_wanted: bool,
    expect_wanted: str | None,
) -> None:
    if dropped_names:
        drop_unused_wait_imports(text, tree, facts, findings, removed_waits, dropped_names)
    # re first: its edit lands before expect's when both go to the same place.
    if re_wanted and not imports_re(tree):
        import_re(text, tree, findings)
    if expect_wanted is not None and not facts.expect_bound:
        import_expect(text, tree, findings, expect_wanted)


def drop_unused_wait_imports(
    text: SourceText,
    tree: ast.Module,
    facts: ScriptFacts,
    findings: list[Finding],
    removed_waits: Sequence[ast.stmt],
    dropped_names: set[str],
) -> None:
    uses = dict(facts.name_uses)
    for stmt in removed_waits:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Name):
                uses[node.id] -= 1
    for index, stmt in enumerate(tree.body):
        if not isinstance(stmt, (ast.Import, ast.ImportFrom)) or len(stmt.names) != 1:
            continue
        alias = stmt.names[0]
        bound = alias.asname or alias.name
        if bound not in dropped_names or uses.get(bound, 0) > 0:
            continue
        if not text.owns_its_lines(stmt) or text.source[text.span(stmt)[1] :].startswith(";"):
            continue
        text.remove_lines(stmt, keep_comment=True)
        assert stmt.end_lineno is not None
        if index == 0 and not text.source[: text.line_starts[stmt.lineno - 1]].strip():
            # The blank lines that separated the import would now open the file.
            line = stmt.end_lineno + 1
            while line < len(text.line_starts) and not text.line_text(line).strip():
                text.replace(text.line_starts[line - 1], text.line_end(line), "")
                line += 1
        findings.append(
            Finding(
                "waits.unused-import",
                stmt.lineno,
                stmt.end_lineno,
                "wait",
                "Import removed: nothing uses it once the hard waits are gone.",
                CONFIDENCE["waits.unused-import"],
            )
        )


def import_expect(text: SourceText, tree: ast.Module, findings: list[Finding], api: str) -> None:
    """``from playwright.<api>_api import expect`` after the playwright (or last) import."""
    anchor: ast.stmt | None = None
    playwright_anchor: ast.stmt | None = None
    for index, stmt in enumerate(tree.body):
        if index == 0 and isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            anchor = stmt  # the docstring
            continue
        if not isinstance(stmt, (ast.Import, ast.ImportFrom)):
            break
        anchor = stmt
        if isinstance(stmt, ast.ImportFrom) and (stmt.module or "").startswith("playwright"):
            playwright_anchor = stmt
    anchor = playwright_anchor or anchor
    statement = f"from playwright.{api}_api import expect"
    if anchor is not None:
        assert anchor.end_lineno is not None
        at = text.line_end(anchor.end_lineno)
        inserted = statement + text.newline
        if at == len(text.source) and not text.source.endswith(("\n", "\r")):
            inserted = text.newline + statement
        line = anchor.end_lineno
    else:
        first = tree.body[0]
        lineno = min([first.lineno, *(d.lineno for d in getattr(first, "decorator_list", []))])
        at = text.line_starts[lineno - 1]
        inserted = statement + text.newline
        line = lineno
    text.insert(at, inserted)
    findings.append(
        Finding(
            "assertions.expect-import",
            max(line, 1),
            line + 1,
            "assertion",
            "expect is imported for the web-first assertions.",
            CONFIDENCE["assertions.expect-import"],
        )
    )


def import_re(text: SourceText, tree: ast.Module, findings: list[Finding]) -> None:
    """``import re`` first among the imports (after a docstring and __future__)."""
    at, line = 0, 1
    for index, stmt in enumerate(tree.body):
        docstring = (
            index == 0 and isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
        )
        future = isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__"
        if not (docstring or future):
            line = stmt.lineno
            at = text.line_starts[stmt.lineno - 1]
            break
    text.insert(at, "import re" + text.newline)
    findings.append(
        Finding(
            "assertions.re-import",
            line,
            line,
            "assertion",
            "re is imported for the URL patterns of the web-first assertions.",
            CONFIDENCE["assertions.re-import"],
        )
    )


def imports_re(tree: ast.Module) -> bool:
    return any(
        isinstance(stmt, ast.Import)
        and any(a.name == "re" and a.asname is None for a in stmt.names)
        for stmt in tree.body
    )
