"""The generate notebook's pieces: the save, the project's files, a generated test's verdict.

Built in the notebook's kernel (marimo is imported here, so the server never imports this
module); the notebook keeps the cells, the state and the buttons.
"""

from __future__ import annotations

import ast
import uuid
from collections.abc import Sequence
from typing import Any, Literal

import marimo as mo

from app.web.diff_view import unified_html
from app.web.notebook_context import NotebookContext
from app.web.shell import permalink
from scriptflow.changesets.models import ScriptChangeSet
from scriptflow.enhance.rules import script_syntax_error
from scriptflow.errors import ValidationFailed
from scriptflow.scripts.files import ImportSummary
from scriptflow.scripts.hunks import review_hunks
from scriptflow.scripts.models import Script
from scriptflow.scripts.service import create_script, update_script

STARTER = (
    "from playwright.sync_api import Page, expect\n\n\n"
    "def test_home_page(page: Page) -> None:\n"
    '    page.goto("/")\n'
    '    expect(page).to_have_title("Demo")\n'
)
NoticeKind = Literal["success", "info", "danger"]
# (kind, text, the script it is about): shown under Save while that script is open.
Notice = tuple[NoticeKind, str, uuid.UUID | None]


def refuse_unsaveable(title: str, content: str, *, new: bool) -> None:
    """Raise what stops a save: a new script without a title, or content that is not Python."""
    if new and not title.strip():
        raise ValidationFailed("Give the script a title before creating it.")
    try:
        ast.parse(content)
    except SyntaxError as exc:
        raise script_syntax_error(exc) from exc


async def save_script(
    ctx: NotebookContext,
    user_id: uuid.UUID,
    project_id: uuid.UUID,
    chosen: Script | None,
    title: str,
    content: str,
) -> Notice:
    """Create the script or save a revision of ``chosen``; what to tell the user.

    A revision names the version the editor was opened on, so saving over someone else's
    save is refused (409). Raises what refuses the save (``ScriptflowError``).
    """
    refuse_unsaveable(title, content, new=chosen is None)
    async with ctx.session() as session:
        if chosen is None:
            script = await create_script(
                session,
                user_id,
                project_id=project_id,
                title=title.strip(),
                content=content,
                max_bytes=ctx.settings.max_script_bytes,
            )
        else:
            script = await update_script(
                session,
                user_id,
                chosen.id,
                title=title.strip() or None,
                content=content,
                expected_version=chosen.version,
                max_bytes=ctx.settings.max_script_bytes,
            )
        saved_id, saved_title, version = script.id, script.title, script.version
    if chosen is not None and version == chosen.version:
        return ("info", f"Nothing changed: **{saved_title}** stays at version {version}.", saved_id)
    return ("success", f"Saved **{saved_title}** at version {version}.", saved_id)


def tree_table(tree: Sequence[Any]) -> Any:
    """Every file of the project's tree, or a line saying there is none."""
    if not tree:
        return mo.md("_No files yet._")
    return mo.ui.table(
        [
            {"path": f.path, "kind": f.kind, "version": f.version, "bytes": f.size_bytes}
            for f in tree
        ],
        label=f"{len(tree)} file(s)",
        selection=None,
        show_data_types=False,
    )


def import_summary(summary: ImportSummary) -> Any:
    """What an archive's import did, with every skipped path and why."""
    return mo.callout(
        mo.md(
            f"Imported: {len(summary.created)} created, {len(summary.updated)} updated, "
            f"{len(summary.unchanged)} unchanged, {len(summary.skipped)} skipped"
            + "".join(f"\n- skipped `{s.path}`: {s.reason}" for s in summary.skipped)
        ),
        kind="success",
    )


def outline_view(title: str, url: str, outline: str) -> Any:
    """A live page's outline, as the generator sees it."""
    return mo.vstack([mo.md(f"**{title}** — `{url}`"), mo.md(f"```yaml\n{outline}\n```")])


def verification_view(generated: ScriptChangeSet) -> Any:
    """Whether the generated test passed its verification runs, each run linked."""
    verification = generated.verification or {}
    runs = [
        {
            "run": f"[{run_id[:8]}]({permalink('runs', run=run_id)})",
            "duration": f"{ms / 1000:.1f} s",
        }
        for run_id, ms in zip(
            verification.get("run_ids", []), verification.get("durations_ms", []), strict=False
        )
    ]
    if generated.status == "proposed":
        review = permalink("review", script=generated.script_id, changeset=generated.id)
        headline = mo.callout(
            mo.md(
                f"Verified: **{verification.get('passed')} of {verification.get('runs')}** "
                f"runs passed. It waits in review as a new file at `{generated.target_path}`: "
                f"[send it to review]({review})."
            ),
            kind="success",
        )
    else:
        headline = mo.callout(
            mo.md(f"Not proposed ({generated.status}): {generated.failure_reason}"), kind="danger"
        )
    return mo.vstack(
        [
            headline,
            mo.ui.table(runs, label="Verification runs", selection=None) if runs else mo.md(""),
        ]
    )


def provenance_view(generated: ScriptChangeSet) -> Any:
    """The generated code as hunks, and where each locator came from."""
    provenance = [
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
    return mo.vstack(
        [
            *[mo.Html(unified_html(h.shown)) for h in review_hunks(generated.proposed_diff)],
            mo.ui.table(provenance, label="Provenance", selection=None, show_data_types=False),
        ]
    )
