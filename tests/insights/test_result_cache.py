"""Dashboard query results kept per process until any process commits to the lake."""

from __future__ import annotations

import uuid
from pathlib import Path

import pandas as pd
import pytest

from scriptflow.insights import queries, result_cache
from scriptflow.insights.warehouse import Warehouse
from tests.insights.history import Run, batch, login_steps

P1 = str(uuid.uuid4())
SCRIPT = str(uuid.uuid4())


def test_a_repeated_query_is_kept_until_the_next_commit(tmp_path: Path) -> None:
    warehouse = Warehouse.for_data_dir(tmp_path)
    other = Warehouse.for_data_dir(tmp_path)  # another attach: another process's commits
    try:
        warehouse.append(batch([Run(SCRIPT, P1, "failed", steps=login_steps(button_fails=True))]))
        cache = result_cache.RESULTS
        with warehouse.reader([P1]) as reader:
            first = queries.failure_clusters(reader)
            hits = cache.hits
            again = queries.failure_clusters(reader)
            assert cache.hits == hits + 1
            assert again.equals(first)
            again.loc[0, "occurrences"] = 99  # a copy: the kept frame is not changed
            assert queries.failure_clusters(reader).equals(first)
            other.append(batch([Run(SCRIPT, P1, "failed", steps=login_steps(button_fails=True))]))
            misses = cache.misses
            after = queries.failure_clusters(reader)
            assert cache.misses == misses + 1
            assert int(after["occurrences"].sum()) == int(first["occurrences"].sum()) + 1
        with warehouse.reader([str(uuid.uuid4())]) as scoped:  # another scope, another key
            assert queries.failure_clusters(scoped).empty
    finally:
        other.close()
        warehouse.close()


def test_the_cache_keeps_its_bounds_and_evicts_the_least_recently_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cache = result_cache.ResultCache()
    monkeypatch.setattr(result_cache, "MAX_ENTRIES", 2)
    small = pd.DataFrame({"n": [1]})
    for key in ("a", "b"):
        cache.get_or_compute(key, small.copy)
    cache.get_or_compute("a", small.copy)  # "a" used last: "b" is the one to go
    cache.get_or_compute("c", small.copy)
    misses = cache.misses
    cache.get_or_compute("a", small.copy)
    cache.get_or_compute("c", small.copy)
    assert cache.misses == misses
    cache.get_or_compute("b", small.copy)
    assert cache.misses == misses + 1
    # A frame over the per-frame bound is returned but not kept. Python objects (DuckDB's UUID
    # columns come as such) count by their size, not as 8-byte pointers.
    monkeypatch.setattr(result_cache, "MAX_FRAME_BYTES", 100_000)
    texts = pd.DataFrame({"error": pd.Series(["x" * 1_000] * 200, dtype=object)})  # ~200 kB
    assert cache.get_or_compute("big", texts.copy).equals(texts)
    misses = cache.misses
    cache.get_or_compute("big", texts.copy)
    assert cache.misses == misses + 1
