import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="Generate · scriptflow")

with app.setup:
    import ast

    import marimo as mo

    from app.web.notebook_context import (
        open_notebook,
        project_picker,
        project_scripts,
        script_picker,
    )
    from app.web.shell import header, pin, query_uuid
    from scriptflow.enhance.rules import script_syntax_error
    from scriptflow.errors import ScriptflowError, ValidationFailed
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
    you already have. Saving a change makes a new revision of the script.
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
    title = mo.ui.text(
        value=chosen.title if chosen else "",
        label="Title",
        placeholder="Login flow",
        full_width=True,
    )
    title
    return (title,)


@app.cell
def _(chosen):
    editor = mo.ui.code_editor(
        value=chosen.content if chosen else STARTER, language="python", min_height=320
    )
    editor
    return (editor,)


@app.cell
def _(chosen):
    save = mo.ui.run_button(
        label=f"Save as version {chosen.version + 1}" if chosen else "Create script"
    )
    save
    return (save,)


@app.cell
async def _(chosen, ctx, editor, me, project, save, set_notice, set_saved, title):
    mo.stop(not save.value)
    try:
        refuse_unsaveable(title.value, editor.value, new=chosen is None)
        async with ctx.session() as _session:
            if chosen is None:
                _script = await create_script(
                    _session,
                    me.id,
                    project_id=project.value,
                    title=title.value.strip(),
                    content=editor.value,
                    max_bytes=ctx.settings.max_script_bytes,
                )
            else:
                # The version this editor was opened on: a save over someone else's is a 409.
                _script = await update_script(
                    _session,
                    me.id,
                    chosen.id,
                    title=title.value.strip() or None,
                    content=editor.value,
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


if __name__ == "__main__":
    app.run()
