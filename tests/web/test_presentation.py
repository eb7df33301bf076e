"""What the notebooks show people: formatted values, the header, permalinks, diff HTML."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from app.web.diff_view import diff_rows, side_by_side_rows, unified_html
from app.web.shell import header_html, permalink
from app.web.tables import (
    duration,
    error_block_html,
    first_line,
    people_frame,
    percent,
    relative,
    timestamp,
)
from scriptflow.scripts.diffing import parse_hunks, unified_diff

NOW = datetime(2026, 11, 30, 14, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("rate", "shown"), [(2 / 3, "67 %"), (1.0, "100 %"), (0.0, "0 %"), (None, ""), (math.nan, "")]
)
def test_rates_read_as_percentages_and_unknown_ones_as_blank(rate: float, shown: str) -> None:
    assert percent(rate) == shown


@pytest.mark.parametrize(
    ("ms", "shown"),
    [(850, "850 ms"), (3200, "3.2 s"), (125_000, "2 min 05 s"), (3_720_000, "1 h 02 min")],
)
def test_durations_pick_a_unit_a_person_reads(ms: float, shown: str) -> None:
    assert duration(ms) == shown


def test_timestamps_are_minutes_in_utc_with_how_long_ago() -> None:
    moment = datetime(2026, 11, 30, 12, 5, 7, 123456, tzinfo=UTC)
    assert timestamp(moment, NOW) == "2026-11-30 12:05 UTC · 2 h ago"
    assert relative(NOW - timedelta(seconds=10), NOW) == "just now"
    assert relative(NOW + timedelta(minutes=5), NOW) == "in 5 min"
    assert timestamp(None) == ""


def test_a_frame_for_people_has_no_raw_values_left() -> None:
    frame = pd.DataFrame(
        {
            "bucket": pd.to_datetime(["2026-11-30 14:05:07.123456"]),
            "pass_rate": [0.6666666666666666],
            "p95_ms": [3200.0],
            "runs": [3],
            "note": [None],
            "score": [math.nan],
        }
    )
    shown = people_frame(frame).iloc[0].to_dict()
    assert shown == {
        "bucket": "2026-11-30 14:05",
        "pass_rate": "67 %",
        "p95": "3.2 s",
        "runs": 3,
        "note": "",
        "score": "",
    }


def test_errors_are_escaped_monospace_blocks_and_short_in_cells() -> None:
    error = "TimeoutError: `locator.click`\nCall log:\n  - waiting for <button>"
    block = error_block_html(error)
    assert block.startswith("<pre") and "&lt;button&gt;" in block and "`locator.click`" in block
    assert first_line(error) == "TimeoutError: `locator.click`"


def test_the_header_links_every_page_but_the_current_one_and_escapes_the_user() -> None:
    html = header_html("review", "<qa>@example.com")
    for path in ("/notebooks/generate/", "/notebooks/run/", "/dashboard/", "/notebooks/runs/"):
        assert f'href="{path}"' in html
    assert 'href="/notebooks/review/"' not in html and 'aria-current="page"' in html
    assert 'href="/logout"' in html and "&lt;qa&gt;@example.com" in html


def test_permalinks_carry_only_the_ids_given() -> None:
    run = uuid.uuid4()
    assert permalink("run", run=run) == f"/notebooks/run/?run={run}"
    assert permalink("runs") == "/notebooks/runs/"
    assert permalink("review", script="s", changeset=None) == "/notebooks/review/?script=s"


def test_a_diff_is_numbered_per_side_and_paired_side_by_side() -> None:
    old = "a\nb\nc\nd\n"
    new = "a\nB\nc\nd\ne\n"
    (hunk,) = parse_hunks(unified_diff(old, new))
    rows = diff_rows(hunk)
    assert [(r.tag, r.old_number, r.new_number) for r in rows] == [
        (" ", 1, 1),
        ("-", 2, None),
        ("+", None, 2),
        (" ", 3, 3),
        (" ", 4, 4),
        ("+", None, 5),
    ]
    pairs = side_by_side_rows(hunk)
    assert [(o.text if o else None, n.text if n else None) for o, n in pairs] == [
        ("a\n", "a\n"),
        ("b\n", "B\n"),
        ("c\n", "c\n"),
        ("d\n", "d\n"),
        (None, "e\n"),
    ]


def test_diff_html_escapes_script_text() -> None:
    (hunk,) = parse_hunks(unified_diff("x = 1\n", 'x = "</table><script>"\n'))
    html = unified_html(hunk)
    assert "<script>" not in html and "&lt;" in html
