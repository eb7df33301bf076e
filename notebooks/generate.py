import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="Generate · scriptflow")

with app.setup:
    import ast

    import marimo as mo

    from app.web.diff_view import unified_html
    from app.web.notebook_context import (
        open_notebook,
        project_picker,
        project_scripts,
        script_picker,
        stop_with,
    )
    from app.web.shell import header, permalink, pin, query_uuid
    from scriptflow.changesets.service import get_changeset
    from scriptflow.enhance.rules import script_syntax_error
    from scriptflow.errors import ScriptflowError, ValidationFailed
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
    from scriptflow.scripts.hunks import review_hunks
    from scriptflow.scripts.service import create_script, get_script, update_script

    NEW_SCRIPT = "New script"
    STARTER = (
        "from playwright.sync_api import Page, expect\n\n\n"
        "def test_home_page(page: Page) -> None:\n"
        '    page.goto("/")\n'
        '    expect(page).to_have_title("Demo")\n'
    )


@app.function
def refuse_unsaveable(title: str, content: str, *, new: bool) -> None:
    """Raise what stops a save: a new script without a title, or content that is not Python."""
    if new and not title.strip():
        raise ValidationFailed("Give the script a title before creating it.")
    try:
        ast.parse(content)
    except SyntaxError as exc:
        raise script_syntax_error(exc) from exc


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
        refuse_unsaveable(_title, _content, new=chosen is None)
        async with ctx.session() as _session:
            if chosen is None:
                _script = await create_script(
                    _session,
                    me.id,
                    project_id=project.value,
                    title=_title.strip(),
                    content=_content,
                    max_bytes=ctx.settings.max_script_bytes,
                )
            else:
                # The version this editor was opened on: a save over someone else's is a 409.
                _script = await update_script(
                    _session,
                    me.id,
                    chosen.id,
                    title=_title.strip() or None,
                    content=_content,
                    expected_version=chosen.version,
                    max_bytes=ctx.settings.max_script_bytes,
                )
            _saved = (_script.id, _script.title, _script.version)
    except ScriptflowError as _exc:
        set_notice(("danger", _exc.message, chosen.id if chosen else None))
        mo.stop(True)
    _unchanged = chosen is not None and _saved[2] == chosen.version
    pin(script=_saved[0])
    set_notice(
        (
            "info" if _unchanged else "success",
            f"Nothing changed: **{_saved[1]}** stays at version {_saved[2]}."
            if _unchanged
            else f"Saved **{_saved[1]}** at version {_saved[2]}.",
            _saved[0],
        )
    )
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
    mo.ui.table(
        [
            {"path": f.path, "kind": f.kind, "version": f.version, "bytes": f.size_bytes}
            for f in tree
        ],
        label=f"{len(tree)} file(s)",
        selection=None,
        show_data_types=False,
    ) if tree else mo.md("_No files yet._")
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
    mo.callout(
        mo.md(
            f"Imported: {len(_summary.created)} created, {len(_summary.updated)} updated, "
            f"{len(_summary.unchanged)} unchanged, {len(_summary.skipped)} skipped"
            + "".join(f"\n- skipped `{s.path}`: {s.reason}" for s in _summary.skipped)
        ),
        kind="success",
    )
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
    environment = mo.ui.dropdown(
        options=[e.name for e in environments], value=environments[0].name, label="Environment"
    )
    environment
    return (environment,)


@app.cell
def _():
    page_path = mo.ui.text(value="/", label="Page path", placeholder="/signup")
    page_path
    return (page_path,)


@app.cell
def _():
    generator = mo.ui.dropdown(options=["rules", "openai"], value="rules", label="Provider")
    generator
    return (generator,)


@app.cell
def _():
    description = mo.ui.text_area(
        label="What the test does (openai)",
        placeholder="Sign up, then check the welcome banner",
        full_width=True,
    )
    description
    return (description,)


@app.cell
def _():
    target_path = mo.ui.text(label="Target path (optional)", placeholder="tests/test_signup.py")
    target_path
    return (target_path,)


@app.cell
def _():
    verify_runs = mo.ui.number(start=1, stop=5, value=3, label="Verification runs")
    verify_runs
    return (verify_runs,)


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
    mo.vstack(
        [
            mo.md(f"**{_outline.title}** — `{_outline.url}`"),
            mo.md(f"```yaml\n{_outline.outline}\n```"),
        ]
    )
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
    _verification = generated.verification or {}
    _runs = [
        {
            "run": f"[{run_id[:8]}]({permalink('runs', run=run_id)})",
            "duration": f"{ms / 1000:.1f} s",
        }
        for run_id, ms in zip(
            _verification.get("run_ids", []), _verification.get("durations_ms", []), strict=False
        )
    ]
    if generated.status == "proposed":
        _review = permalink("review", script=generated.script_id, changeset=generated.id)
        _headline = mo.callout(
            mo.md(
                f"Verified: **{_verification.get('passed')} of {_verification.get('runs')}** "
                f"runs passed. It waits in review as a new file at `{generated.target_path}`: "
                f"[send it to review]({_review})."
            ),
            kind="success",
        )
    else:
        _headline = mo.callout(
            mo.md(f"Not proposed ({generated.status}): {generated.failure_reason}"), kind="danger"
        )
    mo.vstack(
        [
            _headline,
            mo.ui.table(_runs, label="Verification runs", selection=None) if _runs else mo.md(""),
        ]
    )
    return


@app.cell
def _(generated):
    _provenance = [
        {
            "line": f["line_start"],
            "locator": f.get("locator") or "",
            "from node": f.get("node") or "",
            "candidates (rank: matches)": ", ".join(
                f"{c['rank']}: {c['matches']}" for c in f.get("candidates") or []
            ),
            "unique": {True: "yes", False: "no", None: ""}[f.get("unique")],
            "why": f["rationale"],
        }
        for f in generated.findings
    ]
    mo.vstack(
        [
            *[mo.Html(unified_html(h.shown)) for h in review_hunks(generated.proposed_diff)],
            mo.ui.table(_provenance, label="Provenance", selection=None, show_data_types=False),
        ]
    )
    return


if __name__ == "__main__":
    app.run()
