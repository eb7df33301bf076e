"""Review hunks: a diff split at every unchanged line, and a chosen subset applied (pure).

A unified diff merges changes less than seven lines apart into one hunk, which makes a big
change one all-or-nothing block. For review each run of changed lines is its own hunk,
numbered from 0 in diff order. A review hunk carries the context lines before it (up to the
previous change) so it applies on its own; the last one of a diff hunk also keeps the context
after it. Applying any subset in order gives the base with exactly those changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from scriptflow.scripts.diffing import Hunk, HunkLine, apply_hunks, parse_hunks

SHOWN_CONTEXT = 3


@dataclass(frozen=True)
class ReviewHunk:
    """One run of changed lines: ``hunk`` applies it, ``shown`` is what a reviewer reads."""

    index: int
    hunk: Hunk
    shown: Hunk


class UnknownHunks(ValueError):
    """Hunk numbers that the diff does not have (or none at all)."""


def review_hunks(diff: str, shown_context: int = SHOWN_CONTEXT) -> list[ReviewHunk]:
    """The diff's review hunks, in order."""
    result: list[ReviewHunk] = []
    for hunk in parse_hunks(diff):
        for applied, shown in _split(hunk, shown_context):
            result.append(ReviewHunk(len(result), applied, shown))
    return result


def apply_review_hunks(base: str, diff: str, chosen: Iterable[int]) -> str:
    """``base`` with only the chosen review hunks of ``diff`` applied.

    Raises `UnknownHunks` for an empty choice or a number the diff does not have, and
    `DiffDoesNotApply` when the chosen lines are not in ``base``.
    """
    hunks = review_hunks(diff)
    wanted = sorted(set(chosen))
    if not wanted or wanted[0] < 0 or wanted[-1] >= len(hunks):
        raise UnknownHunks(f"choose hunks between 0 and {len(hunks) - 1}")
    return apply_hunks(base, [hunks[i].hunk for i in wanted])


def _split(hunk: Hunk, shown_context: int) -> list[tuple[Hunk, Hunk]]:
    # Runs of changed lines, each with the index range of the body lines it covers.
    runs: list[tuple[int, int]] = []
    for position, line in enumerate(hunk.lines):
        if line.tag == " ":
            continue
        if runs and runs[-1][1] == position:
            runs[-1] = (runs[-1][0], position + 1)
        else:
            runs.append((position, position + 1))
    if not runs:
        return []
    # Old/new line numbers (0-based) of every body line, to give each piece its header.
    old_at, new_at = [], []
    old = hunk.old_start - 1 if hunk.old_len else hunk.old_start
    new = hunk.new_start - 1 if hunk.new_len else hunk.new_start
    for line in hunk.lines:
        old_at.append(old)
        new_at.append(new)
        old += line.tag != "+"
        new += line.tag != "-"
    pieces = []
    for number, (start, stop) in enumerate(runs):
        last = number == len(runs) - 1
        begin = runs[number - 1][1] if number else 0
        end = len(hunk.lines) if last else stop
        applied = _piece(hunk.lines, begin, end, old_at, new_at)
        next_start = len(hunk.lines) if last else runs[number + 1][0]
        shown = _piece(
            hunk.lines,
            max(begin, start - shown_context),
            min(next_start, stop + shown_context),
            old_at,
            new_at,
        )
        pieces.append((applied, shown))
    return pieces


def _piece(
    lines: tuple[HunkLine, ...], begin: int, end: int, old_at: list[int], new_at: list[int]
) -> Hunk:
    body = lines[begin:end]
    old_len = sum(line.tag != "+" for line in body)
    new_len = sum(line.tag != "-" for line in body)
    # As in a header: 1-based first line, or the line before an empty range.
    old_start = old_at[begin] + 1 if old_len else old_at[begin]
    new_start = new_at[begin] + 1 if new_len else new_at[begin]
    return Hunk(old_start, old_len, new_start, new_len, tuple(body))


def format_hunk(hunk: Hunk) -> str:
    """One hunk as unified-diff text, header included (for display and classification)."""
    body = "".join(f"{line.tag}{line.text}" for line in hunk.lines)
    if body and not body.endswith("\n"):
        body += "\n"
    return f"@@ -{hunk.old_start},{hunk.old_len} +{hunk.new_start},{hunk.new_len} @@\n{body}"
