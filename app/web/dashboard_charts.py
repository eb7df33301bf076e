"""The dashboard's charts and the tables beside them (the notebook lays them out).

Each chart is a marimo Altair chart whose selection filters the table beside it; every title
names its window. Built in the notebook's kernel: marimo, Altair and pandas are imported here,
so the server never imports this module.
"""

from __future__ import annotations

import altair as alt
import marimo as mo
import pandas as pd

from app.web.chart_data import rows_inside_spec
from app.web.tables import people_frame

SEVERITY_ORDER = ["critical", "high", "medium", "low"]
SEVERITY_COLORS = ["#7f1d1d", "#dc2626", "#f59e0b", "#60a5fa"]
CLICK_TO_FILTER = "Click a bar to filter"


def labelled(
    frame: pd.DataFrame, titles: dict[str, str], paths: dict[str, str] | None = None
) -> pd.DataFrame:
    """Show script titles instead of ids (and, given ``paths``, each row's file of the tree)."""
    if "script_id" not in frame.columns:
        return frame
    named = frame.assign(script=frame["script_id"].map(titles).fillna("(deleted script)"))
    if paths is not None:
        named = named.assign(file=frame["script_id"].map(paths).fillna(""))
    return named.drop(columns=["script_id"])


def in_files(frame: pd.DataFrame, files: list[str]) -> pd.DataFrame:
    """The rows of the picked files of the tree (all rows when none is picked), by file."""
    if "file" not in frame.columns:
        return frame
    shown = frame[frame["file"].isin(files)] if files else frame
    return shown.sort_values("file", kind="stable")


def test_label(row: pd.Series) -> str:
    """A flaky test as its node id (which names its file) or, before trees, script / name."""
    name, file = str(row["test_name"]), str(row.get("file") or "")
    shown = name if file and name.startswith(file + "::") else f"{row['script']} / {name}"
    return f"{shown} ({row['environment']})"


def selectable(chart: alt.Chart, *, interval: bool = False) -> mo.ui.altair_chart:
    """A chart whose selection filters the table beside it."""
    if interval:
        chart = chart.add_params(alt.selection_interval(encodings=["x"], name="brush"))
    with rows_inside_spec():
        if interval:
            return mo.ui.altair_chart(chart, chart_selection=False, legend_selection=False)
        return mo.ui.altair_chart(chart, chart_selection="point", legend_selection=False)


def beside_table(chart: mo.ui.altair_chart, rows: pd.DataFrame, label: str) -> mo.Html:
    """The chart with a table of its rows beside it."""
    return mo.hstack(
        [
            chart,
            mo.ui.table(
                people_frame(rows),
                label=label,
                page_size=8,
                selection=None,
                show_data_types=False,
                show_column_summaries=False,
            ),
        ],
        widths=[3, 2],
    )


def picked(chart: mo.ui.altair_chart, everything: pd.DataFrame) -> pd.DataFrame:
    """The rows selected on the chart, or all of them when nothing is selected."""
    chosen = chart.value  # a frame of the chart's own rows (pandas in, pandas out)
    return chosen if isinstance(chosen, pd.DataFrame) and len(chosen) else everything


def trend(data: pd.DataFrame, title: str, y: alt.Y, **encodings: object) -> mo.ui.altair_chart:
    """A line per series over time buckets, with a point on every bucket.

    The points matter: a series with a single bucket (all history in one day) draws no line.
    """
    return selectable(
        alt.Chart(data, title=title)
        .mark_line(point=True)
        .encode(
            x=alt.X("bucket:T", title=None),
            y=y,
            color=alt.Color("series:N", title="Script · environment"),
            **encodings,
        )
        .properties(height=250),
        interval=True,
    )


def bars(
    data: pd.DataFrame, title: str, tooltip: list[str | alt.Tooltip], **encodings: object
) -> mo.ui.altair_chart:
    """A bar chart whose clicked bars filter the table beside it."""
    return selectable(
        alt.Chart(data, title=title)
        .mark_bar()
        .encode(
            tooltip=[t if isinstance(t, alt.Tooltip) else alt.Tooltip(t) for t in tooltip],
            **encodings,
        )
        .properties(height=240)
    )


def pass_rate_chart(frame: pd.DataFrame, window: str) -> mo.ui.altair_chart:
    """Pass rate per script and environment over time (``window``: the range's name)."""
    data = (
        frame.assign(series=lambda f: f["script"] + " · " + f["environment"])
        if len(frame)
        else frame.assign(series=[])
    )
    if len(data):
        # Lines at the same rate lie on top of each other: the legend gives each series its
        # overall rate and run count, so one hidden under another is still read.
        totals = data.groupby("series")[["passed", "runs"]].sum()
        names = {
            name: f"{name} · {row.passed / row.runs:.0%} of {row.runs:,}"
            for name, row in totals.iterrows()
        }
        data = data.assign(series=data["series"].map(names))
    return trend(
        data,
        f"Pass rate per script and environment · {window}",
        alt.Y(
            "pass_rate:Q",
            title="Pass rate",
            axis=alt.Axis(format="%"),
            scale=alt.Scale(domain=[0, 1]),
        ),
        # Dashes by environment and point shapes by script: two series on the same rates
        # still show both (a dashed line over a solid one), not just the one drawn last.
        strokeDash=alt.StrokeDash("environment:N", title="Environment"),
        shape=alt.Shape("script:N", title="Script"),
        tooltip=[
            alt.Tooltip("script:N"),
            alt.Tooltip("environment:N"),
            alt.Tooltip("bucket:T"),
            alt.Tooltip("runs:Q"),
            alt.Tooltip("pass_rate:Q", format=".0%"),
        ],
    )


def duration_chart(frame: pd.DataFrame, window: str) -> mo.ui.altair_chart:
    """Run duration p50 and p95 per script and environment over time."""
    rows = (
        frame.assign(series=frame["script"] + " · " + frame["environment"]).melt(
            id_vars=["bucket", "series", "runs"],
            value_vars=["p50_ms", "p95_ms"],
            var_name="quantile",
            value_name="ms",
        )
        if len(frame)
        else pd.DataFrame({"bucket": [], "series": [], "runs": [], "quantile": [], "ms": []})
    )
    return trend(
        rows,
        f"Run duration p50 / p95 · {window}",
        alt.Y("ms:Q", title="Duration (ms)"),
        strokeDash=alt.StrokeDash("quantile:N", title="Quantile"),
        shape=alt.Shape("quantile:N", title="Quantile"),
        tooltip=[
            alt.Tooltip("series:N"),
            alt.Tooltip("quantile:N"),
            alt.Tooltip("bucket:T"),
            alt.Tooltip("ms:Q", format=",.0f"),
            alt.Tooltip("runs:Q"),
        ],
    )


def flaky_tests_chart(frame: pd.DataFrame, window: str) -> mo.ui.altair_chart:
    """The flakiest tests by flip rate, coloured by how often a retry passed."""
    data = frame.assign(label=frame.apply(test_label, axis=1) if len(frame) else [])
    return bars(
        data,
        f"Flakiest tests (flip rate) · {window}",
        x=alt.X("flip_rate:Q", title="Flip rate", axis=alt.Axis(format="%")),
        y=alt.Y("label:N", sort="-x", title=None),
        color=alt.Color(
            "retry_passes:Q",
            title="Passed on retry",
            legend=alt.Legend(format="d", tickMinStep=1),
        ),
        tooltip=[
            "file:N",
            "test_name:N",
            "environment:N",
            "runs:Q",
            "flips:Q",
            "failures:Q",
            "retry_passes:Q",
        ],
    )


def flaky_selectors_chart(frame: pd.DataFrame, window: str) -> mo.ui.altair_chart:
    """The flakiest selectors by failure rate, per environment."""
    return bars(
        frame,
        f"Flakiest selectors (failure rate) · {window}",
        x=alt.X("failure_rate:Q", title="Failure rate", axis=alt.Axis(format="%")),
        y=alt.Y("locator:N", sort="-x", title=None),
        color=alt.Color("environment:N", title="Environment"),
        tooltip=[
            "locator:N",
            "file:N",
            "action:N",
            "environment:N",
            "browser:N",
            "executions:Q",
            "failures:Q",
        ],
    )


def clusters_chart(frame: pd.DataFrame, window: str) -> mo.ui.altair_chart:
    """Failure clusters by error signature (its first 70 characters on the axis)."""
    data = frame.assign(short=frame["signature"].str.slice(0, 70) if len(frame) else [])
    return bars(
        data,
        f"Failure clusters (by error signature) · {window}",
        x=alt.X("occurrences:Q", title="Failures"),
        y=alt.Y("short:N", sort="-x", title=None),
        color=alt.Color(
            "scripts:Q", title="Scripts affected", legend=alt.Legend(format="d", tickMinStep=1)
        ),
        tooltip=[
            "signature:N",
            "occurrences:Q",
            "scripts:Q",
            "last_seen:T",
        ],
    )


def insights_chart(frame: pd.DataFrame) -> mo.ui.altair_chart:
    """The open insights by type and severity."""
    return bars(
        frame,
        "Open insights by type and severity",
        x=alt.X("type:N", title=None),
        y=alt.Y("insights:Q", title="Insights"),
        color=alt.Color(
            "severity:N", scale=alt.Scale(domain=SEVERITY_ORDER, range=SEVERITY_COLORS)
        ),
        tooltip=[
            "type:N",
            "severity:N",
            "insights:Q",
            "occurrences:Q",
        ],
    )


def fixes_chart(frame: pd.DataFrame) -> mo.ui.altair_chart:
    """Pass rate before and after each accepted change, side by side."""
    rows = (
        frame.assign(change=frame["script"] + " v" + frame["version"].astype(str))
        .melt(
            id_vars=["change", "script", "version"],
            value_vars=["pass_rate_before", "pass_rate_after"],
            var_name="side",
            value_name="pass_rate",
        )
        .assign(side=lambda f: f["side"].str.removeprefix("pass_rate_"))
        if len(frame)
        else pd.DataFrame({"change": [], "script": [], "version": [], "side": [], "pass_rate": []})
    )
    return bars(
        rows,
        "Did the fix work? Pass rate before and after accepted changes",
        x=alt.X("change:N", title=None),
        xOffset=alt.XOffset("side:N", sort=["before", "after"]),
        y=alt.Y(
            "pass_rate:Q",
            title="Pass rate",
            axis=alt.Axis(format="%"),
            scale=alt.Scale(domain=[0, 1]),
        ),
        color=alt.Color(
            "side:N", sort=["before", "after"], scale=alt.Scale(range=["#9ca3af", "#16a34a"])
        ),
        tooltip=[
            "change:N",
            "side:N",
            alt.Tooltip("pass_rate:Q", format=".0%"),
        ],
    )
