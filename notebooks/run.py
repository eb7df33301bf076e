import marimo

__generated_with = "0.25.2"
app = marimo.App(width="full", app_title="Run · scriptflow")

with app.setup:
    import uuid
    from datetime import UTC, datetime

    import marimo as mo

    from app.web.notebook_context import (
        NO_SCRIPTS,
        open_notebook,
        project_picker,
        project_scripts,
        script_picker,
        stop_with,
    )
    from app.web.run_view import (
        TERMINAL,
        artifact_download,
        cancel_text,
        failure_class_form,
        live_progress_block,
        recent_runs_block,
        results_block,
        run_summary,
        selection_entries,
        triage_note_block,
        triage_saved_text,
    )
    from app.web.shell import header, pin, query_uuid
    from scriptflow.errors import ScriptflowError
    from scriptflow.projects.service import list_environments
    from scriptflow.runs.browsers import available_browsers
    from scriptflow.runs.downloads import artifact_bytes
    from scriptflow.runs.failure_class import FailureClass
    from scriptflow.runs.progress.service import live_view, run_progress
    from scriptflow.runs.service import (
        RunFilters,
        cancel_run,
        create_run,
        get_run,
        list_runs,
    )
    from scriptflow.runs.suites import create_suite_run
    from scriptflow.runs.triage import get_triage, set_run_class, set_test_class

    SCREENSHOT_MAX_BYTES = 10 * 1024 * 1024


@app.cell
async def _():
    ctx, me, projects = await open_notebook()
    # A permalink (?run=) opens that run, on its project and script.
    _linked = query_uuid("run")
    try:
        async with ctx.session(write=False) as _session:
            linked_run = (await get_run(_session, me.id, _linked)).run if _linked else None
    except ScriptflowError:
        linked_run = None
    header("run", me.email)
    return ctx, linked_run, me, projects


@app.cell
def _():
    mo.md("""
    # 4 · Finalize & run

    Run a file, a selection (paths, node ids, a `-k` expression) or the whole suite of the
    project's tree against one of its environments in a real browser, optionally split in
    shards. Every run sees the whole tree (conftest fixtures, page objects, data files) at one
    pinned snapshot. The run's page updates live and has its own address, so a reload or a
    shared link opens the same run; each test shows its outcome grouped by file, and a failure
    keeps its screenshot and a Playwright trace that opens in the browser.
    """)
    return


@app.cell
def _():
    # The run started from this page; setting it moves the page onto the new run.
    get_started, set_started = mo.state(None)
    # What the last cancel did, for the run it was about.
    get_cancelled, set_cancelled = mo.state(None)
    # What the last failure-class change did, for the run it was about; reloads the run.
    get_triaged, set_triaged = mo.state(None)
    return get_cancelled, get_started, get_triaged, set_cancelled, set_started, set_triaged


@app.cell
def _(linked_run, projects):
    project = project_picker(projects, linked_run.project_id if linked_run else None)
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
def _(linked_run, scripts):
    script = script_picker(scripts, linked_run.script_id if linked_run else query_uuid("script"))
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
def _():
    scope = mo.ui.radio(
        options=["This file", "A selection", "The whole suite"],
        value="This file",
        label="What to run",
        inline=True,
    )
    selection = mo.ui.text_area(
        placeholder="tests/\ntests/test_cart.py::test_total[chromium]",
        label="Paths or node ids (a selection)",
        rows=2,
    )
    keyword = mo.ui.text(placeholder="login and not slow", label="-k")
    shards = mo.ui.number(start=1, stop=16, value=1, label="Shards")
    return keyword, scope, selection, shards


@app.cell
def _(
    browser,
    environment,
    keyword,
    project,
    retries,
    scope,
    script,
    selection,
    shards,
    start,
):
    _suite = scope.value != "This file"
    mo.vstack(
        [
            mo.hstack([project, script], justify="start", gap=2),
            scope,
            mo.hstack([selection, keyword, shards], justify="start", gap=2)
            if _suite
            else mo.md(""),
            mo.hstack([environment, browser, retries, start], justify="start", gap=2),
        ]
    )
    return


@app.cell
async def _(
    browser,
    ctx,
    environment,
    keyword,
    me,
    project,
    retries,
    scope,
    script,
    selection,
    set_started,
    shards,
    start,
):
    mo.stop(not start.value)
    try:
        async with ctx.session() as _session:
            if scope.value == "This file":
                _run = await create_run(
                    _session,
                    me.id,
                    ctx.settings,
                    script_id=script.value.id,
                    environment=environment.value,
                    browser=browser.value,
                    retries=int(retries.value),
                )
            else:
                _run = await create_suite_run(
                    _session,
                    me.id,
                    ctx.settings,
                    project_id=project.value,
                    environment=environment.value,
                    browser=browser.value,
                    select=selection_entries(selection.value)
                    if scope.value == "A selection"
                    else None,
                    keyword=keyword.value or None if scope.value == "A selection" else None,
                    shards=int(shards.value),
                    retries=int(retries.value),
                )
            _started = _run.id
    except ScriptflowError as _exc:
        mo.output.replace(mo.callout(mo.md(_exc.message), kind="danger"))
        mo.stop(True)
    pin(run=_started, script=script.value.id)
    set_started(_started)
    return


@app.cell
async def _(ctx, get_started, linked_run, me, script):
    # The run this page shows: the one just started, else the linked one (if it is of the
    # chosen script), else the script's latest.
    get_started()
    async with ctx.session(write=False) as _session:
        recent_runs = (
            await list_runs(_session, me.id, RunFilters(script_id=script.value.id), limit=10)
        ).items
    _ids = [r.id for r in recent_runs]
    _linked = linked_run.id if linked_run and linked_run.script_id == script.value.id else None
    # A suite run started here or linked to is shown though it is no run of this file.
    _suite = linked_run.id if linked_run and linked_run.script_id is None else None
    _pinned = query_uuid("run")
    run_id = next(
        (rid for rid in (get_started(), _suite) if rid is not None),
        next(
            (rid for rid in (_pinned, _linked) if rid is not None and rid in _ids),
            _ids[0] if _ids else None,
        ),
    )
    mo.stop(run_id is None, mo.md("No runs of this script yet."))
    pin(run=run_id, script=script.value.id)
    return recent_runs, run_id


@app.cell
def _(run_id):
    # Ticks while the run is unfinished (it is shown only then); one element per run, so a
    # tick never recreates the buttons below.
    live = mo.ui.refresh(options=["1s", "3s"], default_interval="1s", label="Live")
    cancel = mo.ui.button(label="Cancel run", kind="danger", value=None, on_click=lambda _: run_id)
    return cancel, live


@app.cell
async def _(ctx, get_triaged, live, me, run_id):
    live.value
    get_triaged()
    try:
        async with ctx.session(write=False) as _session:
            detail = await get_run(_session, me.id, run_id)
    except ScriptflowError as _exc:
        stop_with(_exc.message)
    return (detail,)


@app.cell
def _(cancel, detail, get_cancelled, live):
    run_summary(detail, datetime.now(UTC), live=live, cancel=cancel, cancelled=get_cancelled())
    return


@app.cell
async def _(ctx, detail, me):
    # While the run goes on: its tests and steps as the worker publishes them (each tick of
    # the live refresh re-reads them); once it ends, the stored results below take over.
    mo.stop(detail.run.status in TERMINAL)
    async with ctx.session(write=False) as _session:
        _progress = await run_progress(_session, me.id, detail.run.id)
    # A sharded run's view is its shards' tests, each with its shard.
    live_progress_block(live_view(_progress), datetime.now(UTC))
    return


@app.cell
def _(detail):
    results_block(detail)
    return


@app.cell
async def _(ctx, detail, me):
    _items = []
    for _artifact in detail.artifacts:
        if _artifact.kind != "screenshot":
            _items.append(artifact_download(detail.run.id, _artifact))
            continue
        try:
            # From the deployment's artifact store (a directory or S3), as any API serves it.
            async with ctx.session(write=False) as _session:
                _data = await artifact_bytes(
                    _session,
                    me.id,
                    detail.run.id,
                    _artifact.name,
                    ctx.settings,
                    max_bytes=SCREENSHOT_MAX_BYTES,
                )
        except ScriptflowError:
            continue
        _items.append(mo.vstack([mo.md("**Failure screenshot**"), mo.image(_data)]))
    mo.vstack(_items) if _items else None
    return


@app.cell
def _(recent_runs, run_id):
    recent_runs_block(recent_runs, run_id, datetime.now(UTC))
    return


@app.cell
async def _(ctx, detail, get_triaged, me):
    # Behind a button (an accordion): a reviewer's class for a failed test or the run itself.
    # The form carries the run it was rendered for (triage_run), never the page's current run.
    triage_run = detail.run.id
    mo.stop(detail.run.status not in ("failed", "error"))
    async with ctx.session(write=False) as _session:
        _triage = await get_triage(_session, me.id, triage_run)
    _noted = triage_note_block(get_triaged(), triage_run)
    if not _triage.can_edit:
        mo.stop(True, _noted)
    triage_form = failure_class_form(_triage)
    mo.vstack([_noted, mo.accordion({"Change the failure class": triage_form})])
    return triage_form, triage_run


@app.cell
async def _(ctx, me, set_triaged, triage_form, triage_run):
    mo.stop(triage_form.value is None)
    _chosen = triage_form.value
    _class = None if _chosen["klass"] == "rules" else FailureClass(_chosen["klass"])
    try:
        async with ctx.session() as _session:
            if _chosen["target"] == "run":
                _view = await set_run_class(_session, me.id, triage_run, _class)
            else:
                _view = await set_test_class(
                    _session, me.id, triage_run, uuid.UUID(_chosen["target"]), _class
                )
    except ScriptflowError as _exc:
        set_triaged((triage_run, _exc.message, "danger"))
        mo.stop(True)
    set_triaged((triage_run, triage_saved_text(_view.failure_class), "success"))
    return


@app.cell
async def _(cancel, ctx, me, set_cancelled):
    # The button carries the id of the run it was shown with.
    mo.stop(cancel.value is None)
    try:
        async with ctx.session() as _session:
            _run = await cancel_run(_session, me.id, cancel.value)
            _outcome = (_run.id, _run.status)
    except ScriptflowError as _exc:
        set_cancelled((cancel.value, _exc.message))
        mo.stop(True)
    set_cancelled((_outcome[0], cancel_text(_outcome[1])))
    return


if __name__ == "__main__":
    app.run()
