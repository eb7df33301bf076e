"""A script's text as the rules engine edits it: AST positions to offsets, and splicing.

Edits are byte-exact replacements of spans of the original text; everything outside them is
the original byte, which is how comments, tabs, CRLF and non-ASCII survive a rewrite.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

_NEWLINE = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class Edit:
    start: int
    end: int
    text: str


class SourceText:
    """The original source, where its lines start, its newline, and the edits made so far."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.line_starts = [0, *(m.end() for m in _NEWLINE.finditer(source))]
        first_newline = _NEWLINE.search(source)
        self.newline = first_newline.group() if first_newline else "\n"
        self.edits: list[Edit] = []

    def offset(self, lineno: int, col: int) -> int:
        """Character offset of an AST position (whose column counts UTF-8 bytes)."""
        start = self.line_starts[lineno - 1]
        line = self.source[start : self.line_end(lineno)]
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

    def line_text(self, lineno: int) -> str:
        return self.source[self.line_starts[lineno - 1] : self.line_end(lineno)]

    def owns_its_lines(self, node: ast.stmt) -> bool:
        """Nothing but indentation before it and at most a comment after it."""
        start, end = self.span(node)
        assert node.end_lineno is not None
        before = self.source[self.line_starts[node.lineno - 1] : start]
        after = self.source[end : self.line_end(node.end_lineno)].strip()
        return not before.strip() and (not after or after.startswith("#"))

    def replace(self, start: int, end: int, text: str) -> None:
        self.edits.append(Edit(start, end, text))

    def insert(self, at: int, text: str) -> None:
        """Insert at `at`, moved back to the start of a removed span it would land inside."""
        for edit in self.edits:
            if edit.start < at < edit.end or (edit.start < at == edit.end and not edit.text):
                at = edit.start
        self.edits.append(Edit(at, at, text))

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
        self.edits.append(Edit(first, last, replacement))

    def spliced(self) -> str:
        """The source with every edit applied."""
        pieces: list[str] = []
        cursor = 0
        # An insertion sorts before a removal starting at the same place, so it lands first.
        for edit in sorted(self.edits, key=lambda e: (e.start, e.end)):
            assert edit.start >= cursor, "rule edits never overlap"
            pieces += [self.source[cursor : edit.start], edit.text]
            cursor = edit.end
        pieces.append(self.source[cursor:])
        return "".join(pieces)
