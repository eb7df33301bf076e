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
from scriptflow.enhance.rules.recordings import recording_finding
from scriptflow.enhance.rules.shapes import SELECTOR_FIRST, URL_TAKING

_NEWLINE = re.compile(r"\r\n|\r|\n")
# A cheap text test before any parsing: does the span call a method a rule rewrites?
_INTERESTING_CALL = re.compile(
    r"\.\s*(?:"
    + "|".join(sorted({*SELECTOR_FIRST, *URL_TAKING, "locator", "nth", "to_have_url"}))
    + r")\s*\("
)
_COMPOUND_BODIES = ("body", "orelse", "finalbody")


@dataclass(frozen=True)
class _Edit:
    start: int
    end: int
    text: str


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
    engine.tidy_imports(tree)
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
        self.edits: list[_Edit] = []
        self.line_starts = [0, *(m.end() for m in _NEWLINE.finditer(source))]
        first_newline = _NEWLINE.search(source)
        self.newline = first_newline.group() if first_newline else "\n"
        self.config = cst.PartialParserConfig(default_newline=self.newline)
        self.printer = cst.Module(body=[], default_newline=self.newline)
        self.removed_waits: list[ast.stmt] = []
        self._parsed: dict[tuple[int, int], cst.SimpleStatementLine | None] = {}
        self.dropped_names: set[str] = set()

    # -- positions -------------------------------------------------------------------------------

    def offset(self, lineno: int, col: int) -> int:
        """Character offset of an AST position (whose column counts UTF-8 bytes)."""
        start = self.line_starts[lineno - 1]
        end = self.line_starts[lineno] if lineno < len(self.line_starts) else len(self.source)
        line = self.source[start:end]
        if line.isascii():
            return start + col
        return start + len(line.encode()[:col].decode("utf-8", errors="ignore"))

    def span(self, node: ast.stmt | ast.expr) -> tuple[int, int]:
        assert node.end_lineno is not None and node.end_col_offset is not None
        return (
            self.offset(node.lineno, node.col_offset),
            self.offset(node.end_lineno, node.end_col_offset),
        )

    def line_end(self, lineno: int) -> int:
        """Offset just past the newline of a line (or the end of the text)."""
        return self.line_starts[lineno] if lineno < len(self.line_starts) else len(self.source)

    def owns_its_lines(self, node: ast.stmt) -> bool:
        """Nothing but indentation before it and at most a comment after it."""
        start, end = self.span(node)
        assert node.end_lineno is not None
        before = self.source[self.line_starts[node.lineno - 1] : start]
        after = self.source[end : self.line_end(node.end_lineno)].strip()
        return not before.strip() and (not after or after.startswith("#"))

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
        start, end = self.span(stmt)
        return _INTERESTING_CALL.search(self.source, start, end) is not None

    # -- rewriting one statement or one header expression ---------------------------------------

    def rewrite_statement(self, stmt: ast.stmt, in_async: bool) -> None:
        start, end = self.span(stmt)
        segment = self.source[start:end]
        line = self.parse_statement(start, end)
        if line is None:
            return  # syntax libcst does not know yet: leave the statement as it is
        assert stmt.end_lineno is not None
        self.codemod.lines = (stmt.lineno, stmt.end_lineno)
        self.codemod.in_async = in_async
        text = self.printer.code_for_node(self.codemod.rewrite_small(line.body[0]))
        if text != segment:
            self.edits.append(_Edit(start, end, text))

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
        start, end = self.span(expr)
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
            self.edits.append(_Edit(start, end, text))

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
        if not in_loop and following is not None and self.owns_its_lines(stmt):
            step = self.next_step(following, in_async)
        elif (
            following is None
            and test_body
            and self.owns_its_lines(stmt)
            and any(self.hard_wait(s) is None for s in body[:index])
        ):
            # Last thing a test does: it only delays teardown, nothing after it depends on it.
            self.removed_waits.append(stmt)
            if wait.through is not None:
                self.dropped_names.add(wait.through)
            self.remove_lines(stmt, keep_comment=True)
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
            self.remove_lines(stmt, keep_comment=True)
            rule, rationale = (
                "waits.remove-before-auto-wait",
                "Hard wait removed: the next step waits for its target on its own.",
            )
        else:
            start, end = self.span(stmt)
            argument = 'state="hidden"' if state == "hidden" else ""
            awaited = "await " if wait.awaited else ""
            self.edits.append(_Edit(start, end, f"{awaited}{target}.wait_for({argument})"))
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
                start, end = self.span(item.context_expr)
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
        line = self.parse_statement(*self.span(stmt))
        if line is None:
            return None
        step = self.codemod.next_step(line)
        if step is None:
            return None
        action, target, state = step
        text = self.printer.code_for_node(strip_parens(target)) if target is not None else None
        return action, text, state

    def remove_lines(self, stmt: ast.stmt, *, keep_comment: bool) -> None:
        """Delete a statement's whole lines; a comment after it stays, on a line of its own."""
        assert stmt.end_lineno is not None
        first = self.line_starts[stmt.lineno - 1]
        last = self.line_end(stmt.end_lineno)
        start, end = self.span(stmt)
        tail = self.source[end:last]
        newline = tail[len(tail.rstrip("\r\n")) :]
        comment = tail.strip()
        replacement = ""
        if keep_comment and comment:
            replacement = self.source[first:start] + comment + newline
        self.edits.append(_Edit(first, last, replacement))

    # -- imports ---------------------------------------------------------------------------------

    def tidy_imports(self, tree: ast.Module) -> None:
        if self.dropped_names:
            self.drop_unused_wait_imports(tree)
        # re first: its edit lands before expect's when both go to the same place.
        if self.codemod.re_wanted and not _imports_re(tree):
            self.import_re(tree)
        if self.codemod.expect_wanted is not None and not self.facts.expect_bound:
            self.import_expect(tree, self.codemod.expect_wanted)

    def drop_unused_wait_imports(self, tree: ast.Module) -> None:
        uses = dict(self.facts.name_uses)
        for stmt in self.removed_waits:
            for node in ast.walk(stmt):
                if isinstance(node, ast.Name):
                    uses[node.id] -= 1
        for index, stmt in enumerate(tree.body):
            if not isinstance(stmt, (ast.Import, ast.ImportFrom)) or len(stmt.names) != 1:
                continue
            alias = stmt.names[0]
            bound = alias.asname or alias.name
            if bound not in self.dropped_names or uses.get(bound, 0) > 0:
                continue
            if not self.owns_its_lines(stmt) or self.source[self.span(stmt)[1] :].startswith(";"):
                continue
            self.remove_lines(stmt, keep_comment=True)
            assert stmt.end_lineno is not None
            if index == 0 and not self.source[: self.line_starts[stmt.lineno - 1]].strip():
                # The blank lines that separated the import would now open the file.
                line = stmt.end_lineno + 1
                while line < len(self.line_starts) and not self._line_text(line).strip():
                    self.edits.append(_Edit(self.line_starts[line - 1], self.line_end(line), ""))
                    line += 1
            self.findings.append(
                Finding(
                    "waits.unused-import",
                    stmt.lineno,
                    stmt.end_lineno,
                    "wait",
                    "Import removed: nothing uses it once the hard waits are gone.",
                    CONFIDENCE["waits.unused-import"],
                )
            )

    def _line_text(self, lineno: int) -> str:
        return self.source[self.line_starts[lineno - 1] : self.line_end(lineno)]

    def import_expect(self, tree: ast.Module, api: str) -> None:
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
            at = self.line_end(anchor.end_lineno)
            text = statement + self.newline
            if at == len(self.source) and not self.source.endswith(("\n", "\r")):
                text = self.newline + statement
            line = anchor.end_lineno
        else:
            first = tree.body[0]
            lineno = min([first.lineno, *(d.lineno for d in getattr(first, "decorator_list", []))])
            at = self.line_starts[lineno - 1]
            text = statement + self.newline
            line = lineno
        for edit in self.edits:
            if edit.start < at < edit.end or (edit.start < at == edit.end and not edit.text):
                at = edit.start  # never insert inside a removed span
        self.edits.append(_Edit(at, at, text))
        self.findings.append(
            Finding(
                "assertions.expect-import",
                max(line, 1),
                line + 1,
                "assertion",
                "expect is imported for the web-first assertions.",
                CONFIDENCE["assertions.expect-import"],
            )
        )

    def import_re(self, tree: ast.Module) -> None:
        """``import re`` first among the imports (after a docstring and __future__)."""
        at, line = 0, 1
        for index, stmt in enumerate(tree.body):
            docstring = (
                index == 0 and isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
            )
            future = isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__"
            if not (docstring or future):
                line = stmt.lineno
                at = self.line_starts[stmt.lineno - 1]
                break
        for edit in self.edits:
            if edit.start < at < edit.end or (edit.start < at == edit.end and not edit.text):
                at = edit.start
        self.edits.append(_Edit(at, at, "import re" + self.newline))
        self.findings.append(
            Finding(
                "assertions.re-import",
                line,
                line,
                "assertion",
                "re is imported for the URL patterns of the web-first assertions.",
                CONFIDENCE["assertions.re-import"],
            )
        )

    # -- the result ------------------------------------------------------------------------------

    def result(self) -> tuple[str, list[Finding]]:
        pieces: list[str] = []
        cursor = 0
        # An insertion sorts before a removal starting at the same place, so it lands first.
        for edit in sorted(self.edits, key=lambda e: (e.start, e.end)):
            assert edit.start >= cursor, "rule edits never overlap"
            pieces += [self.source[cursor : edit.start], edit.text]
            cursor = edit.end
        pieces.append(self.source[cursor:])
        text = "".join(pieces)
        findings = sorted(self.findings, key=lambda f: (f.line_start, f.line_end, f.rule))
        return text, findings


def _imports_re(tree: ast.Module) -> bool:
    return any(
        isinstance(stmt, ast.Import)
        and any(a.name == "re" and a.asname is None for a in stmt.names)
        for stmt in tree.body
    )
