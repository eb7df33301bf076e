"""Git-style unified diffs of script text: make one, parse its hunks, apply it to a base.

Lines are split on ``\\n`` only, so ``\\r`` (CRLF files), form feeds, tabs and non-ASCII text
travel through a diff untouched, and a last line without a newline is marked the way git
marks it (``\\ No newline at end of file``). Applying is exact, or shifted when the hunk's
context and removed lines still match byte for byte somewhere else; there is no fuzz.

Which lines match is `line_matching`'s work (Myers, with a patience split on far-apart
texts); either way applying the diff to the old text gives the new. These are pure CPU work:
services run them in a thread (`unified_diff_async`).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field

from scriptflow.errors import Conflict
from scriptflow.scripts.line_matching import grouped_opcodes, line_opcodes

NO_NEWLINE_MARKER = "\\ No newline at end of file"
CONTEXT_LINES = 3
_HUNK_HEADER = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


class DiffDoesNotApply(Conflict):
    """The diff is malformed, or a hunk's old lines are not found in the base."""

    code = "DIFF_DOES_NOT_APPLY"


@dataclass(frozen=True)
class HunkLine:
    """One body line of a hunk: tag ' ', '-' or '+'; the text keeps its newline."""

    tag: str
    text: str


@dataclass(frozen=True)
class Hunk:
    """One ``@@`` block; starts are 1-based as in the header."""

    old_start: int
    old_len: int
    new_start: int
    new_len: int
    lines: tuple[HunkLine, ...] = field(default_factory=tuple)

    @property
    def old_lines(self) -> list[str]:
        """Context and removed lines: what must be found in the base."""
        return [line.text for line in self.lines if line.tag in (" ", "-")]

    @property
    def new_lines(self) -> list[str]:
        """Context and added lines: what replaces them."""
        return [line.text for line in self.lines if line.tag in (" ", "+")]

    @property
    def removed(self) -> list[str]:
        """The removed lines only."""
        return [line.text for line in self.lines if line.tag == "-"]

    @property
    def added(self) -> list[str]:
        """The added lines only."""
        return [line.text for line in self.lines if line.tag == "+"]


def split_lines(text: str) -> list[str]:
    """Split on ``\\n`` only, each line keeping its newline (the last may have none)."""
    if not text:
        return []
    lines = text.split("\n")
    result = [line + "\n" for line in lines[:-1]]
    if lines[-1]:
        result.append(lines[-1])
    return result


def unified_diff(old: str, new: str, path: str = "script.py", context: int = CONTEXT_LINES) -> str:
    """A git-style unified diff from ``old`` to ``new``; ``""`` when they are equal."""
    if old == new:
        return ""
    a, b = split_lines(old), split_lines(new)
    out = [f"diff --git a/{path} b/{path}\n", f"--- a/{path}\n", f"+++ b/{path}\n"]
    for group in grouped_opcodes(line_opcodes(a, b), context):
        first, last = group[0], group[-1]
        old_range = _format_range(first[1], last[2])
        new_range = _format_range(first[3], last[4])
        out.append(f"@@ -{old_range} +{new_range} @@\n")
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                out.extend(_body_line(" ", line) for line in a[i1:i2])
                continue
            if tag in ("replace", "delete"):
                out.extend(_body_line("-", line) for line in a[i1:i2])
            if tag in ("replace", "insert"):
                out.extend(_body_line("+", line) for line in b[j1:j2])
    return "".join(out)


async def unified_diff_async(old: str, new: str, path: str = "script.py") -> str:
    """`unified_diff` in a worker thread: a large script must not stall the event loop."""
    return await asyncio.to_thread(unified_diff, old, new, path)


async def apply_diff_async(base: str, diff: str) -> str:
    """`apply_diff` in a worker thread."""
    return await asyncio.to_thread(apply_diff, base, diff)


def _format_range(start: int, stop: int) -> str:
    # Same convention as git and difflib: an empty range names the line before it.
    beginning = start + 1
    length = stop - start
    if length == 1:
        return f"{beginning}"
    if not length:
        beginning -= 1
    return f"{beginning},{length}"


def _body_line(tag: str, line: str) -> str:
    if line.endswith("\n"):
        return tag + line
    return f"{tag}{line}\n{NO_NEWLINE_MARKER}\n"


def parse_hunks(diff: str) -> list[Hunk]:
    """The hunks of a single-file unified diff; headers before the first ``@@`` are skipped."""
    if not diff:
        return []
    rows = diff.split("\n")
    if rows[-1] == "":
        rows.pop()
    hunks: list[Hunk] = []
    index = 0
    while index < len(rows) and not rows[index].startswith("@@"):
        index += 1
    if index == len(rows):
        raise DiffDoesNotApply("The diff is malformed: it has no hunks")
    while index < len(rows):
        match = _HUNK_HEADER.match(rows[index])
        if match is None:
            raise DiffDoesNotApply(
                "The diff is malformed: expected a hunk header", details={"line": index + 1}
            )
        old_start, new_start = int(match[1]), int(match[3])
        old_len = int(match[2]) if match[2] is not None else 1
        new_len = int(match[4]) if match[4] is not None else 1
        index += 1
        body: list[HunkLine] = []
        old_seen = new_seen = 0
        while index < len(rows) and (old_seen < old_len or new_seen < new_len):
            row = rows[index]
            tag = row[:1]
            if tag not in (" ", "-", "+"):
                # Some tools strip the single space of an empty context line.
                if row == "" and old_seen < old_len and new_seen < new_len:
                    tag, row = " ", " "
                else:
                    break
            body.append(HunkLine(tag, row[1:] + "\n"))
            old_seen += tag != "+"
            new_seen += tag != "-"
            index += 1
            if index < len(rows) and rows[index] == NO_NEWLINE_MARKER:
                body[-1] = HunkLine(tag, row[1:])
                index += 1
        if old_seen != old_len or new_seen != new_len:
            raise DiffDoesNotApply(
                "The diff is malformed: a hunk's line counts do not match its header",
                details={"hunk": len(hunks) + 1},
            )
        hunks.append(Hunk(old_start, old_len, new_start, new_len, tuple(body)))
        while index < len(rows) and rows[index] == NO_NEWLINE_MARKER:
            index += 1
    return hunks


def apply_diff(base: str, diff: str) -> str:
    """Apply ``diff`` to ``base``: exactly, or shifted where the old lines still match."""
    return apply_hunks(base, parse_hunks(diff))


def apply_hunks(base: str, hunks: list[Hunk]) -> str:
    """Apply parsed hunks in order; raises `DiffDoesNotApply` naming the first hunk that fails."""
    lines = split_lines(base)
    result: list[str] = []
    cursor = 0  # first base line not yet copied
    offset = 0  # how far earlier hunks were found from where their headers said
    for number, hunk in enumerate(hunks, start=1):
        wanted = hunk.old_lines
        expected = (hunk.old_start if not wanted else hunk.old_start - 1) + offset
        position = _locate(lines, wanted, expected, cursor)
        if position is None:
            raise DiffDoesNotApply(
                f"Hunk {number} does not apply: the lines it changes are not in the script",
                details={"hunk": number, "old_start": hunk.old_start},
            )
        offset += position - expected
        result.extend(lines[cursor:position])
        result.extend(hunk.new_lines)
        cursor = position + len(wanted)
    result.extend(lines[cursor:])
    text = "".join(result)
    # A line without its newline can only ever be the last one.
    if any(not line.endswith("\n") for line in result[:-1]):
        raise DiffDoesNotApply("The diff leaves a line without its newline in the middle")
    return text


def _locate(lines: list[str], wanted: list[str], expected: int, floor: int) -> int | None:
    if not wanted:
        # A pure insertion has no context to search for: only its stated place will do.
        return expected if floor <= expected <= len(lines) else None
    size = len(wanted)
    last_start = len(lines) - size
    if last_start < floor:
        return None
    for distance in range(max(expected - floor, last_start - expected) + 1):
        for candidate in (expected - distance, expected + distance):
            if floor <= candidate <= last_start and lines[candidate : candidate + size] == wanted:
                return candidate
    return None
