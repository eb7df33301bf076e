"""Which lines of two texts match: the engine under `diffing.unified_diff`.

Myers' O((N+M)D) shortest edit script over line ids, after trimming the common head and tail,
so a 1 MiB script with a few edits matches in milliseconds (difflib's matcher is quadratic on
repetitive text). When the edit distance passes `MYERS_MAX_EDITS`, lines unique to both sides
anchor a patience split and Myers runs on the pieces; a piece that is still too far apart
becomes one replacement. The output is difflib-style opcodes, grouped into hunks by
`grouped_opcodes`.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

# Past this many inserted plus deleted lines in one piece, Myers' D^2 bookkeeping gets slow.
MYERS_MAX_EDITS = 400

Opcode = tuple[str, int, int, int, int]


def line_opcodes(a: list[str], b: list[str]) -> list[Opcode]:
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


def grouped_opcodes(opcodes: list[Opcode], context: int) -> list[list[Opcode]]:
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
