"""The run notebook's pieces of a run: its summary, live progress, results, history, triage.

Built in the notebook's kernel (marimo is imported here, so the server never imports this
module); the notebook keeps the cells, the state and the actions that start, cancel or
classify a run.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

import marimo as mo

from app.web.run_progress import live_headline, live_step_rows, live_test_rows
from app.web.shell import permalink
from app.web.tables import duration, error_block_html, first_line, timestamp
from app.web.trace_viewer import artifact_url, trace_viewer_url
from scriptflow.runs.failure_class import failure_class
from scriptflow.runs.models import RunArtifact, TestRun
from scriptflow.runs.progress.parse import LiveTest
from scriptflow.runs.service import RunDetail
from scriptflow.runs.triage import Triage

TERMINAL = ("passed", "failed", "error", "cancelled")
CalloutKind = Literal["neutral", "warn", "success", "info", "danger"]
STATUS_KIND: dict[str, CalloutKind] = {
    "passed": "success",
    "failed": "danger",
    "error": "danger",
    "cancelled": "warn",
}
CLASS_MEANING = {
    "system": "the environment or the browser failed, not the product",
    "automation": "the test code: a locator, a wait or the script itself",
    "product": "an assertion failed on a page that answered",
}
# What a reviewer may choose for a failure; "rules" gives it back to the rules' class.
TRIAGE_CLASSES = {
    "product: an assertion failed": "product",
    "automation: the test code": "automation",
    "system: environment or browser": "system",
    "back to the rules' class": "rules",
}
# (run id, what happened) of the last cancel; (run id, text, kind) of the last triage.
CancelNote = tuple[uuid.UUID, str]
TriageNote = tuple[uuid.UUID, str, CalloutKind]


def elapsed_text(run: TestRun, now: datetime) -> str:
    """``queued for 4.0 s``, ``running for 12.3 s`` or ``passed in 4.2 s``."""
    if run.status == "queued":
        return f"queued for {duration((now - run.created_at).total_seconds() * 1000)}"
    if run.status == "running" and run.started_at is not None:
        return f"running for {duration((now - run.started_at).total_seconds() * 1000)}"
    if run.started_at is not None and run.completed_at is not None:
        took = (run.completed_at - run.started_at).total_seconds() * 1000
        return f"{run.status} in {duration(took)}"
    return run.status


def selection_entries(text: str) -> list[str]:
    """Paths and node ids, one per line or comma-separated (the server validates them)."""
    return [part.strip() for line in text.splitlines() for part in line.split(",") if part.strip()]


def tests_by_file(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    """Per file of the tree: how many of its tests passed, failed, were flaky or skipped."""
    files: dict[str, dict[str, object]] = {}
    for row in rows:
        counts = files.setdefault(
            str(row["file"]),
            {"file": row["file"], "tests": 0, "passed": 0, "failed": 0, "flaky": 0, "other": 0},
        )
        counts["tests"] = int(str(counts["tests"])) + 1
        key = str(row["outcome"]) if row["outcome"] in ("passed", "failed", "flaky") else "other"
        counts[key] = int(str(counts[key])) + 1
    return sorted(files.values(), key=lambda c: str(c["file"]))


def run_summary(
    detail: RunDetail, now: datetime, *, live: Any, cancel: Any, cancelled: CancelNote | None
) -> mo.Html:
    """The run's headline callout (what, where, how long, its class, its trace and link), the
    live refresh and cancel button while it runs, and what the last cancel of it did."""
    run = detail.run
    trace = next(
        (a.name for a in detail.artifacts if a.kind == "trace" or a.name.endswith(".zip")), None
    )
    selected = (run.selection or {}).get("select") or []
    what = (
        f"version {run.script_version}"
        if run.script_id is not None
        else f"{run.kind} run of {', '.join(selected) or 'the whole suite'}"
        + (f" in {run.shard_count} shards" if run.shard_count > 1 else "")
    )
    parts = [
        f"**{elapsed_text(run, now)}** · {what} · "
        f"{run.environment} ({run.base_url}) · {run.browser} · attempt {run.attempt} · "
        f"{run.trigger} · created {timestamp(run.created_at, now)}"
    ]
    if trace is not None:
        parts.append(
            f'<a href="{trace_viewer_url(run.id, trace)}" target="_blank">Open the trace</a>'
        )
    parts.append(f'<a href="{permalink("run", run=run.id)}">Link to this run</a>')
    klass = run.failure_class or failure_class(run.status, run.error)
    if klass is not None:
        reviewed = run.failure_class_source == "reviewer" or any(
            t.failure_class_source == "reviewer" for t, _ in detail.tests
        )
        by = "set by a reviewer" if reviewed else "by the rules"
        parts.append(f"failure class **{klass}** ({CLASS_MEANING[klass]}; {by})")
        if klass == "system":
            parts.append("not counted in pass rates, flakiness or failure clusters")
    running = run.status not in TERMINAL
    return mo.vstack(
        [
            mo.callout(
                mo.vstack(
                    [
                        mo.md(" · ".join(parts)),
                        mo.Html(error_block_html(run.error)) if run.error else mo.md(""),
                    ]
                ),
                kind=STATUS_KIND.get(run.status, "info"),
            ),
            mo.hstack([live, cancel], justify="start") if running else mo.md(""),
            mo.callout(mo.md(cancelled[1]), kind="warn")
            if cancelled is not None and cancelled[0] == run.id
            else mo.md(""),
        ]
    )


def live_progress_block(tests: list[LiveTest], now: datetime) -> mo.Html:
    """An unfinished run's tests and steps so far, as the worker published them."""
    return mo.vstack(
        [
            mo.md(f"**Live** · {live_headline(tests)}"),
            mo.ui.table(
                live_test_rows(tests, now),
                label="Tests so far",
                selection=None,
                show_data_types=False,
            )
            if tests
            else mo.md(""),
            mo.ui.table(
                live_step_rows(tests, now),
                label="Steps so far (newest first)",
                selection=None,
                page_size=15,
                show_data_types=False,
            )
            if any(t.steps for t in tests)
            else mo.md(""),
        ]
    )


def results_block(detail: RunDetail) -> mo.Html:
    """The stored results: tests by file, each test, their errors and every step."""
    tests = sorted(
        (
            {
                "file": t.file or "",
                "test": (t.nodeid or t.name).split("::", 1)[-1],
                "outcome": t.outcome,
                "duration": duration(t.duration_ms),
                "attempts": t.attempts,
                "steps": len(steps),
                "class": t.failure_class or failure_class(t.outcome, t.error) or "",
                "class by": t.failure_class_source or "",
                "error": first_line(t.error),
            }
            for t, steps in detail.tests
        ),
        key=lambda row: str(row["file"]),
    )
    files = tests_by_file(tests)
    steps = [
        {
            "test": t.name,
            "step": s.position + 1,
            "attempt": s.attempt,
            "action": s.action,
            "locator": s.locator or "",
            "duration": duration(s.duration_ms),
            "outcome": s.outcome,
            "error": first_line(s.error),
        }
        for t, test_steps in detail.tests
        for s in test_steps
    ]
    errors = {
        f"Error of {t.name}": mo.Html(error_block_html(t.error)) for t, _ in detail.tests if t.error
    }
    return mo.vstack(
        [
            mo.ui.table(files, label="By file", selection=None, show_data_types=False)
            if len(files) > 1
            else mo.md(""),
            mo.ui.table(tests, label="Tests", selection=None, show_data_types=False)
            if tests
            else mo.md(""),
            mo.accordion(errors) if errors else mo.md(""),
            mo.ui.table(steps, label="Steps", selection=None, page_size=15, show_data_types=False)
            if steps
            else mo.md(""),
        ]
    )


def artifact_download(run_id: uuid.UUID, artifact: RunArtifact) -> mo.Html:
    return mo.md(
        f"[Download {artifact.name}]({artifact_url(run_id, artifact.name)})"
        f" ({artifact.kind}, {artifact.size_bytes:,} bytes)"
    )


def recent_runs_block(recent_runs: list[TestRun], shown: uuid.UUID, now: datetime) -> mo.Html:
    """The script's latest runs, each with a link to its page (but the one shown)."""
    rows = [
        {
            "created": timestamp(r.created_at, now),
            "status": r.status,
            "version": r.script_version,
            "environment": r.environment,
            "trigger": r.trigger,
            "run": mo.Html(
                "(shown)" if r.id == shown else f'<a href="{permalink("run", run=r.id)}">open</a>'
            ),
        }
        for r in recent_runs
    ]
    return mo.vstack(
        [
            mo.md(f"**Recent runs of this script** · [all runs]({permalink('runs')})"),
            mo.ui.table(rows, selection=None, show_data_types=False, page_size=10),
        ]
    )


def triage_note_block(note: TriageNote | None, run_id: uuid.UUID) -> mo.Html:
    """What the last failure-class change did, if it was about this run."""
    if note is not None and note[0] == run_id:
        return mo.callout(mo.md(note[1]), kind=note[2])
    return mo.md("")


def failure_class_form(triage: Triage) -> Any:
    """A form choosing a failed test (or the run itself) and the class a reviewer gives it."""
    targets = {"the run itself": "run"} | {
        f"{t.name} (now {t.failure_class or '-'})": str(t.id)
        for t in triage.tests
        if t.outcome in ("failed", "error")
    }
    return (
        mo.md("{target} {klass}")
        .batch(
            target=mo.ui.dropdown(targets, value=list(targets)[-1], label="Failure of"),
            klass=mo.ui.dropdown(TRIAGE_CLASSES, value=next(iter(TRIAGE_CLASSES)), label="is"),
        )
        .form(submit_button_label="Save the failure class", clear_on_submit=False)
    )


def triage_saved_text(run_class: str | None) -> str:
    return f"Saved: the run's failure class is now **{run_class or '-'}**" + (
        " (not counted in pass rates)." if run_class == "system" else "."
    )


def cancel_text(status: str) -> str:
    if status == "cancelled":
        return "Run cancelled."
    return "Cancellation requested: the worker stops the run within seconds."
