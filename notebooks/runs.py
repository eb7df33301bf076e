import marimo

__generated_with = "0.25.2"
app = marimo.App(width="full", app_title="Runs · scriptflow")

with app.setup:
    from datetime import UTC, datetime, timedelta
    from typing import Any

    import marimo as mo

    from app.web.notebook_context import open_notebook, project_scripts
    from app.web.shell import header, permalink, query_moment, query_text, query_uuid
    from app.web.tables import duration, first_line, timestamp
    from app.web.trace_viewer import trace_viewer_url
    from scriptflow.runs.failure_class import failure_class
    from scriptflow.runs.service import RUN_STATUSES, RunFilters, list_runs, run_traces

    ALL = "All"
    WINDOWS = {"Last 24 hours": 1, "Last 7 days": 7, "Last 30 days": 30, ALL: None}
    LINKED_RANGE = "The linked range"
    TRIGGERS = {
        ALL: None,
        "Manual": "manual",
        "Insight confirmation": "confirmation",
        "Demo": "demo",
    }
    PAGE = 200


@app.cell
async def _():
    ctx, me, projects = await open_notebook()
    async with ctx.session(write=False) as _session:
        titles = {
            s.id: s.title for p in projects for s in await project_scripts(_session, me.id, p.id)
        }
    project_names = {p.id: p.name for p in projects}
    header("runs", me.email)
    return ctx, me, project_names, projects, titles


@app.cell
def _():
    mo.md("""
    # Runs

    Every run of every script in your projects, newest first. Open one to see its tests,
    steps, screenshot and trace; filters narrow the list.
    """)
    return


@app.cell
def _(titles):
    # A drill-down link (from a dashboard chart or table) opens the list on what it names:
    # ?script=, ?environment=, ?status=, and the time range ?since= / ?until=.
    linked: dict[str, Any] = {
        "script": query_uuid("script"),
        "environment": query_text("environment", max_chars=100),
        "status": query_text("status", max_chars=16),
        "since": query_moment("since"),
        "until": query_moment("until"),
    }
    if linked["script"] not in titles:
        linked["script"] = None
    _range = linked["since"] is not None or linked["until"] is not None
    _windows = {LINKED_RANGE: None, **WINDOWS} if _range else WINDOWS
    linked_note = (
        mo.md(
            "Showing the runs a link named: "
            + ", ".join(
                part
                for part in (
                    f"script **{titles[linked['script']]}**" if linked["script"] else "",
                    f"from {timestamp(linked['since'])}" if linked["since"] else "",
                    f"until {timestamp(linked['until'])}" if linked["until"] else "",
                )
                if part
            )
            + f" · [all runs]({permalink('runs')})"
        )
        if linked["script"] or _range
        else mo.md("")
    )
    window_options = _windows
    return linked, linked_note, window_options


@app.cell
def _(linked, projects, window_options):
    project = mo.ui.dropdown(
        options={ALL: None, **{p.name: p.id for p in projects}}, value=ALL, label="Project"
    )
    status = mo.ui.dropdown(
        options={ALL: None, **{s: s for s in RUN_STATUSES}},
        value=linked["status"] if linked["status"] in RUN_STATUSES else ALL,
        label="Status",
    )
    window = mo.ui.dropdown(
        options=window_options,
        value=LINKED_RANGE if LINKED_RANGE in window_options else "Last 7 days",
        label="Created",
    )
    trigger = mo.ui.dropdown(options=TRIGGERS, value=ALL, label="Trigger")
    environment = mo.ui.text(
        value=linked["environment"] or "", label="Environment", placeholder="any"
    )
    mo.hstack([project, status, window, trigger, environment], justify="start", gap=2)
    return environment, project, status, trigger, window


@app.cell
async def _(ctx, environment, linked, me, project, status, window):
    _custom = window.selected_key == LINKED_RANGE
    if _custom:
        _since, _until = linked["since"], linked["until"]
    else:
        _since = (
            datetime.now(UTC) - timedelta(days=window.value) if window.value is not None else None
        )
        _until = None
    async with ctx.session(write=False) as _session:
        _page = await list_runs(
            _session,
            me.id,
            RunFilters(
                script_id=linked["script"],
                project_id=project.value,
                status=status.value,
                environment=environment.value.strip() or None,
                since=_since,
                until=_until,
            ),
            limit=PAGE,
        )
        runs = list(_page.items)
        traces = await run_traces(_session, me.id, [r.id for r in runs])
    more = _page.next_cursor is not None
    return more, runs, traces


@app.cell
def _(linked_note, more, project_names, runs, titles, traces, trigger):
    _now = datetime.now(UTC)
    _shown = [r for r in runs if trigger.value is None or r.trigger == trigger.value]
    _rows = [
        {
            "created": timestamp(r.created_at, _now),
            "status": r.status,
            "class": r.failure_class or failure_class(r.status, r.error) or "",
            "run": mo.Html(f'<a href="{permalink("run", run=r.id)}">open</a>'),
            "trace": mo.Html(
                f'<a href="{trace_viewer_url(r.id, traces[r.id])}" target="_blank">trace</a>'
                if r.id in traces
                else ""
            ),
            "script": titles.get(r.script_id, ""),
            "version": r.script_version,
            **({"project": project_names.get(r.project_id, "")} if len(project_names) > 1 else {}),
            "environment": r.environment,
            "browser": r.browser,
            "trigger": r.trigger,
            "took": duration((r.completed_at - r.started_at).total_seconds() * 1000)
            if r.started_at and r.completed_at
            else "",
            "error": first_line(r.error, max_chars=90),
        }
        for r in _shown
    ]
    mo.vstack(
        [
            linked_note,
            mo.ui.table(
                _rows,
                selection=None,
                page_size=25,
                show_data_types=False,
                label=f"{len(_rows)} runs"
                + (f" (the newest {PAGE}; narrow the filters)" if more else ""),
            )
            if _rows
            else mo.callout(mo.md("No runs match these filters."), kind="info"),
        ]
    )
    return


if __name__ == "__main__":
    app.run()
