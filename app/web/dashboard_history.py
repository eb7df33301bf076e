"""The dashboard's history frames, its six warehouse queries asked side by side.

Each query gets a reader (a DuckDB cursor of its own: a cursor's temporary views are its own,
and one cursor runs one statement at a time) on a small thread pool. At 1M runs on 2 cores
the six took 0.91 s one after another on one reader and 0.57 s side by side (docs/notebooks.md,
"Eighth stop"). Blocking throughout: call it from a thread.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import pandas as pd

from scriptflow.insights import queries
from scriptflow.insights.scoped_reader import ScopedReader

# The measured setting; each thread holds one cursor of the process's warehouse at a time.
QUERY_THREADS = 3


def load_history(
    open_reader: Callable[[Sequence[uuid.UUID]], ScopedReader],
    project_ids: Sequence[uuid.UUID],
    *,
    since: datetime | None,
    bucket: str | None,
) -> tuple[str, dict[str, pd.DataFrame]]:
    """The bucket (``bucket``, or picked from the history's span) and the six frames by name."""

    def ask(query: Callable[..., Any], **kwargs: Any) -> Any:
        with open_reader(project_ids) as reader:
            return query(reader, **kwargs)

    chosen = bucket or queries.bucket_for_span(ask(queries.history_span, since=since))
    asks: dict[str, tuple[Callable[..., pd.DataFrame], dict[str, Any]]] = {
        "pass_rate": (queries.pass_rate_over_time, {"since": since, "bucket": chosen}),
        "durations": (queries.duration_trends, {"since": since, "bucket": chosen}),
        "flaky_tests": (queries.flakiest_tests, {"since": since}),
        "flaky_selectors": (queries.flakiest_selectors, {"since": since}),
        "clusters": (queries.failure_clusters, {"since": since}),
        "fixes": (queries.fix_impact, {}),
    }
    with ThreadPoolExecutor(QUERY_THREADS, thread_name_prefix="dashboard-query") as pool:
        futures = {
            name: pool.submit(ask, query, **kwargs) for name, (query, kwargs) in asks.items()
        }
        return chosen, {name: future.result() for name, future in futures.items()}
