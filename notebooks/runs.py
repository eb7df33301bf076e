import marimo

__generated_with = "0.25.2"
app = marimo.App(width="full", app_title="Runs · scriptflow")

with app.setup:
    from datetime import UTC, datetime, timedelta

    import marimo as mo

    from app.web.notebook_context import open_notebook, project_scripts
    from app.web.shell import header, permalink
    from app.web.tables import duration, first_line, timestamp
    from scriptflow.runs.failure_class import failure_class
    from scriptflow.runs.service import RUN_STATUSES, RunFilters, list_runs

    ALL = "All"
    WINDOWS = {"Last 24 hours": 1, "Last 7 days": 7, "Last 30 days": 30, ALL: None}
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
def _(projects):
    project = mo.ui.dropdown(
        options={ALL: None, **{p.name: p.id for p in projects}}, value=ALL, label="Project"
    )
    status = mo.ui.dropdown(
        options={ALL: None, **{s: s for s in RUN_STATUSES}}, value=ALL, label="Status"
    )
    window = mo.ui.dropdown(options=WINDOWS, value="Last 7 days", label="Created")
    trigger = mo.ui.dropdown(options=TRIGGERS, value=ALL, label="Trigger")
    environment = mo.ui.text(label="Environment", placeholder="any")
    mo.hstack([project, status, window, trigger, environment], justify="start", gap=2)
    return environment, project, status, trigger, window


@app.cell
async def _(ctx, environment, me, project, status, window):
    _since = datetime.now(UTC) - timedelta(days=window.value) if window.value is not None else None
    async with ctx.session(write=False) as _session:
        _page = await list_runs(
            _session,
            me.id,
            RunFilters(
                project_id=project.value,
                status=status.value,
                environment=environment.value.strip() or None,
                since=_since,
            ),
            limit=PAGE,
        )
    runs = list(_page.items)
    more = _page.next_cursor is not None
    return more, runs


@app.cell
def _(more, project_names, runs, titles, trigger):
    _now = datetime.now(UTC)
    _shown = [r for r in runs if trigger.value is None or r.trigger == trigger.value]
    _rows = [
        {
            "created": timestamp(r.created_at, _now),
            "status": r.status,
            "class": r.failure_class or failure_class(r.status, r.error) or "",
            "run": mo.Html(f'<a href="{permalink("run", run=r.id)}">open</a>'),
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
