import marimo

__generated_with = "0.25.2"
app = marimo.App(width="full", app_title="Insights · scriptflow")

with app.setup:
    import contextlib
    import uuid
    from datetime import UTC, datetime

    import altair as alt
    import marimo as mo
    import pandas as pd

    from app.web.chart_data import rows_inside_spec
    from app.web.drilldown import evidence_rows
    from app.web.notebook_context import (
        open_notebook,
        project_insights,
        project_picker,
        project_scripts,
        stop_with,
    )
    from app.web.shell import header, permalink, pin, query_uuid
    from app.web.tables import timestamp
    from scriptflow.errors import ScriptflowError
    from scriptflow.insights import queries
    from scriptflow.insights.service import InsightFilters, get_insight, resolve_insight
    from scriptflow.runs.service import run_traces

    SEVERITY_ORDER = ["critical", "high", "medium", "low"]
    SEVERITY_COLORS = ["#7f1d1d", "#dc2626", "#f59e0b", "#60a5fa"]
    ALL = "All"


@app.function
def evidence_run_ids(details: object) -> list[str]:
    """Every run id an insight's evidence names (keys ``run_id`` / ``*run_ids``), in order."""
    found: list[str] = []

    def walk(value: object) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "run_id" and isinstance(item, str):
                    found.append(item)
                elif str(key).endswith("run_ids") and isinstance(item, list):
                    found.extend(str(run) for run in item)
                else:
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(details)
    return list(dict.fromkeys(found))


@app.cell
async def _():
    ctx, me, projects = await open_notebook()
    header("insights", me.email)
    return ctx, me, projects


@app.cell
def _():
    mo.md("""
    # 5 · AI insights

    Findings from the run history: flaky tests and selectors, slow steps, recurring failures,
    environment-specific failures, brittle code and fixes that made things worse. Each one
    carries its evidence: the runs, counts, rates, window, versions and locator behind it.
    """)
    return


@app.cell
def _():
    get_resolved, set_resolved = mo.state(0)
    return get_resolved, set_resolved


@app.cell
def _(projects):
    project = project_picker(projects)
    status_filter = mo.ui.dropdown(
        options={"Open": "open", "Resolved": "resolved", ALL: None}, value="Open", label="Status"
    )
    return project, status_filter


@app.cell
async def _(ctx, get_resolved, me, project, status_filter):
    get_resolved()
    try:
        async with ctx.session(write=False) as _session:
            _titles = {s.id: s.title for s in await project_scripts(_session, me.id, project.value)}
            _rows = await project_insights(
                _session, me.id, project.value, InsightFilters(status=status_filter.value)
            )
            # The pinned insight stays listed when resolving it moves it out of the filter: a
            # state change never moves the reader to another insight.
            _pinned = query_uuid("insight")
            if _pinned is not None and all(i.id != _pinned for i in _rows):
                with contextlib.suppress(ScriptflowError):
                    _extra = await get_insight(_session, me.id, _pinned)
                    if _extra.project_id == project.value:
                        _rows.insert(0, _extra)
    except ScriptflowError as _exc:
        stop_with(_exc.message)
    insights = {str(i.id): i for i in _rows}
    _now = datetime.now(UTC)
    table_rows = pd.DataFrame(
        [
            {
                "type": i.type,
                "severity": i.severity,
                "script": _titles.get(i.script_id, "") if i.script_id else "(whole project)",
                "summary": i.summary,
                "seen": i.occurrences,
                "status": "resolved itself" if i.resolved_reason else i.status,
                "last seen": timestamp(i.last_seen, _now),
                "id": str(i.id),
            }
            for i in _rows
        ],
        columns=["type", "severity", "script", "summary", "seen", "status", "last seen", "id"],
    )
    return insights, table_rows


@app.cell
def _(insights):
    # The one "insights by type and severity" query, over the insights listed here.
    _counts = queries.summarize_insights(insights.values())
    with rows_inside_spec():
        by_type = mo.ui.altair_chart(
            alt.Chart(_counts, title="Insights by type and severity")
            .mark_bar()
            .encode(
                x=alt.X("insights:Q", title="Insights"),
                y=alt.Y("type:N", title=None),
                color=alt.Color(
                    "severity:N", scale=alt.Scale(domain=SEVERITY_ORDER, range=SEVERITY_COLORS)
                ),
                tooltip=[
                    alt.Tooltip("type:N"),
                    alt.Tooltip("severity:N"),
                    alt.Tooltip("insights:Q"),
                ],
            )
            .properties(height=200),
            chart_selection="point",
            legend_selection=False,
        )
    return (by_type,)


@app.cell
def _(by_type, project, status_filter, table_rows):
    _rows = table_rows
    if len(by_type.value):
        _picked = set(zip(by_type.value["type"], by_type.value["severity"], strict=True))
        _rows = table_rows[
            [
                pair in _picked
                for pair in zip(table_rows["type"], table_rows["severity"], strict=True)
            ]
        ]
    # A permalink (?insight=) opens with that insight picked.
    _linked = str(query_uuid("insight") or "")
    _index = [n for n, value in enumerate(_rows["id"]) if value == _linked]
    insight_table = mo.ui.table(
        _rows,
        selection="single",
        initial_selection=_index[:1],
        label="Pick an insight to see its evidence (click a bar to filter)",
        page_size=10,
        show_data_types=False,
        hidden_columns=["id"],
    )
    mo.vstack(
        [
            mo.hstack([project, status_filter], justify="start", gap=2),
            mo.hstack([by_type, insight_table], widths=[2, 3]),
        ]
    )
    return (insight_table,)


@app.cell
def _(insight_table, insights):
    mo.stop(not len(insight_table.value), mo.md("_Pick an insight above to see its evidence._"))
    chosen = insights[insight_table.value.iloc[0]["id"]]
    pin(insight=chosen.id)
    return (chosen,)


@app.cell
async def _(chosen, ctx, me):
    # The runs behind the insight, each with its page and trace (the viewer opens it).
    _ids = evidence_run_ids(chosen.details)
    _uuids = []
    for _raw in _ids:
        with contextlib.suppress(ValueError):
            _uuids.append(uuid.UUID(_raw))
    async with ctx.session(write=False) as _session:
        _traces = await run_traces(_session, me.id, _uuids)
    _rows = evidence_rows(_ids, _traces)
    evidence_table = (
        mo.ui.table(
            [{k: mo.Html(v) if k != "evidence" else v for k, v in r.items()} for r in _rows],
            label="Runs behind it",
            selection=None,
            page_size=10,
            show_data_types=False,
        )
        if _rows
        else mo.md("")
    )
    return (evidence_table,)


@app.cell
def _(chosen, evidence_table):
    resolve = mo.ui.run_button(
        label="Mark resolved", disabled=chosen.status == "resolved", kind="success"
    )
    mo.vstack(
        [
            mo.md(
                f"### {chosen.summary}\n\n"
                f"**{chosen.type}** · severity **{chosen.severity}** · {chosen.status} · "
                f"seen {chosen.occurrences} time(s), first {timestamp(chosen.first_seen)}, "
                f"last {timestamp(chosen.last_seen)} · "
                f"[link to this insight]({permalink('insights', insight=chosen.id)})"
                + (
                    f" · [the script's runs]({permalink('run', script=chosen.script_id)})"
                    if chosen.script_id
                    else ""
                )
            ),
            mo.md(f"> {chosen.ai_summary}") if chosen.ai_summary else mo.md(""),
            mo.callout(
                mo.md(f"Resolved by itself: {chosen.resolved_reason}. New evidence reopens it."),
                kind="info",
            )
            if chosen.status == "resolved" and chosen.resolved_reason
            else mo.md(""),
            mo.md("**Evidence**"),
            evidence_table,
            mo.json(chosen.details),
            resolve,
        ]
    )
    return (resolve,)


@app.cell
async def _(chosen, ctx, me, resolve, set_resolved):
    mo.stop(not resolve.value)
    try:
        async with ctx.session() as _session:
            await resolve_insight(_session, me.id, chosen.id)
        set_resolved(lambda n: n + 1)
    except ScriptflowError as _exc:
        mo.output.replace(mo.callout(mo.md(_exc.message), kind="danger"))
    return


if __name__ == "__main__":
    app.run()
