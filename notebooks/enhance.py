import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="Enhance · scriptflow")

with app.setup:
    import marimo as mo

    from app.web.changeset_text import confidence_rule, risk_reasons
    from app.web.diff_view import unified_html
    from app.web.notebook_context import (
        NO_SCRIPTS,
        linked_script_of,
        open_notebook,
        project_picker,
        project_scripts,
        script_picker,
        stop_with,
    )
    from app.web.shell import header, permalink, pin, query_uuid
    from app.web.tables import percent
    from scriptflow.enhance.service import (
        EnhanceRequest,
        enhance_script,
        providers_from_settings,
    )
    from scriptflow.errors import ScriptflowError
    from scriptflow.scripts.hunks import review_hunks
    from scriptflow.wiring import seen_locators

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
    linked_script = await linked_script_of(ctx, me)
    header("enhance", me.email)
    return ctx, linked_script, me, projects


@app.cell
def _(linked_script, projects):
    project = project_picker(projects, linked_script.project_id if linked_script else None)
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
    script = script_picker(scripts, query_uuid("script"))
    script
    return (script,)


@app.cell
def _(script):
    pin(script=script.value.id)
    return


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
        # No unit of work is held while the provider works (SQLite's write lock, a connection).
        proposal = await enhance_script(
            ctx.sessionmaker,
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
            seen_locators=seen_locators,
        )
    except ScriptflowError as _exc:
        stop_with(_exc.message)
    return (proposal,)


@app.cell
def _(proposal, prompt, script):
    _findings = [
        {
            "lines": str(f["line_start"])
            if f["line_end"] == f["line_start"]
            else f"{f['line_start']} to {f['line_end']}",
            "category": f["category"],
            "finding": f["rationale"],
            "confidence": percent(f["confidence"]),
            "changes the script": "yes" if f["changed"] else "no",
        }
        for f in proposal.findings
    ]
    if proposal.status == "no_changes":
        _why = (
            f"{len(_findings)} finding(s) below say why none of them changes the script."
            if _findings
            else "No rule found anything to change"
            + (f" for the prompt “{prompt.selected_key}”" if prompt.value else "")
            + "; another prompt or the openai provider may."
        )
        _headline = mo.callout(
            mo.md(f"Nothing to improve in version {proposal.base_version}. {_why}"), kind="info"
        )
    else:
        _review = permalink("review", script=script.value.id, changeset=proposal.id)
        _reasons = risk_reasons(proposal.hunks)
        _headline = mo.callout(
            mo.md(
                f"Proposed a change set: confidence **{proposal.confidence:.2f}** "
                f"({confidence_rule(proposal.confidence, proposal.risk, proposal.provider)}), "
                f"risk **{proposal.risk}**"
                + (" because it " + "; it ".join(_reasons) if _reasons else "")
                + f". [Review it]({_review})"
            ),
            kind="warn" if proposal.risk == "high" else "success",
        )
    _hunks = review_hunks(proposal.proposed_diff) if proposal.proposed_diff else []
    mo.vstack(
        [
            _headline,
            mo.ui.table(_findings, label="Findings", selection=None, show_data_types=False)
            if _findings
            else mo.md(""),
            *[mo.Html(unified_html(h.shown)) for h in _hunks],
        ]
    )
    return


if __name__ == "__main__":
    app.run()
