import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="Generate · scriptflow")

with app.setup:
    import marimo as mo

    from app.web.notebook_context import (
        open_notebook,
        project_picker,
        project_scripts,
        script_picker,
    )
    from scriptflow.errors import ScriptflowError
    from scriptflow.scripts.service import create_script, update_script

    NEW_SCRIPT = "New script"
    STARTER = (
        "from playwright.sync_api import Page, expect\n\n\n"
        "def test_home_page(page: Page) -> None:\n"
        '    page.goto("/")\n'
        '    expect(page).to_have_title("Demo")\n'
    )


@app.cell
def _():
    mo.md("""
    # 1 · Generate

    Write a Playwright test here, paste what `playwright codegen` printed, or edit a script
    you already have. Saving a change makes a new revision of the script.
    """)
    return


@app.cell
async def _():
    ctx, me, projects = await open_notebook()
    return ctx, me, projects


@app.cell
def _():
    get_saved, set_saved = mo.state(0)
    return get_saved, set_saved


@app.cell
def _(projects):
    project = project_picker(projects)
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
    script = script_picker(scripts, new_option=NEW_SCRIPT)
    script
    return (script,)


@app.cell
def _(script):
    chosen = script.value
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
    save = mo.ui.run_button(label="Save as new revision" if chosen else "Create script")
    save
    return (save,)


@app.cell
async def _(chosen, ctx, editor, me, project, save, set_saved, title):
    mo.stop(not save.value)
    try:
        async with ctx.session() as _session:
            if chosen is None:
                _script = await create_script(
                    _session,
                    me.id,
                    project_id=project.value,
                    title=title.value.strip() or "Untitled script",
                    content=editor.value,
                    max_bytes=ctx.settings.max_script_bytes,
                )
            else:
                _script = await update_script(
                    _session,
                    me.id,
                    chosen.id,
                    title=title.value.strip() or None,
                    content=editor.value,
                    expected_version=chosen.version,
                    max_bytes=ctx.settings.max_script_bytes,
                )
        set_saved(lambda n: n + 1)
        _message = mo.callout(
            mo.md(f"Saved **{_script.title}** at version {_script.version}."), kind="success"
        )
    except ScriptflowError as _exc:
        _message = mo.callout(mo.md(_exc.message), kind="danger")
    _message
    return


if __name__ == "__main__":
    app.run()
