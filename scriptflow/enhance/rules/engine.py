"""Apply the rule families to a whole script without re-printing it.

Python's own parser (C, fast) finds the statements worth a look and their exact spans; only
those are parsed with libcst, rewritten by the codemods and spliced back into the original
text. Every byte outside a rewritten statement is therefore the original byte: comments, tabs,
odd spacing, CRLF and non-ASCII text survive by construction, and the cost grows with the
number of statements changed, not with the size of the script.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Literal

import libcst as cst

from scriptflow.enhance.proposal import EnhanceOptions, Finding, RuleFamily
from scriptflow.enhance.rules.catalogue import CONFIDENCE, FLAG_CONFIDENCE
from scriptflow.enhance.rules.codemod import StatementCodemod
from scriptflow.enhance.rules.expressions import strip_parens
from scriptflow.enhance.rules.facts import ScriptFacts, gather_facts
from scriptflow.enhance.rules.imports import tidy_imports
from scriptflow.enhance.rules.recordings import recording_finding
from scriptflow.enhance.rules.shapes import SELECTOR_FIRST, URL_TAKING
from scriptflow.enhance.rules.source_text import SourceText

# A cheap text test before any parsing: does the span call a method a rule rewrites?
_INTERESTING_CALL = re.compile(
    r"\.\s*(?:"
    + "|".join(sorted({*SELECTOR_FIRST, *URL_TAKING, "locator", "nth", "to_have_url"}))
    + r")\s*\("
)
_COMPOUND_BODIES = ("body", "orelse", "finalbody")


@dataclass(frozen=True)
class _Wait:
    awaited: bool
    through: str | None  # `time` in time.sleep(), `sleep` in sleep(); None for wait_for_timeout


def rewrite(
    source: str, families: list[RuleFamily], options: EnhanceOptions
) -> tuple[str, list[Finding]]:
    """Apply the families; returns the new source and the findings. Raises SyntaxError."""
    tree = ast.parse(source)
    engine = _Engine(source, families, options, gather_facts(tree))
    engine.walk(tree.body, in_async=False, in_loop=False)
    tidy_imports(
        engine.text,
        tree,
        engine.facts,
        engine.findings,
        removed_waits=engine.removed_waits,
        dropped_names=engine.dropped_names,
        re_wanted=engine.codemod.re_wanted,
        expect_wanted=engine.codemod.expect_wanted,
    )
    recording = recording_finding(tree)
    if recording is not None:
        engine.findings.append(recording)
    return engine.result()


class _Engine:
    def __init__(
        self, source: str, families: list[RuleFamily], options: EnhanceOptions, facts: ScriptFacts
    ) -> None:
        self.source = source
        self.families = set(families)
        self.facts = facts
        self.codemod = StatementCodemod(families, options, facts)
        self.findings = self.codemod.findings
        self.text = SourceText(source)
        self.newline = self.text.newline
        self.config = cst.PartialParserConfig(default_newline=self.newline)
        self.printer = cst.Module(body=[], default_newline=self.newline)
        self.removed_waits: list[ast.stmt] = []
        self._parsed: dict[tuple[int, int], cst.SimpleStatementLine | None] = {}
        self.dropped_names: set[str] = set()

    # -- the walk --------------------------------------------------------------------------------

    def walk(
        self, body: list[ast.stmt], *, in_async: bool, in_loop: bool, test_body: bool = False
    ) -> None:
        waits: list[int] = []
        for index, stmt in enumerate(body):
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.walk(
                    stmt.body,
                    in_async=isinstance(stmt, ast.AsyncFunctionDef),
                    in_loop=False,
                    test_body=stmt.name.startswith("test"),
                )
            elif isinstance(stmt, ast.ClassDef):
                self.walk(stmt.body, in_async=False, in_loop=False)
            elif isinstance(stmt, (ast.For, ast.AsyncFor, ast.While)):
                if isinstance(stmt, ast.While):
                    self.rewrite_expression(stmt.test, stmt, in_async)
                self.walk(stmt.body, in_async=in_async, in_loop=True)
                self.walk(stmt.orelse, in_async=in_async, in_loop=in_loop)
            elif isinstance(stmt, (ast.If, ast.With, ast.AsyncWith, ast.Try, ast.TryStar)):
                if isinstance(stmt, ast.If):
                    self.rewrite_expression(stmt.test, stmt, in_async)
                if isinstance(stmt, (ast.With, ast.AsyncWith)):
                    for item in stmt.items:
                        self.rewrite_expression(item.context_expr, stmt, in_async)
                for name in _COMPOUND_BODIES:
                    self.walk(getattr(stmt, name, []), in_async=in_async, in_loop=in_loop)
                for handler in getattr(stmt, "handlers", []):
                    self.walk(handler.body, in_async=in_async, in_loop=in_loop)
            elif isinstance(stmt, ast.Match):
                for case in stmt.cases:
                    self.walk(case.body, in_async=in_async, in_loop=in_loop)
            elif self.hard_wait(stmt) is not None:
                waits.append(index)
            elif self.worth_a_look(stmt):
                self.rewrite_statement(stmt, in_async)
        if "waits" in self.families:
            for index in waits:
                self.decide_wait(
                    body, index, in_async=in_async, in_loop=in_loop, test_body=test_body
                )

    def worth_a_look(self, stmt: ast.stmt) -> bool:
        if not isinstance(
            stmt, (ast.Expr, ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Assert, ast.Return)
        ):
            return False
        if isinstance(stmt, ast.Assert) and "assertions" in self.families:
            return True
        if not self.families & {"selectors", "urls"}:
            return False
        start, end = self.text.span(stmt)
        return _INTERESTING_CALL.search(self.source, start, end) is not None

    # -- rewriting one statement or one header expression ---------------------------------------

    def rewrite_statement(self, stmt: ast.stmt, in_async: bool) -> None:
        start, end = self.text.span(stmt)
        segment = self.source[start:end]
        line = self.parse_statement(start, end)
        if line is None:
            return  # syntax libcst does not know yet: leave the statement as it is
        assert stmt.end_lineno is not None
        self.codemod.lines = (stmt.lineno, stmt.end_lineno)
        self.codemod.in_async = in_async
        text = self.printer.code_for_node(self.codemod.rewrite_small(line.body[0]))
        if text != segment:
            self.text.replace(start, end, text)

    def parse_statement(self, start: int, end: int) -> cst.SimpleStatementLine | None:
        """The libcst tree of one simple statement, parsed once."""
        if (start, end) not in self._parsed:
            try:
                line = cst.parse_statement(self.source[start:end] + self.newline, self.config)
            except cst.ParserSyntaxError:
                line = None
            self._parsed[start, end] = line if isinstance(line, cst.SimpleStatementLine) else None
        return self._parsed[start, end]

    def rewrite_expression(self, expr: ast.expr, owner: ast.stmt, in_async: bool) -> None:
        start, end = self.text.span(expr)
        if (
            not self.families & {"selectors", "urls"}
            or _INTERESTING_CALL.search(self.source, start, end) is None
        ):
            return
        segment = self.source[start:end]
        try:
            node = cst.parse_expression(segment, self.config)
        except cst.ParserSyntaxError:
            return
        assert expr.end_lineno is not None
        self.codemod.lines = (expr.lineno, expr.end_lineno)
        self.codemod.in_async = in_async
        text = self.printer.code_for_node(self.codemod.rewrite_expression(node))
        if text != segment:
            self.text.replace(start, end, text)

    # -- hard waits ------------------------------------------------------------------------------

    def hard_wait(self, stmt: ast.stmt) -> _Wait | None:
        if not isinstance(stmt, ast.Expr):
            return None
        awaited = isinstance(stmt.value, ast.Await)
        call = stmt.value.value if isinstance(stmt.value, ast.Await) else stmt.value
        if not isinstance(call, ast.Call):
            return None
        func = call.func
        if isinstance(func, ast.Attribute):
            if func.attr == "wait_for_timeout":
                return _Wait(awaited, None)
            owner = func.value.id if isinstance(func.value, ast.Name) else None
            if (
                func.attr == "sleep"
                and owner is not None
                and (
                    owner in self.facts.time_modules
                    or (awaited and owner in self.facts.asyncio_modules)
                )
            ):
                return _Wait(awaited, owner)
        elif isinstance(func, ast.Name) and func.id in self.facts.sleep_names:
            return _Wait(awaited, func.id)
        return None

    def decide_wait(
        self, body: list[ast.stmt], index: int, *, in_async: bool, in_loop: bool, test_body: bool
    ) -> None:
        stmt = body[index]
        wait = self.hard_wait(stmt)
        assert wait is not None and stmt.end_lineno is not None
        following = next((s for s in body[index + 1 :] if self.hard_wait(s) is None), None)
        step = None
        if not in_loop and following is not None and self.text.owns_its_lines(stmt):
            step = self.next_step(following, in_async)
        elif (
            following is None
            and test_body
            and self.text.owns_its_lines(stmt)
            and any(self.hard_wait(s) is None for s in body[:index])
        ):
            # Last thing a test does: it only delays teardown, nothing after it depends on it.
            self.removed_waits.append(stmt)
            if wait.through is not None:
                self.dropped_names.add(wait.through)
            self.text.remove_lines(stmt, keep_comment=True)
            rule = "waits.remove-at-end-of-test"
            self.findings.append(
                Finding(
                    rule,
                    stmt.lineno,
                    stmt.end_lineno,
                    "wait",
                    "Hard wait removed: it ends the test, so it only delays teardown.",
                    CONFIDENCE[rule],
                )
            )
            return
        if step is None:
            why = "it paces a loop" if in_loop else "no Playwright step follows it to wait for"
            self.findings.append(
                Finding(
                    "waits.hard-wait",
                    stmt.lineno,
                    stmt.end_lineno,
                    "wait",
                    f"Hard wait kept because {why}; wait for a condition with expect(...) instead.",
                    FLAG_CONFIDENCE,
                    changed=False,
                )
            )
            return
        action, target, state = step
        self.removed_waits.append(stmt)
        if wait.through is not None:
            self.dropped_names.add(wait.through)
        if action == "auto":
            self.text.remove_lines(stmt, keep_comment=True)
            rule, rationale = (
                "waits.remove-before-auto-wait",
                "Hard wait removed: the next step waits for its target on its own.",
            )
        else:
            start, end = self.text.span(stmt)
            argument = 'state="hidden"' if state == "hidden" else ""
            awaited = "await " if wait.awaited else ""
            self.text.replace(start, end, f"{awaited}{target}.wait_for({argument})")
            rule, rationale = (
                "waits.replace-with-wait-for",
                "Hard wait replaced by a wait for the element the next step reads.",
            )
        self.findings.append(
            Finding(rule, stmt.lineno, stmt.end_lineno, "wait", rationale, CONFIDENCE[rule])
        )

    def next_step(
        self, stmt: ast.stmt, in_async: bool
    ) -> tuple[Literal["auto", "query"], str | None, str] | None:
        """How the statement after a wait uses the page; the target as source text."""
        self.codemod.in_async = in_async
        if isinstance(stmt, (ast.With, ast.AsyncWith)):
            for item in stmt.items:
                start, end = self.text.span(item.context_expr)
                try:
                    expr = cst.parse_expression(self.source[start:end], self.config)
                except cst.ParserSyntaxError:
                    return None
                found = self.codemod.first_step(expr)
                if found is not None and found[0] == "auto":
                    return "auto", None, "visible"
            return None
        if not isinstance(stmt, (ast.Expr, ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Assert)):
            return None
        line = self.parse_statement(*self.text.span(stmt))
        if line is None:
            return None
        step = self.codemod.next_step(line)
        if step is None:
            return None
        action, target, state = step
        text = self.printer.code_for_node(strip_parens(target)) if target is not None else None
        return action, text, state

    # -- the result ------------------------------------------------------------------------------

    def result(self) -> tuple[str, list[Finding]]:
        findings = sorted(self.findings, key=lambda f: (f.line_start, f.line_end, f.rule))
        return self.text.spliced(), findings
