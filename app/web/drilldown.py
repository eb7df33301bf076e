"""From a chart selection or an insight to the runs behind it (pure, no marimo).

A dashboard point or bar stands for runs of one script in one environment over a time
bucket; the link opens the run list (``/notebooks/runs/``) on exactly those, where each run
links to its page and its trace.
"""

from __future__ import annotations

import html
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from app.web.shell import permalink
from app.web.trace_viewer import trace_viewer_url

BUCKET_SIZES = {
    "minute": timedelta(minutes=1),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(weeks=1),
}
MAX_LINKS = 12


def _moment(value: Any) -> datetime | None:
    if value is None:
        return None
    to_pydatetime = getattr(value, "to_pydatetime", None)  # a pandas Timestamp
    moment = to_pydatetime() if to_pydatetime is not None else value
    return moment if isinstance(moment, datetime) else None


def runs_behind(
    rows: Iterable[Mapping[str, Any]],
    script_ids: Mapping[str, uuid.UUID],
    *,
    bucket: str | None = None,
    since: datetime | None = None,
    status: str | None = None,
) -> list[tuple[str, str]]:
    """(label, link) per script and environment among ``rows``, over their buckets' range.

    Rows carry ``script`` (a title), ``environment`` and, for trends, ``bucket`` (its start);
    without buckets (a bar of a windowed table) the range is the window's ``since``.
    """
    groups: dict[tuple[str, str], list[datetime]] = {}
    for row in rows:
        key = (str(row.get("script", "")), str(row.get("environment", "")))
        moments = groups.setdefault(key, [])
        moment = _moment(row.get("bucket"))
        if moment is not None:
            moments.append(moment)
    size = BUCKET_SIZES.get(bucket or "", timedelta(0))
    links = []
    for (script, environment), moments in sorted(groups.items()):
        script_id = script_ids.get(script)
        if script_id is None:
            continue
        start = min(moments) if moments else since
        end = max(moments) + size if moments and size else None
        url = permalink(
            "runs",
            script=script_id,
            environment=environment or None,
            status=status,
            since=start.isoformat() if start else None,
            until=end.isoformat() if end else None,
        )
        links.append((f"{script} · {environment}", url))
    return links[:MAX_LINKS]


def links_markdown(links: list[tuple[str, str]], what: str) -> str:
    """``Runs behind the selection: [Login · staging](…) · …`` or a hint to select."""
    if not links:
        return f"_Select on the chart to open the runs behind {what}._"
    parts = " · ".join(f"[{html.escape(label)}]({url})" for label, url in links)
    return f"**Runs behind {what}:** {parts}"


def evidence_rows(run_ids: Iterable[str], traces: Mapping[uuid.UUID, str]) -> list[dict[str, Any]]:
    """An insight's evidence runs as rows of links: the run's page and, if any, its trace."""
    rows = []
    for number, raw in enumerate(run_ids, start=1):
        try:
            run_id = uuid.UUID(str(raw))
        except ValueError:
            continue
        trace = traces.get(run_id)
        rows.append(
            {
                "evidence": number,
                "run": f'<a href="{permalink("run", run=run_id)}">open run</a>',
                "trace": f'<a href="{trace_viewer_url(run_id, trace)}" target="_blank">trace</a>'
                if trace
                else "",
            }
        )
    return rows
