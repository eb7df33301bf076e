"""The dashboard's six history queries, asked side by side, answer as one reader would."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from app.web.dashboard_history import load_history
from scriptflow.insights import queries, result_cache
from scriptflow.insights.scoped_reader import ScopedReader
from scriptflow.insights.warehouse import Warehouse
from tests.insights.history import START, Run, batch, login_steps

P1, P2 = uuid.uuid4(), uuid.uuid4()
SCRIPT, OTHER = str(uuid.uuid4()), str(uuid.uuid4())


def test_side_by_side_queries_match_one_reader_and_keep_the_scope(tmp_path: Path) -> None:
    warehouse = Warehouse.for_data_dir(tmp_path)
    try:
        runs = [
            Run(SCRIPT, str(P1), outcome, steps=login_steps(button_fails=outcome == "failed"))
            for outcome in ["passed", "failed", "flaky", "failed", "passed"] * 4
        ]
        # Another project's failures must not reach this dashboard.
        runs += [
            Run(OTHER, str(P2), "failed", steps=login_steps(button_fails=True)) for _ in range(5)
        ]
        warehouse.append(batch(runs, every=timedelta(hours=3)))
        opened: list[str] = []

        def open_reader(project_ids: Sequence[uuid.UUID]) -> ScopedReader:
            opened.append(threading.current_thread().name)
            return warehouse.reader(project_ids)

        result_cache.RESULTS.clear()  # every query runs, none is answered from the cache
        bucket, frames = load_history(open_reader, [P1], since=START, bucket=None)

        # A reader (a cursor) per query, on the pool's threads: cursors are not shared.
        assert len(opened) == 7
        assert sum(name.startswith("dashboard-query") for name in opened) == 6

        result_cache.RESULTS.clear()
        with warehouse.reader([P1]) as reader:
            assert bucket == queries.bucket_for_span(queries.history_span(reader, since=START))
            expected = {
                "pass_rate": queries.pass_rate_over_time(reader, since=START, bucket=bucket),
                "durations": queries.duration_trends(reader, since=START, bucket=bucket),
                "flaky_tests": queries.flakiest_tests(reader, since=START),
                "flaky_selectors": queries.flakiest_selectors(reader, since=START),
                "clusters": queries.failure_clusters(reader, since=START),
                "fixes": queries.fix_impact(reader),
            }
        assert frames.keys() == expected.keys()
        for name, frame in expected.items():
            assert frames[name].equals(frame), name
        assert int(frames["clusters"]["occurrences"].sum()) == 8  # P1's failures only
        assert set(frames["pass_rate"]["script_id"].astype(str)) == {SCRIPT}

        # 20 runs 3 hours apart span 2.4 days: days, unless the grain is chosen.
        assert bucket == "day"
        chosen, hourly = load_history(open_reader, [P1], since=START, bucket="hour")
        assert chosen == "hour"
        assert len(hourly["pass_rate"]) > len(frames["pass_rate"])
    finally:
        warehouse.close()
