"""The review notebook's pieces of a change set: a hunk's block, the comments, the summary.

Built in the notebook's kernel (marimo is imported here, so the server never imports this
module); every text a user or the model wrote is escaped or shown unlinked, never markdown.
"""

from __future__ import annotations

import html
from typing import Any

import marimo as mo

from app.web.changeset_text import RISK_LABELS, confidence_rule, risk_reasons, unlinked
from app.web.diff_view import side_by_side_html, unified_html
from app.web.tables import error_block_html, percent, timestamp
from scriptflow.scripts.hunks import review_hunks

# A member's id → (role, email), as the notebook lists them.
Members = dict[Any, tuple[str, str]]


def comment_block(notes: list[Any], members: Members) -> mo.Html:
    """Comments as a quiet thread: who, when, what (the text is never markdown)."""
    if not notes:
        return mo.md("")
    rows = "".join(
        f'<div style="margin:.2rem 0"><strong>{html.escape(author_of(n, members))}</strong>'
        f' <span style="color:#6e7781">{html.escape(timestamp(n.created_at))}</span><br>'
        f'<span style="white-space:pre-wrap">{html.escape(n.body)}</span></div>'
        for n in notes
    )
    thread = "border-left:3px solid #d0d7de;padding:.2rem .6rem;margin:.3rem 0"
    return mo.Html(f'<div style="{thread}">{rows}</div>')


def author_of(note: Any, members: Members) -> str:
    return members.get(note.author_id, ("", "a former member"))[1]


def hunk_block(
    piece: Any,
    report: Any,
    box: Any,
    comments: list[Any],
    members: Members,
    *,
    state: str,
    side_by_side: bool,
) -> mo.Html:
    """One review hunk: its title and tick box, its guardrail reasons, its diff, its thread."""
    risks = [RISK_LABELS.get(r, r) for r in report.risks]
    categories = ", ".join(report.categories)
    render = side_by_side_html if side_by_side else unified_html
    return mo.vstack(
        [
            mo.hstack(
                [mo.md(f"**Hunk {piece.index}** · {categories}{state}"), box],
                justify="space-between",
            ),
            mo.callout(mo.md("**Guardrail:** " + "; ".join(risks)), kind="danger")
            if risks
            else mo.md(""),
            mo.Html(render(piece.shown)),
            comment_block([c for c in comments if c.hunk == piece.index], members),
        ],
        gap=0.25,
    )


def changeset_summary(changeset: Any, members: Members) -> mo.Html:
    """Status, risk and why, confidence and its rule, who proposed it, the decision trail
    (who, when, which hunks, why) and the findings."""
    rule = confidence_rule(changeset.confidence, changeset.risk, changeset.provider)
    proposer = unlinked(members.get(changeset.proposed_by, ("", "someone"))[1])
    lines = [
        f"**{changeset.status.capitalize()}** · risk **{changeset.risk}** · confidence "
        f"**{changeset.confidence:.2f}** ({rule}) · proposed by {proposer} with "
        f"`{changeset.provider}` on version {changeset.base_version}, "
        f"{timestamp(changeset.created_at)}"
    ]
    reasons = risk_reasons(changeset.hunks)
    if reasons:
        lines.append("**Why high risk:** " + "; ".join(reasons) + ".")
    if changeset.status != "proposed":
        who = unlinked(members.get(changeset.decided_by, ("", "a former member"))[1])
        trail = f"**Decision:** {changeset.status} by {who}, {timestamp(changeset.decided_at)}"
        taken = changeset.accepted_hunks
        if changeset.status == "accepted" and taken is not None:
            count = len(review_hunks(changeset.proposed_diff))
            trail += (
                f"; took all {count} hunks"
                if len(taken) == count
                else f"; took hunks {', '.join(map(str, taken))} of {count}"
            )
        if changeset.revision_id is not None:
            trail += " (a new revision of the script)"
        lines.append(trail)
    findings = [
        {
            "lines": f"{f['line_start']} to {f['line_end']}"
            if f["line_end"] != f["line_start"]
            else str(f["line_start"]),
            "category": f["category"],
            "finding": f["rationale"],
            "confidence": percent(f["confidence"]),
            "changes the script": "yes" if f["changed"] else "no",
        }
        for f in changeset.findings
    ]
    return mo.vstack(
        [
            mo.md("\n\n".join(lines)),
            mo.Html(error_block_html(changeset.decision_reason))
            if changeset.decision_reason
            else mo.md(""),
            mo.ui.table(
                findings, label="Findings", selection=None, page_size=10, show_data_types=False
            )
            if findings
            else mo.md("No findings recorded."),
        ]
    )
