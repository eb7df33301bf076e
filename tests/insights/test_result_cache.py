"""Dashboard query results kept per process until any process commits to the lake."""

from __future__ import annotations

import uuid
from pathlib import Path

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
