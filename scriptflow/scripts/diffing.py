"""Git-style unified diffs of script text: make one, parse its hunks, apply it to a base.

Lines are split on ``\\n`` only, so ``\\r`` (CRLF files), form feeds, tabs and non-ASCII text
travel through a diff untouched, and a last line without a newline is marked the way git
marks it (``\\ No newline at end of file``). Applying is exact, or shifted when the hunk's
context and removed lines still match byte for byte somewhere else; there is no fuzz.

Matching is Myers' O((N+M)D) shortest edit script over line ids, after trimming the common
head and tail, so a 1 MiB script with a few edits diffs in milliseconds (difflib's matcher is
quadratic on repetitive text). When the edit distance passes `MYERS_MAX_EDITS`, lines unique
to both sides anchor a patience split and Myers runs on the pieces; a piece that is still too
far apart becomes one replacement. Either way applying the diff to the old text gives the new.
These are pure CPU work: services run them in a thread (`unified_diff_async`).
"""

from __future__ import annotations

import asyncio
import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from scriptflow.errors import Conflict

NO_NEWLINE_MARKER = "\\ No newline at end of file"
CONTEXT_LINES = 3
# Past this many inserted plus deleted lines in one piece, Myers' D^2 bookkeeping gets slow.
MYERS_MAX_EDITS = 400
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
    for group in _grouped_opcodes(_opcodes(a, b), context):
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


Opcode = tuple[str, int, int, int, int]


def _opcodes(a: list[str], b: list[str]) -> list[Opcode]:
    """difflib-style opcodes from the matched line pairs."""
    ids: dict[str, int] = {}
    xs = [ids.setdefault(line, len(ids)) for line in a]
    ys = [ids.setdefault(line, len(ids)) for line in b]
    matches = _matching_pairs(xs, ys)
    opcodes: list[Opcode] = []
    i = j = 0
    index = 0
    while index < len(matches):
        mi, mj = matches[index]
        if i < mi or j < mj:
            tag = "replace" if i < mi and j < mj else ("delete" if i < mi else "insert")
            opcodes.append((tag, i, mi, j, mj))
        run = 1
        while index + run < len(matches) and matches[index + run] == (mi + run, mj + run):
            run += 1
        opcodes.append(("equal", mi, mi + run, mj, mj + run))
        i, j = mi + run, mj + run
        index += run
    if i < len(a) or j < len(b):
        tag = "replace" if i < len(a) and j < len(b) else ("delete" if i < len(a) else "insert")
        opcodes.append((tag, i, len(a), j, len(b)))
    return opcodes or [("equal", 0, 0, 0, 0)]


def _grouped_opcodes(opcodes: list[Opcode], context: int) -> list[list[Opcode]]:
    """Hunks: changes with up to `context` equal lines around them (difflib's grouping)."""
    codes = list(opcodes)
    if codes[0][0] == "equal":
        tag, i1, i2, j1, j2 = codes[0]
        codes[0] = (tag, max(i1, i2 - context), i2, max(j1, j2 - context), j2)
    if codes[-1][0] == "equal":
        tag, i1, i2, j1, j2 = codes[-1]
        codes[-1] = (tag, i1, min(i2, i1 + context), j1, min(j2, j1 + context))
    groups: list[list[Opcode]] = []
    group: list[Opcode] = []
    for tag, i1, i2, j1, j2 in codes:
        if tag == "equal" and i2 - i1 > 2 * context:
            group.append((tag, i1, min(i2, i1 + context), j1, min(j2, j1 + context)))
            groups.append(group)
            group = []
            i1, j1 = max(i1, i2 - context), max(j1, j2 - context)
        group.append((tag, i1, i2, j1, j2))
    if group and not (len(group) == 1 and group[0][0] == "equal"):
        groups.append(group)
    return groups


def _matching_pairs(xs: Sequence[int], ys: Sequence[int]) -> list[tuple[int, int]]:
    """Pairs (i, j) with xs[i] == ys[j], increasing in both: a common subsequence."""
    pairs: list[tuple[int, int]] = []
    pending = [(0, len(xs), 0, len(ys))]
    while pending:
        alo, ahi, blo, bhi = pending.pop()
        while alo < ahi and blo < bhi and xs[alo] == ys[blo]:
            pairs.append((alo, blo))
            alo, blo = alo + 1, blo + 1
        while alo < ahi and blo < bhi and xs[ahi - 1] == ys[bhi - 1]:
            ahi, bhi = ahi - 1, bhi - 1
            pairs.append((ahi, bhi))
        if alo == ahi or blo == bhi:
            continue
        found = _myers(xs, ys, alo, ahi, blo, bhi, MYERS_MAX_EDITS)
        if found is not None:
            pairs.extend(found)
            continue
        anchors = _unique_anchors(xs, ys, alo, ahi, blo, bhi)
        if not anchors:
            continue  # too different and nothing to hold on to: one replacement
        i, j = alo, blo
        for ai, bj in anchors:
            pending.append((i, ai, j, bj))
            pairs.append((ai, bj))
            i, j = ai + 1, bj + 1
        pending.append((i, ahi, j, bhi))
    pairs.sort()
    return pairs


def _myers(
    xs: Sequence[int], ys: Sequence[int], alo: int, ahi: int, blo: int, bhi: int, max_d: int
) -> list[tuple[int, int]] | None:
    """Myers' shortest edit script on xs[alo:ahi] vs ys[blo:bhi]; None past `max_d` edits."""
    a, b = xs[alo:ahi], ys[blo:bhi]
    n, m = len(a), len(b)
    limit = min(n + m, max_d)
    offset = limit + 1
    v = [0] * (2 * limit + 3)
    trace: list[list[int]] = []
    for d in range(limit + 1):
        trace.append(v[offset - d - 1 : offset + d + 2])
        for k in range(-d, d + 1, 2):
            if k == -d or (k != d and v[offset + k - 1] < v[offset + k + 1]):
                x = v[offset + k + 1]
            else:
                x = v[offset + k - 1] + 1
            x = _snake_end(a, b, x, x - k)
            v[offset + k] = x
            if x >= n and x - k >= m:
                return _backtrack(trace, a, b, d, alo, blo)
    return None


def _snake_end(a: Sequence[int], b: Sequence[int], x: int, y: int) -> int:
    """How far the diagonal from (x, y) runs through equal lines, by galloping slice compares."""
    room = min(len(a) - x, len(b) - y)
    if room <= 0 or a[x] != b[y]:
        return x
    known, step = 1, 1
    while known < room:
        probe = min(known + step, room)
        if a[x + known : x + probe] != b[y + known : y + probe]:
            # The mismatch lies in (known, probe]: narrow it down.
            low, high = known, probe
            while high - low > 1:
                mid = (low + high) // 2
                if a[x + low : x + mid] == b[y + low : y + mid]:
                    low = mid
                else:
                    high = mid
            return x + low
        known, step = probe, step * 2
    return x + room


def _backtrack(
    trace: list[list[int]], a: Sequence[int], b: Sequence[int], depth: int, alo: int, blo: int
) -> list[tuple[int, int]]:
    pairs: list[tuple[int, int]] = []
    x, y = len(a), len(b)
    for d in range(depth, -1, -1):
        row = trace[d]  # v before step d, around diagonal 0 (index d + 1)
        k = x - y
        if k == -d or (k != d and row[d + 1 + k - 1] < row[d + 1 + k + 1]):
            previous_k = k + 1
        else:
            previous_k = k - 1
        previous_x = row[d + 1 + previous_k]
        previous_y = previous_x - previous_k
        while x > previous_x and y > previous_y:
            x, y = x - 1, y - 1
            pairs.append((alo + x, blo + y))
        x, y = previous_x, previous_y
    return pairs


def _unique_anchors(
    xs: Sequence[int], ys: Sequence[int], alo: int, ahi: int, blo: int, bhi: int
) -> list[tuple[int, int]]:
    """Patience anchors: lines once in each side, in the longest order both sides agree on."""
    count_a: dict[int, int] = {}
    for i in range(alo, ahi):
        count_a[xs[i]] = count_a.get(xs[i], 0) + 1
    where_b: dict[int, int] = {}
    count_b: dict[int, int] = {}
    for j in range(blo, bhi):
        line = ys[j]
        count_b[line] = count_b.get(line, 0) + 1
        where_b[line] = j
    candidates = [
        (i, where_b[xs[i]])
        for i in range(alo, ahi)
        if count_a[xs[i]] == 1 and count_b.get(xs[i]) == 1
    ]
    # Longest increasing subsequence of the b positions (patience sorting).
    tails: list[int] = []
    tail_index: list[int] = []
    previous: list[int] = [-1] * len(candidates)
    for index, (_, j) in enumerate(candidates):
        place = bisect.bisect_left(tails, j)
        if place == len(tails):
            tails.append(j)
            tail_index.append(index)
        else:
            tails[place] = j
            tail_index[place] = index
        previous[index] = tail_index[place - 1] if place else -1
    chain: list[tuple[int, int]] = []
    at = tail_index[-1] if tail_index else -1
    while at != -1:
        chain.append(candidates[at])
        at = previous[at]
    return chain[::-1]


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
