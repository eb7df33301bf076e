"""From chart rows and insights to links of the runs behind them (pure)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlparse

from app.web.drilldown import evidence_rows, runs_behind

LOGIN, HOME = uuid.uuid4(), uuid.uuid4()
IDS = {"Login": LOGIN, "Home": HOME}


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}


def test_picked_buckets_become_one_range_per_script_and_environment() -> None:
    def at(hour: int) -> datetime:
        return datetime(2026, 11, 28, hour, tzinfo=UTC)

    rows: list[dict[str, object]] = [
        {"script": "Login", "environment": "staging", "bucket": at(18)},
        {"script": "Login", "environment": "staging", "bucket": at(22)},
        {"script": "Home", "environment": "prod", "bucket": at(20)},
        {"script": "(deleted script)", "environment": "staging", "bucket": None},
    ]
    links = runs_behind(rows, IDS, bucket="hour")
    assert [label for label, _ in links] == ["Home · prod", "Login · staging"]
    login = query(links[1][1])
    assert urlparse(links[1][1]).path == "/notebooks/runs/"
    assert login == {
        "script": str(LOGIN),
        "environment": "staging",
        "since": "2026-11-28T18:00:00+00:00",
        "until": "2026-11-28T23:00:00+00:00",  # the end of the last picked bucket
    }


def test_bars_without_buckets_use_the_window_and_a_status() -> None:
    since = datetime(2026, 11, 1, tzinfo=UTC)
    ((_, url),) = runs_behind(
        [{"script": "Login", "environment": "staging"}], IDS, since=since, status="failed"
    )
    assert query(url) == {
        "script": str(LOGIN),
        "environment": "staging",
        "status": "failed",
        "since": since.isoformat(),
    }


def test_evidence_links_each_run_and_only_existing_traces() -> None:
    with_trace, without = uuid.uuid4(), uuid.uuid4()
    rows = evidence_rows([str(with_trace), "not-a-run", str(without)], {with_trace: "trace.zip"})
    assert [r["evidence"] for r in rows] == [1, 3]
    assert f"/notebooks/run/?run={with_trace}" in rows[0]["run"]
    assert f"/web/runs/{with_trace}/artifacts/trace.zip" in rows[0]["trace"]
    assert rows[1]["trace"] == ""
