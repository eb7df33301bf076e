"""Split a suite's tests across shards by their recent durations (pure).

Every shard of a run collects the same selection from the same pinned tree, so all of them see
the same node ids in the same order; each computes the same plan from those ids and the
durations the run was created with, and keeps its own part. No shard needs to know what the
others decided, and every test runs exactly once. Tests without history get the median of the
known ones (Playwright's and Currents' balancing does the same with an average).

With no history at all (a suite's first sharded run), the tests are cut into contiguous runs of
equal count in collection order, as pytest-split does: neighbouring tests (one module's, one
parametrised test's) tend to cost alike, so each shard gets a fair share of every kind, and a
module's fixtures are set up in one shard only. Dealing them out one by one instead would hand
every shard the same position of each module (shard 1 every module's first test).
"""

from __future__ import annotations

import heapq
import statistics
from collections.abc import Mapping, Sequence

MAX_SHARDS = 16
# Without any history a test counts as this long; only the ratio between tests matters.
UNKNOWN_DURATION_MS = 1000
# The durations a run carries to its shards: enough for a large suite, bounded in the row.
MAX_DURATIONS = 5000


def estimated_durations(node_ids: Sequence[str], known: Mapping[str, int]) -> dict[str, int]:
    """Each test's expected duration: its history, or the median of the known ones."""
    seen = [max(int(known[n]), 1) for n in node_ids if n in known]
    default = int(statistics.median(seen)) if seen else UNKNOWN_DURATION_MS
    return {n: max(int(known[n]), 1) if n in known else default for n in node_ids}


def plan_shards(node_ids: Sequence[str], known: Mapping[str, int], count: int) -> list[list[str]]:
    """``count`` lists of node ids, balanced by expected duration (longest first onto the least
    loaded shard); each list keeps the collection order, so module fixtures are shared."""
    if count < 1:
        raise ValueError("a plan needs at least one shard")
    if not any(n in known for n in node_ids):
        total = len(node_ids)
        return [list(node_ids[i * total // count : (i + 1) * total // count]) for i in range(count)]
    expected = estimated_durations(node_ids, known)
    order = {n: i for i, n in enumerate(node_ids)}
    loads = [(0, index) for index in range(count)]
    heapq.heapify(loads)
    assigned: list[list[str]] = [[] for _ in range(count)]
    for node in sorted(order, key=lambda n: (-expected[n], order[n])):
        load, index = heapq.heappop(loads)
        assigned[index].append(node)
        heapq.heappush(loads, (load + expected[node], index))
    return [sorted(part, key=order.__getitem__) for part in assigned]


def shard_part(
    node_ids: Sequence[str], known: Mapping[str, int], index: int, count: int
) -> set[str]:
    """The node ids shard ``index`` (0-based) of ``count`` runs."""
    return set(plan_shards(node_ids, known, count)[index])


def expected_load_ms(part: Sequence[str], node_ids: Sequence[str], known: Mapping[str, int]) -> int:
    """How long a shard's part should take by the same estimate the plan used."""
    expected = estimated_durations(node_ids, known)
    return sum(expected[n] for n in part)
