import marimo

__generated_with = "0.25.2"
app = marimo.App(width="full", app_title="Dashboard · scriptflow")

with app.setup:
    import asyncio
    import uuid
    from datetime import UTC, datetime, timedelta

    import marimo as mo
    import pandas as pd

    from app.demo.seeding_status import read_status
    from app.web import dashboard_charts as charts
    from app.web.dashboard_charts import (
        CLICK_TO_FILTER,
        beside_table,
        in_files,
        labelled,
        picked,
    )
    from app.web.dashboard_history import load_history
    from app.web.drilldown import links_markdown, runs_behind
    from app.web.notebook_context import (
        open_notebook,
        project_insights,
        project_scripts,
        stop_with,
    )
    from app.web.shell import header
    from scriptflow.errors import ScriptflowError
    from scriptflow.insights import queries
    from scriptflow.insights.models import AIInsight
    from scriptflow.insights.service import InsightFilters

    WINDOWS = {"Last 7 days": 7, "Last 30 days": 30, "Last 90 days": 90, "Everything": None}
    # Auto picks the bucket from the history's span, so one day of history still shows a trend.
    GRAINS = {"Auto": None, "Hour": "hour", "Day": "day", "Week": "week"}


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
        return load_history(
            ctx.warehouse_reader, list(project_filter.value), since=_since, bucket=grain.value
        )

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
    pass_rate_chart = charts.pass_rate_chart(frames["pass_rate"], window.selected_key.lower())
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
    duration_chart = charts.duration_chart(frames["durations"], window.selected_key.lower())
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
    flaky_tests_chart = charts.flaky_tests_chart(flaky_tests_shown, window.selected_key.lower())
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
    flaky_selectors_chart = charts.flaky_selectors_chart(
        flaky_selectors_shown, window.selected_key.lower()
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
    clusters_chart = charts.clusters_chart(frames["clusters"], window.selected_key.lower())
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
    insights_chart = charts.insights_chart(frames["insights"])
    return (insights_chart,)


@app.cell
def _(frames, insights_chart):
    beside_table(insights_chart, picked(insights_chart, frames["insights"]), CLICK_TO_FILTER)
    return


@app.cell
def _(frames):
    fixes_chart = charts.fixes_chart(frames["fixes"])
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
