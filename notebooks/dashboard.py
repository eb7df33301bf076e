import marimo

__generated_with = "0.25.2"
app = marimo.App(width="full", app_title="Dashboard · scriptflow")

with app.setup:
    import asyncio
    from datetime import UTC, datetime, timedelta

    import altair as alt
    import marimo as mo
    import pandas as pd

    from scriptflow.errors import ScriptflowError
    from scriptflow.insights import queries
    from scriptflow.insights.service import InsightFilters, list_project_insights
    from scriptflow.notebook_context import NotebookContext
    from scriptflow.projects.service import list_projects
    from scriptflow.scripts.service import list_scripts

    WINDOWS = {"Last 7 days": 7, "Last 30 days": 30, "Last 90 days": 90, "Everything": None}
    GRAINS = {"Hour": "hour", "Day": "day", "Week": "week"}
    SEVERITY_ORDER = ["critical", "high", "medium", "low"]
    SEVERITY_COLORS = ["#7f1d1d", "#dc2626", "#f59e0b", "#60a5fa"]


@app.function
def labelled(frame: pd.DataFrame, titles: dict[str, str]) -> pd.DataFrame:
    """Show script titles instead of ids."""
    if "script_id" not in frame.columns:
        return frame
    named = frame.assign(script=frame["script_id"].map(titles).fillna("(deleted script)"))
    return named.drop(columns=["script_id"])


@app.function
def selectable(chart: alt.Chart, *, interval: bool = False) -> mo.ui.altair_chart:
    """A chart whose selection filters the table beside it."""
    if interval:
        chart = chart.add_params(alt.selection_interval(encodings=["x"], name="brush"))
        return mo.ui.altair_chart(chart, chart_selection=False, legend_selection=False)
    return mo.ui.altair_chart(chart, chart_selection="point", legend_selection=False)


@app.cell
def _():
    mo.md("""
    # scriptflow · dashboard

    Read-only. Everything here comes from the run history of the projects you belong to.
    """)
    return


@app.cell
async def _():
    try:
        ctx = NotebookContext.from_marimo(mo.app_meta().mode, mo.app_meta().request)
        async with ctx.session(write=False) as _session:
            me = await ctx.user(_session)
            projects = (await list_projects(_session, me.id, limit=200)).items
    except ScriptflowError as _exc:
        mo.stop(True, mo.callout(mo.md(_exc.message), kind="danger"))
    mo.stop(
        not projects, mo.callout(mo.md("You are not a member of any project yet."), kind="warn")
    )
    return ctx, me, projects


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
    grain = mo.ui.dropdown(options=GRAINS, value="Day", label="Per")
    return grain, window


@app.cell
def _(grain, me, project_filter, window):
    mo.hstack(
        [project_filter, window, grain, mo.md(f"Signed in as **{me.email}**")],
        justify="start",
        gap=2,
    )
    return


@app.cell
async def _(ctx, grain, me, project_filter, window):
    _days = window.value
    _since = datetime.now(UTC) - timedelta(days=_days) if _days else None

    def _load() -> dict[str, pd.DataFrame]:
        with ctx.warehouse_reader(list(project_filter.value)) as reader:
            return {
                "pass_rate": queries.pass_rate_over_time(reader, since=_since, bucket=grain.value),
                "durations": queries.duration_trends(reader, since=_since, bucket=grain.value),
                "flaky_tests": queries.flakiest_tests(reader, since=_since),
                "flaky_selectors": queries.flakiest_selectors(reader, since=_since),
                "clusters": queries.failure_clusters(reader, since=_since),
                "fixes": queries.fix_impact(reader),
            }

    # DuckDB blocks, so it runs in a thread, meanwhile the script titles and open insights
    # come from the database.
    _history = asyncio.ensure_future(asyncio.to_thread(_load))
    _titles: dict[str, str] = {}
    _open: list[dict[str, object]] = []
    try:
        async with ctx.session(write=False) as _session:
            for _project_id in project_filter.value:
                _cursor = None
                while True:
                    _page = await list_scripts(
                        _session, me.id, project_id=_project_id, limit=200, cursor=_cursor
                    )
                    _titles.update({str(s.id): s.title for s in _page.items})
                    _cursor = _page.next_cursor
                    if _cursor is None:
                        break
                _cursor = None
                while True:
                    _found = await list_project_insights(
                        _session,
                        me.id,
                        _project_id,
                        InsightFilters(status="open"),
                        limit=200,
                        cursor=_cursor,
                    )
                    _open += [
                        {"type": i.type, "severity": i.severity, "occurrences": i.occurrences}
                        for i in _found.items
                    ]
                    _cursor = _found.next_cursor
                    if _cursor is None:
                        break
        frames = {k: labelled(v, _titles) for k, v in (await _history).items()}
    except ScriptflowError as _exc:
        mo.stop(True, mo.callout(mo.md(_exc.message), kind="danger"))
    frames["insights"] = (
        pd.DataFrame(_open, columns=["type", "severity", "occurrences"])
        .groupby(["type", "severity"], as_index=False)
        .agg(insights=("type", "size"), occurrences=("occurrences", "sum"))
    )
    return (frames,)


@app.cell
def _(frames):
    _runs = int(frames["pass_rate"]["runs"].sum()) if len(frames["pass_rate"]) else 0
    _passed = int(frames["pass_rate"]["passed"].sum()) if _runs else 0
    _open = int(frames["insights"]["insights"].sum()) if len(frames["insights"]) else 0
    mo.hstack(
        [
            mo.stat(value=f"{_runs:,}", label="Finished runs"),
            mo.stat(value=f"{_passed / _runs:.0%}" if _runs else "n/a", label="Pass rate"),
            mo.stat(value=str(len(frames["flaky_tests"])), label="Flaky tests"),
            mo.stat(value=str(_open), label="Open insights"),
        ],
        justify="start",
        gap=2,
    )
    return


@app.cell
def _(frames):
    _data = (
        frames["pass_rate"].assign(series=lambda f: f["script"] + " · " + f["environment"])
        if len(frames["pass_rate"])
        else frames["pass_rate"].assign(series=[])
    )
    pass_rate_chart = selectable(
        alt.Chart(_data, title="Pass rate over time, per script and environment")
        .mark_line(point=True)
        .encode(
            x=alt.X("bucket:T", title=None),
            y=alt.Y(
                "pass_rate:Q",
                title="Pass rate",
                axis=alt.Axis(format="%"),
                scale=alt.Scale(domain=[0, 1]),
            ),
            color=alt.Color("series:N", title="Script · environment"),
            tooltip=[
                alt.Tooltip("script:N"),
                alt.Tooltip("environment:N"),
                alt.Tooltip("bucket:T"),
                alt.Tooltip("runs:Q"),
                alt.Tooltip("pass_rate:Q", format=".0%"),
            ],
        )
        .properties(height=260),
        interval=True,
    )
    return (pass_rate_chart,)


@app.cell
def _(frames, pass_rate_chart):
    mo.hstack(
        [
            pass_rate_chart,
            mo.ui.table(
                (pass_rate_chart.value if len(pass_rate_chart.value) else frames["pass_rate"])[
                    ["bucket", "script", "environment", "runs", "pass_rate"]
                ],
                label="Drag across the chart to pick days",
                page_size=8,
                selection=None,
            ),
        ],
        widths=[3, 2],
    )
    return


@app.cell
def _(frames):
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
    duration_chart = selectable(
        alt.Chart(_long, title="Run duration p50 / p95")
        .mark_line()
        .encode(
            x=alt.X("bucket:T", title=None),
            y=alt.Y("ms:Q", title="Duration (ms)"),
            color=alt.Color("series:N", title="Script · environment"),
            strokeDash=alt.StrokeDash("quantile:N", title="Quantile"),
            tooltip=[
                alt.Tooltip("series:N"),
                alt.Tooltip("quantile:N"),
                alt.Tooltip("bucket:T"),
                alt.Tooltip("ms:Q", format=",.0f"),
                alt.Tooltip("runs:Q"),
            ],
        )
        .properties(height=240),
        interval=True,
    )
    return (duration_chart,)


@app.cell
def _(duration_chart, frames):
    mo.hstack(
        [
            duration_chart,
            mo.ui.table(
                duration_chart.value if len(duration_chart.value) else frames["durations"],
                label="Drag across the chart to pick days",
                page_size=8,
                selection=None,
            ),
        ],
        widths=[3, 2],
    )
    return


@app.cell
def _(frames):
    _data = frames["flaky_tests"]
    _data = (
        _data.assign(
            label=_data["script"] + " / " + _data["test_name"] + " (" + _data["environment"] + ")"
        )
        if len(_data)
        else _data.assign(label=[])
    )
    flaky_tests_chart = selectable(
        alt.Chart(_data, title="Flakiest tests (flip rate)")
        .mark_bar()
        .encode(
            x=alt.X("flip_rate:Q", title="Flip rate", axis=alt.Axis(format="%")),
            y=alt.Y("label:N", sort="-x", title=None),
            color=alt.Color("retry_passes:Q", title="Passed on retry"),
            tooltip=[
                alt.Tooltip("script:N"),
                alt.Tooltip("test_name:N"),
                alt.Tooltip("environment:N"),
                alt.Tooltip("runs:Q"),
                alt.Tooltip("flips:Q"),
                alt.Tooltip("failures:Q"),
                alt.Tooltip("retry_passes:Q"),
            ],
        )
        .properties(height=240)
    )
    return (flaky_tests_chart,)


@app.cell
def _(flaky_tests_chart, frames):
    mo.hstack(
        [
            flaky_tests_chart,
            mo.ui.table(
                flaky_tests_chart.value if len(flaky_tests_chart.value) else frames["flaky_tests"],
                label="Click a bar to filter",
                page_size=8,
                selection=None,
            ),
        ],
        widths=[3, 2],
    )
    return


@app.cell
def _(frames):
    flaky_selectors_chart = selectable(
        alt.Chart(frames["flaky_selectors"], title="Flakiest selectors (failure rate)")
        .mark_bar()
        .encode(
            x=alt.X("failure_rate:Q", title="Failure rate", axis=alt.Axis(format="%")),
            y=alt.Y("locator:N", sort="-x", title=None),
            color=alt.Color("environment:N", title="Environment"),
            tooltip=[
                alt.Tooltip("locator:N"),
                alt.Tooltip("action:N"),
                alt.Tooltip("environment:N"),
                alt.Tooltip("browser:N"),
                alt.Tooltip("executions:Q"),
                alt.Tooltip("failures:Q"),
            ],
        )
        .properties(height=240)
    )
    return (flaky_selectors_chart,)


@app.cell
def _(flaky_selectors_chart, frames):
    mo.hstack(
        [
            flaky_selectors_chart,
            mo.ui.table(
                flaky_selectors_chart.value
                if len(flaky_selectors_chart.value)
                else frames["flaky_selectors"],
                label="Click a bar to filter",
                page_size=8,
                selection=None,
            ),
        ],
        widths=[3, 2],
    )
    return


@app.cell
def _(frames):
    _data = frames["clusters"]
    _data = (
        _data.assign(short=_data["signature"].str.slice(0, 70))
        if len(_data)
        else _data.assign(short=[])
    )
    clusters_chart = selectable(
        alt.Chart(_data, title="Failure clusters (by error signature)")
        .mark_bar()
        .encode(
            x=alt.X("occurrences:Q", title="Failures"),
            y=alt.Y("short:N", sort="-x", title=None),
            color=alt.Color("scripts:Q", title="Scripts affected"),
            tooltip=[
                alt.Tooltip("signature:N"),
                alt.Tooltip("occurrences:Q"),
                alt.Tooltip("scripts:Q"),
                alt.Tooltip("last_seen:T"),
            ],
        )
        .properties(height=240)
    )
    return (clusters_chart,)


@app.cell
def _(clusters_chart, frames):
    _rows = clusters_chart.value if len(clusters_chart.value) else frames["clusters"]
    mo.hstack(
        [
            clusters_chart,
            mo.ui.table(
                _rows[["signature", "occurrences", "scripts", "last_seen", "sample_error"]]
                if len(_rows)
                else _rows,
                label="Click a bar to filter",
                page_size=8,
                selection=None,
            ),
        ],
        widths=[3, 2],
    )
    return


@app.cell
def _(frames):
    insights_chart = selectable(
        alt.Chart(frames["insights"], title="Open insights by type and severity")
        .mark_bar()
        .encode(
            x=alt.X("type:N", title=None),
            y=alt.Y("insights:Q", title="Insights"),
            color=alt.Color(
                "severity:N", scale=alt.Scale(domain=SEVERITY_ORDER, range=SEVERITY_COLORS)
            ),
            tooltip=[
                alt.Tooltip("type:N"),
                alt.Tooltip("severity:N"),
                alt.Tooltip("insights:Q"),
                alt.Tooltip("occurrences:Q"),
            ],
        )
        .properties(height=240)
    )
    return (insights_chart,)


@app.cell
def _(frames, insights_chart):
    mo.hstack(
        [
            insights_chart,
            mo.ui.table(
                insights_chart.value if len(insights_chart.value) else frames["insights"],
                label="Click a bar to filter",
                page_size=8,
                selection=None,
            ),
        ],
        widths=[3, 2],
    )
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
    fixes_chart = selectable(
        alt.Chart(_long, title="Did the fix work? Pass rate before and after accepted changes")
        .mark_bar()
        .encode(
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
                alt.Tooltip("change:N"),
                alt.Tooltip("side:N"),
                alt.Tooltip("pass_rate:Q", format=".0%"),
            ],
        )
        .properties(height=240)
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
    mo.hstack(
        [
            fixes_chart,
            mo.ui.table(
                _rows[_columns] if len(_rows) else _rows,
                label="Click a bar to filter",
                page_size=8,
                selection=None,
            ),
        ],
        widths=[3, 2],
    )
    return


if __name__ == "__main__":
    app.run()
