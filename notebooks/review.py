import marimo

__generated_with = "0.25.2"
app = marimo.App(width="full", app_title="Review · scriptflow")

with app.setup:
    import uuid

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
    from scriptflow.changesets.service import (
        accept_changeset,
        list_changesets,
        reject_changeset,
    )
    from scriptflow.errors import ScriptflowError
    from scriptflow.scripts.diffing import parse_hunks
    from scriptflow.scripts.service import get_script

    RISK_LABELS = {
        "removes_assertion": "removes an assertion",
        "weakens_assertion": "weakens an assertion",
        "adds_hard_wait": "adds a hard wait",
        "skips_test": "skips a test",
        "deletes_steps": "deletes steps",
    }


@app.function
def query_uuid(name: str) -> uuid.UUID | None:
    """A UUID from the page's query string (links from the enhance notebook), if any."""
    raw = mo.query_params().get(name)
    try:
        return uuid.UUID(str(raw)) if raw else None
    except ValueError:
        return None


@app.cell
def _():
    mo.md("""
    # 3 · Human validation

    Read the proposed diff hunk by hunk, with the findings beside it, then accept it as the
    script's next revision or reject it. Hunks flagged by a guardrail make the change set high
    risk: only a project owner may accept those, and only after acknowledging the risk.
    """)
    return


@app.cell
async def _():
    ctx, me, projects = await open_notebook()
    _linked = query_uuid("script")
    try:
        async with ctx.session(write=False) as _session:
            linked_script = await get_script(_session, me.id, _linked) if _linked else None
    except ScriptflowError as _exc:
        stop_with(_exc.message)
    return ctx, linked_script, me, projects


@app.cell
def _():
    # The last decision's message; setting it also refreshes the lists above.
    get_outcome, set_outcome = mo.state(None)
    return get_outcome, set_outcome


@app.cell
def _(linked_script, projects):
    project = project_picker(projects, linked_script.project_id if linked_script else None)
    return (project,)


@app.cell
async def _(ctx, get_outcome, me, project):
    get_outcome()
    async with ctx.session(write=False) as _session:
        scripts = await project_scripts(_session, me.id, project.value)
        # Open on a script that has something to review.
        awaiting_review = [
            s.id
            for s in scripts
            if (await list_changesets(_session, me.id, s.id, status="proposed", limit=1)).items
        ]
    if not scripts:
        stop_with(NO_SCRIPTS, kind="warn")
    return awaiting_review, scripts


@app.cell
def _(awaiting_review, linked_script, scripts):
    _wanted = linked_script.id if linked_script else next(iter(awaiting_review), None)
    script = script_picker(scripts, _wanted)
    return (script,)


@app.cell
def _():
    status_filter = mo.ui.dropdown(
        options={"Proposed": "proposed", "Accepted": "accepted", "Rejected": "rejected"},
        value="Proposed",
        label="Status",
    )
    return (status_filter,)


@app.cell
def _(project, script, status_filter):
    mo.hstack([project, script, status_filter], justify="start", gap=2)
    return


@app.cell
async def _(ctx, get_outcome, me, script, status_filter):
    get_outcome()
    async with ctx.session(write=False) as _session:
        changesets = (
            await list_changesets(
                _session, me.id, script.value.id, status=status_filter.value, limit=200
            )
        ).items
    mo.stop(
        not changesets,
        mo.callout(mo.md(f"No {status_filter.value} change sets for this script."), kind="info"),
    )
    return (changesets,)


@app.cell
def _(changesets):
    _linked = query_uuid("changeset")
    _labels = {
        f"{c.created_at:%Y-%m-%d %H:%M} · {c.provider} · risk {c.risk} · "
        f"confidence {c.confidence:.2f}": c
        for c in changesets
    }
    _start = next((label for label, c in _labels.items() if c.id == _linked), next(iter(_labels)))
    changeset_picker = mo.ui.dropdown(options=_labels, value=_start, label="Change set")
    changeset_picker
    return (changeset_picker,)


@app.cell
def _(changeset_picker):
    changeset = changeset_picker.value
    _hunks = parse_hunks(changeset.proposed_diff)
    _reports = {report["index"]: report for report in changeset.hunks}
    _blocks = []
    for _index, _hunk in enumerate(_hunks, start=1):
        _report = _reports.get(_index, {})
        _risks = [RISK_LABELS.get(r, r) for r in _report.get("risks", [])]
        _categories = ", ".join(_report.get("categories", [])) or "other"
        _flag = (
            mo.callout(mo.md("**Guardrail:** " + "; ".join(_risks)), kind="danger")
            if _risks
            else mo.md("No guardrail flag")
        )
        _body = "".join(f"{line.tag}{line.text}" for line in _hunk.lines)
        _header = f"@@ -{_hunk.old_start},{_hunk.old_len} +{_hunk.new_start},{_hunk.new_len} @@"
        _blocks.append(
            mo.vstack(
                [
                    mo.md(f"**Hunk {_index}** · {_categories}"),
                    _flag,
                    mo.md(f"```diff\n{_header}\n{_body}\n```"),
                ]
            )
        )
    _findings = pd.DataFrame(changeset.findings)
    mo.hstack(
        [
            mo.vstack(_blocks or [mo.md("The diff is empty.")]),
            mo.vstack(
                [
                    mo.md(
                        f"**Status** {changeset.status} · **risk** {changeset.risk} · "
                        f"**confidence** {changeset.confidence:.2f} · "
                        f"based on version {changeset.base_version}"
                    ),
                    mo.ui.table(_findings, label="Findings", selection=None, page_size=10)
                    if len(_findings)
                    else mo.md("No findings recorded."),
                ]
            ),
        ],
        widths=[3, 2],
        align="start",
    )
    return (changeset,)


@app.cell
def _(changeset):
    acknowledge = mo.ui.checkbox(
        label="I am an owner and I accept the risk the guardrails flagged",
        disabled=changeset.risk != "high",
    )
    reason = mo.ui.text(label="Reason (for a rejection)", full_width=True)
    accept = mo.ui.run_button(
        label="Accept", kind="success", disabled=changeset.status != "proposed"
    )
    reject = mo.ui.run_button(
        label="Reject", kind="danger", disabled=changeset.status != "proposed"
    )
    return accept, acknowledge, reason, reject


@app.cell
def _(accept, acknowledge, changeset, reason, reject):
    mo.vstack(
        [
            acknowledge if changeset.risk == "high" else mo.md(""),
            reason,
            mo.hstack([accept, reject], justify="start"),
        ]
    )
    return


@app.cell
async def _(accept, acknowledge, changeset, ctx, me, set_outcome):
    mo.stop(not accept.value)
    try:
        async with ctx.session() as _session:
            _revision = await accept_changeset(
                _session,
                me.id,
                changeset.script_id,
                changeset.id,
                acknowledge_risk=bool(acknowledge.value),
            )
        set_outcome(
            mo.callout(
                mo.md(f"Accepted: the script is now at version **{_revision.version}**."),
                kind="success",
            )
        )
    except ScriptflowError as _exc:
        set_outcome(mo.callout(mo.md(_exc.message), kind="danger"))
    return


@app.cell
async def _(changeset, ctx, me, reason, reject, set_outcome):
    mo.stop(not reject.value)
    try:
        async with ctx.session() as _session:
            await reject_changeset(
                _session, me.id, changeset.script_id, changeset.id, reason=reason.value or None
            )
        set_outcome(mo.callout(mo.md("Rejected."), kind="info"))
    except ScriptflowError as _exc:
        set_outcome(mo.callout(mo.md(_exc.message), kind="danger"))
    return


@app.cell
def _(get_outcome):
    get_outcome()
    return


if __name__ == "__main__":
    app.run()
