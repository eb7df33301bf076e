import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="Enhance · scriptflow")

with app.setup:
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
    from scriptflow.enhance.service import (
        EnhanceRequest,
        propose_changeset,
        providers_from_settings,
    )
    from scriptflow.errors import ScriptflowError

    PROMPTS = {
        "Everything (waits, selectors, assertions, URLs)": "",
        "Improve waits and selectors": "Improve waits and selectors",
        "Web-first assertions": "assertions",
        "Relative URLs": "urls",
    }


@app.cell
def _():
    mo.md("""
    # 2 · Enhance with AI

    Pick a script and a provider. `rules` is deterministic and offline; `openai` uses the
    configured OpenAI-compatible endpoint. A proposal becomes a change set a reviewer can
    accept or reject in the review notebook.
    """)
    return


@app.cell
async def _():
    ctx, me, projects = await open_notebook()
    return ctx, me, projects


@app.cell
def _(projects):
    project = project_picker(projects)
    project
    return (project,)


@app.cell
async def _(ctx, me, project):
    async with ctx.session(write=False) as _session:
        scripts = await project_scripts(_session, me.id, project.value)
    if not scripts:
        stop_with(NO_SCRIPTS, kind="warn")
    return (scripts,)


@app.cell
def _(scripts):
    script = script_picker(scripts)
    script
    return (script,)


@app.cell
def _(script):
    mo.accordion({"Current version": mo.md(f"```python\n{script.value.content}\n```")})
    return


@app.cell
def _():
    provider = mo.ui.dropdown(options=["rules", "openai"], value="rules", label="Provider")
    provider
    return (provider,)


@app.cell
def _():
    prompt = mo.ui.dropdown(options=PROMPTS, value="Improve waits and selectors", label="Prompt")
    prompt
    return (prompt,)


@app.cell
def _(ctx, provider):
    model = mo.ui.dropdown(
        options=ctx.settings.openai_models,
        value=ctx.settings.openai_models[0] if ctx.settings.openai_models else None,
        label="Model (openai)",
        disabled=provider.value != "openai",
    )
    model
    return (model,)


@app.cell
def _():
    propose = mo.ui.run_button(label="Propose changes")
    propose
    return (propose,)


@app.cell
async def _(ctx, me, model, prompt, propose, provider, script):
    mo.stop(not propose.value)
    try:
        async with ctx.session() as _session:
            proposal = await propose_changeset(
                _session,
                me.id,
                script.value.id,
                EnhanceRequest(
                    prompt=prompt.value or None,
                    provider=provider.value,
                    model=model.value if provider.value == "openai" else None,
                ),
                providers=providers_from_settings(ctx.settings),
                allowed_models=ctx.settings.openai_models,
                max_script_bytes=ctx.settings.max_script_bytes,
            )
    except ScriptflowError as _exc:
        stop_with(_exc.message)
    return (proposal,)


@app.cell
def _(proposal, script):
    _findings = pd.DataFrame(proposal.findings)
    if proposal.status == "no_changes":
        _headline = mo.callout(mo.md("Nothing to improve; the findings say why."), kind="info")
    else:
        _review = f"/notebooks/review/?script={script.value.id}&changeset={proposal.id}"
        _headline = mo.callout(
            mo.md(
                f"Proposed change set, confidence **{proposal.confidence:.2f}**, "
                f"risk **{proposal.risk}**. [Review it]({_review})"
            ),
            kind="warn" if proposal.risk == "high" else "success",
        )
    mo.vstack(
        [
            _headline,
            mo.ui.table(_findings, label="Findings", selection=None)
            if len(_findings)
            else mo.md(""),
            mo.md(f"```diff\n{proposal.proposed_diff}\n```")
            if proposal.proposed_diff
            else mo.md(""),
        ]
    )
    return


if __name__ == "__main__":
    app.run()
