import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="Generate · scriptflow")

with app.setup:
    import marimo as mo

    from app.web import generate_view as view
    from app.web.generate_view import STARTER
    from app.web.notebook_context import (
        open_notebook,
        project_picker,
        project_scripts,
        script_picker,
        stop_with,
    )
    from app.web.shell import header, pin, query_uuid
    from scriptflow.changesets.service import get_changeset
    from scriptflow.errors import ScriptflowError
    from scriptflow.generate.live import SandboxedExplorer
    from scriptflow.generate.service import (
        GenerateRequest,
        generate_test,
        preview_outline,
        verify_generated,
    )
    from scriptflow.generate.wiring import planner_from_settings
    from scriptflow.projects.service import list_environments
    from scriptflow.scripts.files import import_archive, list_tree, save_file
    from scriptflow.scripts.service import get_script

    NEW_SCRIPT = "New script"


@app.cell
async def _():
    ctx, me, projects = await open_notebook()
    try:
        async with ctx.session(write=False) as _session:
            _linked = query_uuid("script")
            linked_script = await get_script(_session, me.id, _linked) if _linked else None
    except ScriptflowError:
        linked_script = None
    header("generate", me.email)
    return ctx, linked_script, me, projects


@app.cell
def _():
    mo.md("""
    # 1 · Generate

    Write a Playwright test here, paste what `playwright codegen` printed, or edit a script
    you already have. Saving a change makes a new revision of the script. Further down:
    the project's files, and tests **generated from a live page** (or from a description),
    verified by real runs before they go to review.
    """)
    return


@app.cell
def _():
    # Bumped after a save, so the script list (and the editor) reload what was saved.
    get_saved, set_saved = mo.state(0)
    # The last save's outcome, shown under the button; setting it reloads nothing.
    get_notice, set_notice = mo.state(None)
    return get_notice, get_saved, set_notice, set_saved


@app.cell
def _(linked_script, projects):
    project = project_picker(projects, linked_script.project_id if linked_script else None)
    project
    return (project,)


@app.cell
async def _(ctx, get_saved, me, project):
    get_saved()
    async with ctx.session(write=False) as _session:
        scripts = await project_scripts(_session, me.id, project.value)
    return (scripts,)


@app.cell
def _(scripts):
    # Opens on the script in the address bar: the one just saved, or a shared link.
    script = script_picker(scripts, query_uuid("script"), new_option=NEW_SCRIPT)
    script
    return (script,)


@app.cell
def _(script):
    chosen = script.value
    pin(script=chosen.id if chosen else None)
    return (chosen,)


@app.cell
def _(chosen):
    # Title and code reach the kernel with the click on Save, in one message: an editor that
    # sends its own text (per keystroke, or on blur) can be overtaken by the click under load,
    # and the save would take the text from before the last keystrokes.
    script_form = (
        mo.md("{title}\n\n{code}")
        .batch(
            title=mo.ui.text(
                value=chosen.title if chosen else "",
                label="Title",
                placeholder="Login flow",
                full_width=True,
            ),
            code=mo.ui.code_editor(
                value=chosen.content if chosen else STARTER,
                language="python",
                min_height=320,
            ),
        )
        .form(
            submit_button_label=f"Save as version {chosen.version + 1}"
            if chosen
            else "Create script",
            bordered=False,
        )
    )
    script_form
    return (script_form,)


@app.cell
async def _(chosen, ctx, me, project, script_form, set_notice, set_saved):
    mo.stop(script_form.value is None)
    _title, _content = str(script_form.value["title"]), str(script_form.value["code"])
    try:
        _notice = await view.save_script(ctx, me.id, project.value, chosen, _title, _content)
    except ScriptflowError as _exc:
        set_notice(("danger", _exc.message, chosen.id if chosen else None))
        mo.stop(True)
    pin(script=_notice[2])
    set_notice(_notice)
    set_saved(lambda n: n + 1)
    return


@app.cell
def _(chosen, get_notice):
    _notice = get_notice()
    # A notice belongs to the script it was about; switching scripts hides it.
    if _notice is not None and _notice[2] == (chosen.id if chosen else None):
        mo.output.replace(mo.callout(mo.md(_notice[1]), kind=_notice[0]))
    return


@app.cell
def _():
    mo.md("""
    ## The project's files

    Every file of the tree: tests, page objects, `conftest.py`, data files. Open one in the
    editor above with the script picker; add a file at a path, or import a `.zip` / `.tar.gz`
    of a folder (importing the same archive twice changes nothing).
    """)
    return


@app.cell
async def _(ctx, get_saved, me, project):
    get_saved()
    async with ctx.session(write=False) as _session:
        tree = await list_tree(_session, me.id, project.value)
    view.tree_table(tree)
    return


@app.cell
def _():
    new_path = mo.ui.text(label="New file's path", placeholder="tests/test_checkout.py")
    new_path
    return (new_path,)


@app.cell
def _():
    add_file = mo.ui.run_button(label="Add file")
    add_file
    return (add_file,)


@app.cell
async def _(add_file, ctx, me, new_path, project, set_saved):
    mo.stop(not add_file.value)
    _starter = STARTER if new_path.value.strip().endswith(".py") else ""
    try:
        async with ctx.session() as _session:
            _added = await save_file(
                _session,
                me.id,
                project.value,
                new_path.value.strip(),
                _starter,
                max_bytes=ctx.settings.max_script_bytes,
            )
            _added_path = _added.script.path
    except ScriptflowError as _exc:
        stop_with(_exc.message)
    set_saved(lambda n: n + 1)
    mo.callout(mo.md(f"**{_added_path}** is {_added.change.value}."), kind="success")
    return


@app.cell
def _():
    archive = mo.ui.file(filetypes=[".zip", ".tar.gz", ".tgz"], label="Archive of a folder")
    archive
    return (archive,)


@app.cell
def _():
    import_button = mo.ui.run_button(label="Import the archive")
    import_button
    return (import_button,)


@app.cell
async def _(archive, ctx, import_button, me, project, set_saved):
    mo.stop(not import_button.value)
    if not archive.value:
        stop_with("Choose an archive first.", kind="warn")
    try:
        async with ctx.session() as _session:
            _summary = await import_archive(
                _session,
                me.id,
                project.value,
                archive.contents(),
                max_bytes=ctx.settings.max_script_bytes,
            )
    except ScriptflowError as _exc:
        stop_with(_exc.message)
    set_saved(lambda n: n + 1)
    view.import_summary(_summary)
    return


@app.cell
def _():
    mo.md("""
    ## Generate a test from a live page

    Pick an environment and a page. The page is opened in real Chromium **inside the run
    sandbox**; `rules` fills and submits its forms and asserts what it observes, `openai`
    follows your description as a plan of steps, run live step by step. Every locator is
    checked to match exactly one element. The module is then run several times: only a test
    that passes every run goes to review.
    """)
    return


@app.cell
async def _(ctx, me, project):
    async with ctx.session(write=False) as _session:
        environments = await list_environments(_session, me.id, project.value)
    if not environments:
        stop_with("Add an environment (a base URL) to the project first.", kind="warn")
    return (environments,)


@app.cell
def _(environments):
    # What the generator is asked for; every value is read by the buttons' cells below.
    environment = mo.ui.dropdown(
        options=[e.name for e in environments], value=environments[0].name, label="Environment"
    )
    page_path = mo.ui.text(value="/", label="Page path", placeholder="/signup")
    generator = mo.ui.dropdown(options=["rules", "openai"], value="rules", label="Provider")
    description = mo.ui.text_area(
        label="What the test does (openai)",
        placeholder="Sign up, then check the welcome banner",
        full_width=True,
    )
    target_path = mo.ui.text(label="Target path (optional)", placeholder="tests/test_signup.py")
    verify_runs = mo.ui.number(start=1, stop=5, value=3, label="Verification runs")
    mo.vstack([environment, page_path, generator, description, target_path, verify_runs])
    return description, environment, generator, page_path, target_path, verify_runs


@app.cell
def _():
    show_outline = mo.ui.run_button(label="Show the page's outline")
    show_outline
    return (show_outline,)


@app.cell
async def _(ctx, environment, me, page_path, project, show_outline):
    mo.stop(not show_outline.value)
    try:
        _outline = await preview_outline(
            ctx.sessionmaker,
            me.id,
            project.value,
            environment=environment.value,
            path=page_path.value.strip(),
            settings=ctx.settings,
            explorer=SandboxedExplorer(ctx.settings),
        )
    except ScriptflowError as _exc:
        stop_with(_exc.message)
    view.outline_view(_outline.title, _outline.url, _outline.outline)
    return


@app.cell
def _():
    generate_button = mo.ui.run_button(label="Generate and verify")
    generate_button
    return (generate_button,)


@app.cell
async def _(
    ctx,
    description,
    environment,
    generate_button,
    generator,
    me,
    page_path,
    project,
    target_path,
    verify_runs,
):
    mo.stop(not generate_button.value)
    try:
        # The browser and the model work outside any unit of work; then the runs verify it.
        _started = await generate_test(
            ctx.sessionmaker,
            me.id,
            project.value,
            GenerateRequest(
                environment=environment.value,
                path=page_path.value.strip(),
                description=description.value.strip() or None,
                provider=generator.value,
                target_path=target_path.value.strip() or None,
                verify_runs=int(verify_runs.value),
            ),
            settings=ctx.settings,
            explorer=SandboxedExplorer(ctx.settings),
            planner=planner_from_settings(ctx.settings),
        )
        await verify_generated(ctx.sessionmaker, _started.id, settings=ctx.settings)
        async with ctx.session(write=False) as _session:
            generated = await get_changeset(_session, me.id, _started.script_id, _started.id)
    except ScriptflowError as _exc:
        stop_with(_exc.message)
    return (generated,)


@app.cell
def _(generated):
    view.verification_view(generated)
    return


@app.cell
def _(generated):
    view.provenance_view(generated)
    return


if __name__ == "__main__":
    app.run()
