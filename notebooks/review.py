import marimo

__generated_with = "0.25.2"
app = marimo.App(width="full", app_title="Review · scriptflow")

with app.setup:
    import contextlib

    import marimo as mo

    from app.web.notebook_context import (
        NO_SCRIPTS,
        linked_script_of,
        open_notebook,
        project_picker,
        project_scripts,
        stop_with,
    )
    from app.web.review_view import changeset_summary, comment_block, hunk_block
    from app.web.shell import header, permalink, pin, query_uuid
    from scriptflow.changesets.guardrails import classify_hunk
    from scriptflow.changesets.service import (
        accept_changeset,
        add_comment,
        generated_drafts_in_review,
        get_changeset,
        list_changesets,
        list_comments,
        reject_changeset,
    )
    from scriptflow.errors import InvalidChangesetState, ScriptflowError
    from scriptflow.projects.service import list_members
    from scriptflow.scripts.hunks import review_hunks

    STATUSES = {"Proposed": "proposed", "Accepted": "accepted", "Rejected": "rejected", "All": None}


@app.cell
async def _():
    ctx, me, projects = await open_notebook()
    linked_script = await linked_script_of(ctx, me)
    header("review", me.email)
    return ctx, linked_script, me, projects


@app.cell
def _():
    mo.md("""
    # 3 · Human validation

    Read the proposed change hunk by hunk, with the findings beside it, then accept all of it,
    only the hunks you tick, or reject it with a reason. Hunks flagged by a guardrail make
    the change set high risk: only a project owner may accept those, after acknowledging it.
    """)
    return


@app.cell
def _():
    # The last decision: (change set id, kind, message). Setting it reloads the lists, which
    # stay on the same script and change set (both are pinned in the URL).
    get_outcome, set_outcome = mo.state(None)
    # Bumped after a comment, so the comments (and an empty comment box) reload.
    get_noted, set_noted = mo.state(0)
    return get_noted, get_outcome, set_noted, set_outcome


@app.cell
def _(linked_script, projects):
    project = project_picker(projects, linked_script.project_id if linked_script else None)
    return (project,)


@app.cell
async def _(ctx, get_outcome, me, project):
    get_outcome()
    async with ctx.session(write=False) as _session:
        scripts = await project_scripts(_session, me.id, project.value)
        # Generated files are in no listing until accepted, but they are here to be reviewed.
        scripts += await generated_drafts_in_review(_session, me.id, project.value)
        awaiting = {
            s.id: len(
                (await list_changesets(_session, me.id, s.id, status="proposed", limit=50)).items
            )
            for s in scripts
        }
        members = {
            user.id: (member.role, user.email)
            for member, user in await list_members(_session, me.id, project.value)
        }
    if not scripts:
        stop_with(NO_SCRIPTS, kind="warn")
    return awaiting, members, scripts


@app.cell
def _(awaiting, scripts):
    # Opens on the pinned script, else the first one with something to review.
    _labels = {
        f"{s.title} ({f'v{s.version}' if s.version else 'new file'})"
        + (f" · {awaiting[s.id]} to review" if awaiting[s.id] else ""): s
        for s in scripts
    }
    _wanted = query_uuid("script") or next((s.id for s in scripts if awaiting[s.id]), None)
    _start = next((label for label, s in _labels.items() if s.id == _wanted), next(iter(_labels)))
    script = mo.ui.dropdown(options=_labels, value=_start, label="Script")
    status_filter = mo.ui.dropdown(options=STATUSES, value="Proposed", label="Status")
    return script, status_filter


@app.cell
def _(project, script, status_filter):
    mo.hstack([project, script, status_filter], justify="start", gap=2)
    return


@app.cell
async def _(ctx, get_outcome, me, script, status_filter):
    get_outcome()
    _pinned = query_uuid("changeset")
    async with ctx.session(write=False) as _session:
        changesets = list(
            (
                await list_changesets(
                    _session, me.id, script.value.id, status=status_filter.value, limit=200
                )
            ).items
        )
        # The change set in the URL stays on screen after a decision moves it out of the
        # filter: a decision never moves the reviewer to another change set.
        if _pinned is not None and all(c.id != _pinned for c in changesets):
            with contextlib.suppress(ScriptflowError):
                changesets.insert(0, await get_changeset(_session, me.id, script.value.id, _pinned))
    _filter = status_filter.value or "any"
    mo.stop(
        not changesets,
        mo.callout(mo.md(f"No change sets ({_filter}) for this script."), kind="info"),
    )
    return (changesets,)


@app.cell
def _(changesets):
    _labels = {
        f"{c.created_at:%Y-%m-%d %H:%M} · {c.provider} · {c.status} · risk {c.risk} · "
        f"confidence {c.confidence:.2f}": c
        for c in changesets
    }
    _pinned = query_uuid("changeset")
    _start = next((label for label, c in _labels.items() if c.id == _pinned), next(iter(_labels)))
    changeset_picker = mo.ui.dropdown(options=_labels, value=_start, label="Change set")
    layout = mo.ui.radio(
        options=["Unified", "Side by side"], value="Unified", inline=True, label="Diff"
    )
    mo.hstack([changeset_picker, layout], justify="start", gap=2)
    return changeset_picker, layout


@app.cell
def _(changeset_picker, script):
    changeset = changeset_picker.value
    pin(script=script.value.id, changeset=changeset.id)
    pieces = review_hunks(changeset.proposed_diff)
    reports = [classify_hunk(p.hunk, p.index) for p in pieces]
    # One box per hunk, all ticked: accepting them all is accepting the change set.
    picks = mo.ui.array(
        [
            mo.ui.checkbox(
                value=True, label=f"Take hunk {p.index}", disabled=changeset.status != "proposed"
            )
            for p in pieces
        ]
    )
    return changeset, picks, pieces, reports


@app.cell
async def _(changeset, ctx, get_noted, me, script):
    get_noted()
    async with ctx.session(write=False) as _session:
        comments = await list_comments(_session, me.id, script.value.id, changeset.id)
    return (comments,)


@app.cell
def _(changeset, comments, layout, members, picks, pieces, reports):
    _taken = changeset.accepted_hunks
    _blocks = []
    for _piece, _report, _box in zip(pieces, reports, picks, strict=True):
        _state = ""
        if changeset.status == "accepted":
            _state = " · taken" if _taken is None or _piece.index in _taken else " · left out"
        _blocks.append(
            hunk_block(
                _piece,
                _report,
                _box,
                comments,
                members,
                state=_state,
                side_by_side=layout.value == "Side by side",
            )
        )
    mo.vstack(_blocks or [mo.md("The diff is empty.")], gap=1)
    return


@app.cell
def _(changeset, members):
    changeset_summary(changeset, members)
    return


@app.cell
def _(changeset, comments, get_noted, members, pieces, script):
    get_noted()
    # One form: the text reaches the kernel with the click on "Add comment" (a text box sends
    # its own value on blur, which the click can overtake). It is made again for each change
    # set shown, and what it was shown with is returned beside it, like every action here.
    comment = (
        mo.md("{on}\n\n{text}")
        .batch(
            on=mo.ui.dropdown(
                options={
                    "The whole change set": None,
                    **{f"Hunk {p.index}": p.index for p in pieces},
                },
                value="The whole change set",
                label="Comment on",
            ),
            text=mo.ui.text_area(placeholder="What should the author know?", full_width=True),
        )
        .form(submit_button_label="Add comment", bordered=False, clear_on_submit=True)
    )
    comment_target = (changeset.id, script.value.id)
    mo.vstack(
        [
            mo.md("**Comments on the whole change set**")
            if any(c.hunk is None for c in comments)
            else mo.md(""),
            comment_block([c for c in comments if c.hunk is None], members),
            comment,
        ]
    )
    return comment, comment_target


@app.cell
async def _(comment, comment_target, ctx, me, set_noted, set_outcome):
    mo.stop(comment.value is None)
    _changeset_id, _script_id = comment_target
    try:
        async with ctx.session() as _session:
            await add_comment(
                _session,
                me.id,
                _script_id,
                _changeset_id,
                body=str(comment.value["text"]),
                hunk=comment.value["on"],
            )
    except ScriptflowError as _exc:
        set_outcome((_changeset_id, "danger", _exc.message))
        mo.stop(True)
    set_noted(lambda n: n + 1)
    return


@app.cell
def _(changeset, me, members, picks, pieces, reports, script):
    _chosen = [p.index for p, box in zip(pieces, picks.value, strict=True) if box]
    _risky = any(reports[i].risks for i in _chosen)
    _open = changeset.status == "proposed"
    _owner = members.get(me.id, ("", ""))[0] == "owner"
    acknowledge = mo.ui.checkbox(
        label="I am an owner and I accept the risk the guardrails flagged",
        disabled=not (_open and _risky and _owner),
    )
    # Each button carries what it was shown for: the change set, the hunks and the script
    # version on screen. A click can never act on anything else.
    _all = len(_chosen) == len(pieces)
    _shown = {"changeset": changeset.id, "version": script.value.version}
    accept = mo.ui.button(
        label="Accept" if _all else f"Accept {len(_chosen)} of {len(pieces)} hunks",
        kind="success",
        disabled=not _open or not _chosen,
        value=None,
        on_click=lambda _: {**_shown, "hunks": None if _all else _chosen},
    )
    # The reason reaches the kernel with the click on Reject, in one form (see the comment).
    reject = mo.ui.text(label="Reason for rejecting (required)", full_width=True).form(
        submit_button_label="Reject", bordered=False, submit_button_disabled=not _open
    )
    reject_shown = _shown
    mo.vstack(
        [
            acknowledge if _risky and _open else mo.md(""),
            mo.md(
                "_Only a project owner can accept the flagged hunks; untick them to accept "
                "the rest._"
            )
            if _risky and _open and not _owner
            else mo.md(""),
            accept if _open else mo.md(""),
            reject if _open else mo.md(""),
        ]
    )
    return accept, acknowledge, reject, reject_shown


@app.cell
async def _(accept, acknowledge, changeset, ctx, get_outcome, me, script, set_outcome):
    mo.stop(accept.value is None)
    _shown = accept.value
    try:
        async with ctx.session() as _session:
            _revision = await accept_changeset(
                _session,
                me.id,
                script.value.id,
                _shown["changeset"],
                acknowledge_risk=bool(acknowledge.value),
                hunks=_shown["hunks"],
                expected_version=_shown["version"],
            )
            _version = _revision.version
    except InvalidChangesetState as _exc:
        # A second click on a decision already made here changes nothing and says so quietly.
        _last = get_outcome()
        if not (_last and _last[0] == _shown["changeset"] and _last[1] == "success"):
            set_outcome((_shown["changeset"], "danger", _exc.message))
        mo.stop(True)
    except ScriptflowError as _exc:
        set_outcome((_shown["changeset"], "danger", _exc.message))
        mo.stop(True)
    _what = "the change set" if _shown["hunks"] is None else f"hunks {_shown['hunks']}"
    set_outcome(
        (
            _shown["changeset"],
            "success",
            f"Accepted {_what}: the script is now at version **{_version}**. "
            f"[Run it]({permalink('run', script=script.value.id)})",
        )
    )
    return


@app.cell
async def _(ctx, me, reject, reject_shown, script, set_outcome):
    mo.stop(reject.value is None)
    _shown = reject_shown
    try:
        async with ctx.session() as _session:
            await reject_changeset(
                _session,
                me.id,
                script.value.id,
                _shown["changeset"],
                reason=str(reject.value),
                expected_version=_shown["version"],
            )
        set_outcome((_shown["changeset"], "info", "Rejected; the reason is on record."))
    except ScriptflowError as _exc:
        set_outcome((_shown["changeset"], "danger", _exc.message))
    return


@app.cell
def _(changeset, get_outcome):
    _outcome = get_outcome()
    if _outcome is not None and _outcome[0] == changeset.id:
        mo.output.replace(mo.callout(mo.md(_outcome[2]), kind=_outcome[1]))
    return


if __name__ == "__main__":
    app.run()
