"""Insights about code that no longer exists close themselves.

When a script gets a new version (an edit, a save, a revert, an accepted change set), an open
insight whose subject — a selector, a test function — was in the previous version and is not
in the new one is resolved with the reason "code replaced in version N". Nobody resolved it
(``resolved_by`` stays empty); new evidence for the same finding reopens it as any resolved
insight (``scriptflow.insights.refresh``).

Only a subject that was there before and is gone now closes an insight: a selector built in a
page object never appears in the test file, and saving the test file must not close it.
Insights with no subject in the code (environment splits, failure clusters, slow steps with no
locator) are left to the analysis.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from scriptflow.db.base import utcnow
from scriptflow.db.engine import transaction
from scriptflow.events import HandlerContext
from scriptflow.insights.lake import AnalyticsUnavailable
from scriptflow.insights.models import AIInsight, InsightStatus
from scriptflow.insights.repository import InsightRepository
from scriptflow.insights.warehouse_sync import sync_script_state, warehouse_for
from scriptflow.scripts.events import ScriptRevised
from scriptflow.scripts.repository import ScriptRepository

log = logging.getLogger(__name__)

_QUOTED = re.compile(r"""(?P<q>["'])(?P<text>(?:\\.|(?!(?P=q)).)+)(?P=q)""")
_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")


@dataclass(frozen=True)
class Subject:
    """What an insight is about, as it is written in the code."""

    label: str  # for the reason: 'selector locator("#submit")'
    needles: Sequence[re.Pattern[str]]  # all must match for the subject to be in the code

    def appears_in(self, content: str) -> bool:
        return all(needle.search(content) for needle in self.needles)


def subject_of(insight_type: str, details: Mapping[str, Any]) -> Subject | None:
    """The code an insight is about, or None when it is about no code of its own (pure)."""
    if insight_type == "flaky-test":
        test = str(details.get("test") or "")
        # tests/test_cart.py::TestCart::test_total[chromium] → test_total
        name = test.rsplit("::", 1)[-1].split("[", 1)[0]
        if not _IDENTIFIER.fullmatch(name):
            return None
        return Subject(f"test {name}", [re.compile(rf"\bdef\s+{re.escape(name)}\s*\(")])
    if insight_type in ("flaky-selector", "slow-step"):
        locator = details.get("locator")
        if not isinstance(locator, str) or not locator:
            return None
        literals = [m.group("text") for m in _QUOTED.finditer(locator)] or [locator]
        # The selector's strings as any quote writes them: "#submit" or '#submit'.
        needles = [re.compile(rf"""["']{re.escape(text)}["']""") for text in literals]
        return Subject(f"selector {locator}", needles)
    return None


def superseded_reason(
    insight_type: str, details: Mapping[str, Any], previous: str, current: str, version: int
) -> str | None:
    """Why the insight no longer applies at ``version``, or None when it still may (pure)."""
    subject = subject_of(insight_type, details)
    if subject is None or not subject.appears_in(previous) or subject.appears_in(current):
        return None
    return f"code replaced in version {version}: the {subject.label} no longer appears"


async def resolve_superseded(session: AsyncSession, event: ScriptRevised) -> list[AIInsight]:
    """Resolve the script's open insights whose code the new version removed."""
    scripts = ScriptRepository(session)
    script = await scripts.get(event.script_id)
    previous = await scripts.content_at(event.script_id, event.version - 1)
    if script is None or previous is None:
        return []
    # The script may have moved on again meanwhile: judge by what it is now.
    version, current = script.version, script.content
    open_insights = await InsightRepository(session).open_of_script(event.script_id)
    resolved = []
    for insight in open_insights:
        reason = superseded_reason(insight.type, insight.details, previous, current, version)
        if reason is None:
            continue
        insight.status = InsightStatus.RESOLVED
        insight.resolved_at = utcnow()
        insight.resolved_by = None
        insight.resolved_reason = reason
        resolved.append(insight)
    await session.flush()
    return resolved


async def close_superseded(context: HandlerContext, event: ScriptRevised) -> None:
    """After a new version committed: close what it made moot, then mirror the insights."""
    async with transaction(context.sessionmaker) as session:
        resolved = await resolve_superseded(session, event)
    if not resolved:
        return
    log.info("script %s v%d: %d insights closed", event.script_id, event.version, len(resolved))
    try:
        async with transaction(context.sessionmaker, write=False) as session:
            await sync_script_state(session, warehouse_for(context.settings), event.script_id)
    except AnalyticsUnavailable:
        log.warning("analytics unreachable; script %s waits for the next catch-up", event.script_id)
