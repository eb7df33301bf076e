import marimo

__generated_with = "0.25.2"
app = marimo.App(width="full", app_title="Dashboard · scriptflow")

with app.setup:
    import asyncio
    import uuid
    from datetime import UTC, datetime, timedelta

    import altair as alt
    import marimo as mo
    import pandas as pd

    from app.demo.seeding_status import read_status
    from app.web.chart_data import rows_inside_spec
    from app.web.drilldown import links_markdown, runs_behind
    from app.web.notebook_context import (
        open_notebook,
        project_insights,
        project_scripts,
        stop_with,
    )
    from app.web.shell import header
    from app.web.tables import people_frame
    from scriptflow.errors import ScriptflowError
    from scriptflow.insights import queries
    from scriptflow.insights.models import AIInsight
    from scriptflow.insights.service import InsightFilters

    WINDOWS = {"Last 7 days": 7, "Last 30 days": 30, "Last 90 days": 90, "Everything": None}
    # Auto picks the bucket from the history's span, so one day of history still shows a trend.
    GRAINS = {"Auto": None, "Hour": "hour", "Day": "day", "Week": "week"}
    SEVERITY_ORDER = ["critical", "high", "medium", "low"]
    SEVERITY_COLORS = ["#7f1d1d", "#dc2626", "#f59e0b", "#60a5fa"]
    CLICK_TO_FILTER = "Click a bar to filter"


@app.function
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


@app.function
def in_files(frame: pd.DataFrame, files: list[str]) -> pd.DataFrame:
    """The rows of the picked files of the tree (all rows when none is picked), by file."""
    if "file" not in frame.columns:
        return frame
    shown = frame[frame["file"].isin(files)] if files else frame
    return shown.sort_values("file", kind="stable")


@app.function
def test_label(row: pd.Series) -> str:
    """A flaky test as its node id (which names its file) or, before trees, script / name."""
    name, file = str(row["test_name"]), str(row.get("file") or "")
    shown = name if file and name.startswith(file + "::") else f"{row['script']} / {name}"
    return f"{shown} ({row['environment']})"


@app.function
def selectable(chart: alt.Chart, *, interval: bool = False) -> mo.ui.altair_chart:
    """A chart whose selection filters the table beside it."""
    if interval:
        chart = chart.add_params(alt.selection_interval(encodings=["x"], name="brush"))
    with rows_inside_spec():
        if interval:
            return mo.ui.altair_chart(chart, chart_selection=False, legend_selection=False)
        return mo.ui.altair_chart(chart, chart_selection="point", legend_selection=False)


@app.function
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


@app.function
def picked(chart: mo.ui.altair_chart, everything: pd.DataFrame) -> pd.DataFrame:
    """The rows selected on the chart, or all of them when nothing is selected."""
    return chart.value if len(chart.value) else everything


@app.function
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


@app.function
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


@app.cell
async def _():
    ctx, me, projects = await open_notebook()
    header("dashboard", me.email)
    return ctx, me, projects


@app.cell
def _():
    mo.md("""
    # scriptflow · dashboard

    Read-only. Everything here comes from the run history of the projects you belong to.
    """)
    return


@app.cell
def _(ctx):
    # `scriptflow demo` seeds its history in the background on a first start: while it does,
    # the dashboard says how far it is (ticking, shown only then).
    seeding_tick = mo.ui.refresh(options=["3s"], default_interval="3s", label="")
    seeding_at_start = read_status(ctx.settings.data_dir) is not None
    return seeding_at_start, seeding_tick


@app.cell
def _(ctx, seeding_at_start, seeding_tick):
    seeding_tick.value
    mo.stop(not seeding_at_start)
    _status = read_status(ctx.settings.data_dir)
    if _status is None:
        _shown = mo.callout(
            mo.md("The demo history is complete: reload the page to see all of it."),
            kind="success",
        )
    else:
        _shown = mo.callout(
            mo.hstack(
                [
                    mo.md(
                        f"**{_status.headline()}.** The charts show the runs finished when the"
                        " page opened; reload to see more."
                    ),
                    seeding_tick,
                ],
                justify="space-between",
            ),
            kind="info",
        )
    _shown
    return


@app.cell
def _(projects):
    project_filter = mo.ui.multiselect(
        options={p.name: p.id for p in projects},
        value=[p.name for p in projects],
        label="Projects",
    )
    return (project_filter,)


@app.cell
def _():
    window = mo.ui.dropdown(options=WINDOWS, value="Last 30 days", label="Window")
    grain = mo.ui.dropdown(options=GRAINS, value="Auto", label="Per")
    return grain, window


@app.cell
def _(grain, project_filter, window):
    mo.hstack([project_filter, window, grain], justify="start", gap=2)
    return


@app.cell
async def _(ctx, grain, me, project_filter, window):
    _days = window.value
    _since = datetime.now(UTC) - timedelta(days=_days) if _days else None

    def _load() -> tuple[str, dict[str, pd.DataFrame]]:
        with ctx.warehouse_reader(list(project_filter.value)) as reader:
            _bucket = grain.value or queries.bucket_for_span(
                queries.history_span(reader, since=_since)
            )
            return _bucket, {
                "pass_rate": queries.pass_rate_over_time(reader, since=_since, bucket=_bucket),
                "durations": queries.duration_trends(reader, since=_since, bucket=_bucket),
                "flaky_tests": queries.flakiest_tests(reader, since=_since),
                "flaky_selectors": queries.flakiest_selectors(reader, since=_since),
                "clusters": queries.failure_clusters(reader, since=_since),
                "fixes": queries.fix_impact(reader),
            }

    # DuckDB blocks, so it runs in a thread, meanwhile the script titles and open insights
    # come from the database.
    _history = asyncio.ensure_future(asyncio.to_thread(_load))
    _titles: dict[str, str] = {}
    _paths: dict[str, str] = {}
    _open: list[AIInsight] = []
    try:
        async with ctx.session(write=False) as _session:
            for _project_id in project_filter.value:
                for _script in await project_scripts(_session, me.id, _project_id):
                    _titles[str(_script.id)] = _script.title
                    _paths[str(_script.id)] = _script.path
                _open += await project_insights(
                    _session, me.id, _project_id, InsightFilters(status="open")
                )
        history_bucket, _frames = await _history
        # Tests and selectors carry their file: a suite's flaky tests group by it.
        _by_file = ("flaky_tests", "flaky_selectors")
        frames = {
            k: labelled(v, _titles, _paths if k in _by_file else None) for k, v in _frames.items()
        }
    except ScriptflowError as _exc:
        stop_with(_exc.message)
    # The one "insights by type and severity" query, over the open insights just listed.
    frames["insights"] = queries.summarize_insights(_open)
    # Drill-downs name a script by its title on the charts; links need its id.
    script_ids = {title: uuid.UUID(script_id) for script_id, title in _titles.items()}
    since = _since
    return frames, history_bucket, script_ids, since


@app.cell
def _(frames, window):
    # Every tile names its window; open insights are whatever is open now.
    _in = window.selected_key.lower()
    _runs = int(frames["pass_rate"]["runs"].sum()) if len(frames["pass_rate"]) else 0
    _passed = int(frames["pass_rate"]["passed"].sum()) if _runs else 0
    _open = int(frames["insights"]["insights"].sum()) if len(frames["insights"]) else 0
    mo.hstack(
        [
            mo.stat(value=f"{_runs:,}", label="Finished runs", caption=_in),
            mo.stat(
                value=f"{_passed / _runs:.0%}" if _runs else "n/a", label="Pass rate", caption=_in
            ),
            mo.stat(value=str(len(frames["flaky_tests"])), label="Flaky tests", caption=_in),
            mo.stat(value=str(_open), label="Open insights", caption="now"),
        ],
        justify="start",
        gap=2,
    )
    return


@app.cell
def _(frames, window):
    _data = (
        frames["pass_rate"].assign(series=lambda f: f["script"] + " · " + f["environment"])
        if len(frames["pass_rate"])
        else frames["pass_rate"].assign(series=[])
    )
    if len(_data):
        # Lines at the same rate lie on top of each other: the legend gives each series its
        # overall rate and run count, so one hidden under another is still read.
        _totals = _data.groupby("series")[["passed", "runs"]].sum()
        _names = {
            name: f"{name} · {row.passed / row.runs:.0%} of {row.runs:,}"
            for name, row in _totals.iterrows()
        }
        _data = _data.assign(series=_data["series"].map(_names))
    pass_rate_chart = trend(
        _data,
        f"Pass rate per script and environment · {window.selected_key.lower()}",
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
    return (pass_rate_chart,)


@app.cell
def _(frames, pass_rate_chart):
    beside_table(
        pass_rate_chart,
        picked(pass_rate_chart, frames["pass_rate"])[
            ["bucket", "script", "environment", "runs", "pass_rate"]
        ],
        "Drag across the chart to pick a time range",
    )
    return


@app.cell
def _(history_bucket, pass_rate_chart, script_ids):
    # A drill-down: the runs behind the picked points, each with its page and trace.
    mo.md(
        links_markdown(
            runs_behind(
                pass_rate_chart.value.to_dict("records"), script_ids, bucket=history_bucket
            ),
            "the selection",
        )
    )
    return


@app.cell
def _(frames, window):
    _data = frames["durations"]
    _long = (
        _data.assign(series=_data["script"] + " · " + _data["environment"]).melt(
            id_vars=["bucket", "series", "runs"],
            value_vars=["p50_ms", "p95_ms"],
            var_name="quantile",
            value_name="ms",
        )
        if len(_data)
        else pd.DataFrame({"bucket": [], "series": [], "runs": [], "quantile": [], "ms": []})
    )
    duration_chart = trend(
        _long,
        f"Run duration p50 / p95 · {window.selected_key.lower()}",
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
    return (duration_chart,)


@app.cell
def _(duration_chart, frames):
    beside_table(
        duration_chart,
        picked(duration_chart, frames["durations"]),
        "Drag across the chart to pick a time range",
    )
    return


@app.cell
def _(duration_chart, history_bucket, script_ids):
    _picked = duration_chart.value
    _rows = (
        _picked.assign(
            script=_picked["series"].str.rsplit(" · ", n=1).str[0],
            environment=_picked["series"].str.rsplit(" · ", n=1).str[-1],
        ).to_dict("records")
        if len(_picked)
        else []
    )
    mo.md(links_markdown(runs_behind(_rows, script_ids, bucket=history_bucket), "the selection"))
    return


@app.cell
def _(frames):
    _files = sorted(
        {f for k in ("flaky_tests", "flaky_selectors") for f in frames[k].get("file", []) if f}
    )
    file_filter = mo.ui.multiselect(options=_files, label="Files of the tree")
    # Flaky tests and selectors, file by file (a suite's tests are keyed by node id).
    file_filter if _files else mo.md("")
    return (file_filter,)


@app.cell
def _(file_filter, frames, window):
    flaky_tests_shown = in_files(frames["flaky_tests"], list(file_filter.value))
    _data = flaky_tests_shown
    _data = (
        _data.assign(label=_data.apply(test_label, axis=1))
        if len(_data)
        else _data.assign(label=[])
    )
    flaky_tests_chart = bars(
        _data,
        f"Flakiest tests (flip rate) · {window.selected_key.lower()}",
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
    return flaky_tests_chart, flaky_tests_shown


@app.cell
def _(flaky_tests_chart, flaky_tests_shown):
    beside_table(flaky_tests_chart, picked(flaky_tests_chart, flaky_tests_shown), CLICK_TO_FILTER)
    return


@app.cell
def _(flaky_tests_chart, script_ids, since):
    mo.md(
        links_markdown(
            runs_behind(flaky_tests_chart.value.to_dict("records"), script_ids, since=since),
            "the picked tests",
        )
    )
    return


@app.cell
def _(file_filter, frames, window):
    flaky_selectors_shown = in_files(frames["flaky_selectors"], list(file_filter.value))
    flaky_selectors_chart = bars(
        flaky_selectors_shown,
        f"Flakiest selectors (failure rate) · {window.selected_key.lower()}",
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
    return flaky_selectors_chart, flaky_selectors_shown


@app.cell
def _(flaky_selectors_chart, flaky_selectors_shown):
    beside_table(
        flaky_selectors_chart,
        picked(flaky_selectors_chart, flaky_selectors_shown),
        CLICK_TO_FILTER,
    )
    return


@app.cell
def _(frames, window):
    _data = frames["clusters"]
    _data = (
        _data.assign(short=_data["signature"].str.slice(0, 70))
        if len(_data)
        else _data.assign(short=[])
    )
    clusters_chart = bars(
        _data,
        f"Failure clusters (by error signature) · {window.selected_key.lower()}",
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
    return (clusters_chart,)


@app.cell
def _(clusters_chart, frames):
    _rows = picked(clusters_chart, frames["clusters"])
    beside_table(
        clusters_chart,
        _rows[["signature", "occurrences", "scripts", "last_seen", "sample_error"]]
        if len(_rows)
        else _rows,
        CLICK_TO_FILTER,
    )
    return


@app.cell
def _(clusters_chart, script_ids):
    # A cluster's failed runs: each script and environment it was seen in, first to last.
    _titles = {str(v): k for k, v in script_ids.items()}
    _rows = [
        {"script": _titles.get(str(sid), ""), "environment": env, "bucket": moment}
        for cluster in clusters_chart.value.to_dict("records")
        for sid in cluster["script_ids"]
        for env in cluster["environments"]
        for moment in (cluster["first_seen"], cluster["last_seen"])
    ]
    mo.md(
        links_markdown(
            runs_behind(_rows, script_ids, bucket="minute", status="failed"),
            "the picked clusters",
        )
    )
    return


@app.cell
def _(frames):
    insights_chart = bars(
        frames["insights"],
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
    return (insights_chart,)


@app.cell
def _(frames, insights_chart):
    beside_table(insights_chart, picked(insights_chart, frames["insights"]), CLICK_TO_FILTER)
    return


@app.cell
def _(frames):
    _data = frames["fixes"]
    _long = (
        _data.assign(change=_data["script"] + " v" + _data["version"].astype(str))
        .melt(
            id_vars=["change", "script", "version"],
            value_vars=["pass_rate_before", "pass_rate_after"],
            var_name="side",
            value_name="pass_rate",
        )
        .assign(side=lambda f: f["side"].str.removeprefix("pass_rate_"))
        if len(_data)
        else pd.DataFrame({"change": [], "script": [], "version": [], "side": [], "pass_rate": []})
    )
    fixes_chart = bars(
        _long,
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
    return (fixes_chart,)


@app.cell
def _(fixes_chart, frames):
    _columns = [
        "script",
        "version",
        "accepted_at",
        "runs_before",
        "pass_rate_before",
        "runs_after",
        "pass_rate_after",
        "p95_before_ms",
        "p95_after_ms",
    ]
    _rows = frames["fixes"]
    if len(fixes_chart.value) and len(_rows):
        _rows = _rows[
            _rows["version"].isin(fixes_chart.value["version"])
            & _rows["script"].isin(fixes_chart.value["script"])
        ]
    beside_table(fixes_chart, _rows[_columns] if len(_rows) else _rows, CLICK_TO_FILTER)
    return


if __name__ == "__main__":
    app.run()
