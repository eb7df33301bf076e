"""Numbers, times and errors written for people, and tables built from them (pure, no marimo).

Notebook tables show these strings instead of raw values: ``67 %`` instead of
``0.6666666666666666``, ``3.2 s`` instead of ``3200``, ``2026-11-30 14:05 UTC · 2 h ago``
instead of microseconds, and a blank cell instead of ``None`` or ``NaN``.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any


def is_blank(value: Any) -> bool:
    """None, NaN and NaT (pandas' missing values) are shown as an empty cell."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return type(value).__name__ in ("NaTType", "NAType")


def percent(rate: float | None, *, digits: int = 0) -> str:
    """A 0 to 1 rate as a percentage: ``0.6667`` → ``67 %``; blank when unknown."""
    if rate is None or is_blank(rate):
        return ""
    return f"{rate * 100:.{digits}f} %"


def duration(ms: float | None) -> str:
    """Milliseconds as ``850 ms``, ``3.2 s``, ``2 min 05 s`` or ``1 h 02 min``."""
    if ms is None or is_blank(ms):
        return ""
    if ms < 1000:
        return f"{ms:.0f} ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def relative(moment: datetime, now: datetime) -> str:
    """How long ago: ``just now``, ``5 min ago``, ``3 h ago``, ``2 d ago`` (or ``in …``)."""
    seconds = (now - moment).total_seconds()
    ahead = seconds < 0
    seconds = abs(seconds)
    if seconds < 45:
        return "just now"
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            amount = round(seconds / size)
            return f"in {amount} {unit}" if ahead else f"{amount} {unit} ago"
    return "just now"


def timestamp(moment: datetime | None, now: datetime | None = None) -> str:
    """``2026-11-30 14:05 UTC · 2 h ago`` (to the minute, in UTC); blank when unknown."""
    if moment is None or is_blank(moment):
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    now = now or datetime.now(UTC)
    return f"{moment:%Y-%m-%d %H:%M} UTC · {relative(moment, now)}"


def cell(value: Any) -> Any:
    """A value ready for a table cell: blanks become ``""``, floats get two decimals."""
    if is_blank(value):
        return ""
    if isinstance(value, float):
        return round(value, 2)
    return value


def people_rows(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rows whose cells went through ``cell`` (for tables of plain records)."""
    return [{key: cell(value) for key, value in row.items()} for row in rows]


def link_html(text: str, href: str) -> str:
    """An anchor for a table cell or a paragraph; both parts escaped."""
    return f'<a href="{html.escape(href, quote=True)}">{html.escape(text)}</a>'


def error_block_html(text: str | None, *, max_chars: int = 4000) -> str:
    """An error message as a monospace block: never markdown, so call logs stay verbatim."""
    if not text:
        return ""
    shown = text if len(text) <= max_chars else text[:max_chars] + "\n… (truncated)"
    return (
        '<pre style="white-space:pre-wrap;font-family:ui-monospace,monospace;font-size:.85rem;'
        'background:#fdf2f2;border:1px solid #f5c2c2;border-radius:4px;padding:.5rem;margin:0">'
        f"{html.escape(shown)}</pre>"
    )


def first_line(text: str | None, *, max_chars: int = 160) -> str:
    """An error's first line, short enough for a table cell (the full text goes in a block)."""
    if not text:
        return ""
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= max_chars else line[: max_chars - 1] + "…"


def people_frame(frame: Any) -> Any:
    """A pandas frame with every cell as a person reads it (for tables beside charts).

    Columns named ``*rate*`` are rates from 0 to 1 shown as percentages, ``*_ms`` are durations,
    datetimes are minutes in UTC, other floats get two decimals, missing values are blank.
    """
    import pandas as pd

    out = {}
    for column in frame.columns:
        values = frame[column]
        name = str(column)
        if "rate" in name and pd.api.types.is_float_dtype(values):
            out[name] = [percent(v) for v in values]
        elif name.endswith("_ms") and pd.api.types.is_numeric_dtype(values):
            out[name.removesuffix("_ms")] = [duration(v) for v in values]
        elif pd.api.types.is_datetime64_any_dtype(values):
            out[name] = ["" if is_blank(v) else f"{v:%Y-%m-%d %H:%M}" for v in values]
        else:
            out[name] = [cell(v) for v in values]
    return pd.DataFrame(out, index=frame.index).astype(object)
