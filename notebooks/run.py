import marimo

__generated_with = "0.25.2"
app = marimo.App(width="full", app_title="Run · scriptflow")

with app.setup:
    import asyncio

    import marimo as mo
    import pandas as pd

    from app.web.notebook_context import (
        NO_SCRIPTS,
        open_notebook,
        project_picker,
        project_scripts,
        script_picker,
        stop_with,
    )
    from scriptflow.errors import ScriptflowError
    from scriptflow.projects.service import list_environments
    from scriptflow.runs.browsers import available_browsers
    from scriptflow.runs.service import (
        RunFilters,
        artifact_file,
        cancel_run,
        create_run,
        get_run,
        list_runs,
    )

    TERMINAL = ("passed", "failed", "error", "cancelled")
    STATUS_KIND = {"passed": "success", "failed": "danger", "error": "danger", "cancelled": "warn"}


@app.cell
def _():
    mo.md("""
    # 4 · Finalize & run

    Run a script version against one of the project's environments in a real browser. The
    status updates live; each test and step shows its outcome, and a failure keeps its
    screenshot and a Playwright trace you can open with `playwright show-trace`.
    """)
    return


@app.cell
async def _():
    ctx, me, projects = await open_notebook()
    return ctx, me, projects


@app.cell
def _():
    get_started, set_started = mo.state(None)
    return get_started, set_started


@app.cell
def _(projects):
    project = project_picker(projects)
    return (project,)


@app.cell
async def _(ctx, me, project):
    async with ctx.session(write=False) as _session:
        scripts = await project_scripts(_session, me.id, project.value)
        environments = await list_environments(_session, me.id, project.value)
    if not scripts:
        stop_with(NO_SCRIPTS, kind="warn")
    mo.stop(
        not environments,
        mo.callout(mo.md("This project has no environments yet; an owner adds them."), kind="warn"),
    )
    return environments, scripts


@app.cell
def _(scripts):
    script = script_picker(scripts)
    return (script,)


@app.cell
def _(environments):
    environment = mo.ui.dropdown(
        options={f"{e.name} ({e.base_url})": e.name for e in environments},
        value=f"{environments[0].name} ({environments[0].base_url})",
        label="Environment",
    )
    return (environment,)


@app.cell
def _(ctx):
    _browsers = [b.name for b in available_browsers(ctx.settings)] or ["chromium"]
    browser = mo.ui.dropdown(options=_browsers, value=_browsers[0], label="Browser")
    retries = mo.ui.number(start=0, stop=5, value=0, label="Retries")
    start = mo.ui.run_button(label="Run")
    return browser, retries, start


@app.cell
def _(browser, environment, project, retries, script, start):
    mo.vstack(
        [
            mo.hstack([project, script], justify="start", gap=2),
            mo.hstack([environment, browser, retries, start], justify="start", gap=2),
        ]
    )
    return


@app.cell
async def _(browser, ctx, environment, me, retries, script, set_started, start):
    mo.stop(not start.value)
    try:
        async with ctx.session() as _session:
            _run = await create_run(
                _session,
                me.id,
                ctx.settings,
                script_id=script.value.id,
                environment=environment.value,
                browser=browser.value,
                retries=int(retries.value),
            )
        set_started(_run.id)
    except ScriptflowError as _exc:
        mo.output.replace(mo.callout(mo.md(_exc.message), kind="danger"))
    return


@app.cell
async def _(ctx, get_started, me, script):
    get_started()
    async with ctx.session(write=False) as _session:
        recent_runs = (
            await list_runs(_session, me.id, RunFilters(script_id=script.value.id), limit=50)
        ).items
    mo.stop(not recent_runs, mo.md("No runs of this script yet."))
    return (recent_runs,)


@app.cell
def _(get_started, recent_runs):
    _labels = {
        f"{r.created_at:%Y-%m-%d %H:%M:%S} · v{r.script_version} · {r.environment} · {r.status}": r.id
        for r in recent_runs
    }
    _start = next(
        (label for label, rid in _labels.items() if rid == get_started()), next(iter(_labels))
    )
    run_picker = mo.ui.dropdown(options=_labels, value=_start, label="Run")
    run_picker
    return (run_picker,)


@app.cell
def _():
    # Polls while a run is queued or running; a finished run stops asking.
    live = mo.ui.refresh(options=["1s", "3s"], default_interval="1s", label="Live")
    return (live,)


@app.cell
async def _(ctx, live, me, run_picker):
    live.value
    try:
        async with ctx.session(write=False) as _session:
            detail = await get_run(_session, me.id, run_picker.value)
    except ScriptflowError as _exc:
        stop_with(_exc.message)
    return (detail,)


@app.cell
def _(detail, live):
    _run = detail.run
    _kind = STATUS_KIND.get(_run.status, "info")
    _timing = ""
    if _run.started_at and _run.completed_at:
        _timing = f" in {(_run.completed_at - _run.started_at).total_seconds():.1f} s"
    mo.hstack(
        [
            mo.callout(
                mo.md(
                    f"**{_run.status}**{_timing} · version {_run.script_version} · "
                    f"{_run.environment} ({_run.base_url}) · {_run.browser} · "
                    f"attempt {_run.attempt}" + (f"\n\n`{_run.error}`" if _run.error else "")
                ),
                kind=_kind,
            ),
            live if _run.status not in TERMINAL else mo.md(""),
        ],
        justify="start",
    )
    return


@app.cell
def _(detail):
    _tests = pd.DataFrame(
        [
            {
                "test": t.name,
                "outcome": t.outcome,
                "duration_ms": t.duration_ms,
                "attempts": t.attempts,
                "error": t.error,
            }
            for t, _steps in detail.tests
        ]
    )
    _steps = pd.DataFrame(
        [
            {
                "test": t.name,
                "step": s.position + 1,
                "attempt": s.attempt,
                "action": s.action,
                "locator": s.locator,
                "duration_ms": s.duration_ms,
                "outcome": s.outcome,
                "error": s.error,
            }
            for t, steps in detail.tests
            for s in steps
        ]
    )
    mo.vstack(
        [
            mo.ui.table(_tests, label="Tests", selection=None) if len(_tests) else mo.md(""),
            mo.ui.table(_steps, label="Steps", selection=None, page_size=15)
            if len(_steps)
            else mo.md(""),
        ]
    )
    return


@app.cell
async def _(ctx, detail, me):
    _items = []
    for _artifact in detail.artifacts:
        try:
            async with ctx.session(write=False) as _session:
                _row, _path = await artifact_file(
                    _session, me.id, detail.run.id, _artifact.name, ctx.settings.data_dir
                )
        except ScriptflowError:
            continue
        _data = await asyncio.to_thread(_path.read_bytes)
        if _row.kind == "screenshot":
            _items.append(mo.vstack([mo.md("**Failure screenshot**"), mo.image(_data)]))
        else:
            _items.append(
                mo.download(
                    data=_data,
                    filename=_row.name,
                    mimetype=_row.content_type,
                    label=f"Download {_row.name} ({_row.kind})",
                )
            )
    mo.vstack(_items) if _items else None
    return


@app.cell
def _(detail):
    cancel = mo.ui.run_button(
        label="Cancel run", kind="danger", disabled=detail.run.status in TERMINAL
    )
    cancel
    return (cancel,)


@app.cell
async def _(cancel, ctx, detail, me):
    mo.stop(not cancel.value)
    try:
        async with ctx.session() as _session:
            _run = await cancel_run(_session, me.id, detail.run.id)
        _message = mo.callout(mo.md(f"Run {_run.status}."), kind="warn")
    except ScriptflowError as _exc:
        _message = mo.callout(mo.md(_exc.message), kind="danger")
    _message
    return


if __name__ == "__main__":
    app.run()
