"""Open the live page only inside the run sandbox: a test run whose one test is the explorer.

The explorer (`scriptflow.generate.explorer`) runs as a pytest-playwright test through the
same executor as every run, so the page gets the browser, isolation, egress policy and limits
a run gets. What it saw comes back as a JSON artifact, read here with a size cap and handed
on as untrusted data.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from scriptflow.config import Settings
from scriptflow.errors import ScriptflowError
from scriptflow.generate.report_artifact import ARTIFACT_STEM, ARTIFACT_SUFFIX
from scriptflow.runs.browsers import resolve_browser
from scriptflow.runs.executor import Executor, RunRequest, SubprocessExecutor
from scriptflow.runs.isolation import choose_isolation

MAX_REPORT_BYTES = 4 * 1024 * 1024
EXPLORE_TIMEOUT_S = 120


class ExplorationFailed(ScriptflowError):
    """The page could not be explored (unreachable, crashed, timed out)."""

    status_code = 422
    code = "GENERATION_FAILED"


class PageExplorer(Protocol):
    """Runs an exploration job against an environment and returns the raw report."""

    async def explore(self, base_url: str, job: dict[str, Any]) -> dict[str, Any]: ...


def explorer_module(job: dict[str, Any]) -> str:
    """The test module the sandbox runs: one test calling the explorer with this job.

    A ``final`` job carries a converted recording (``recorded``: its imports and body), run
    first; it is the user's code, and it runs where every run does.
    """
    literal = json.dumps(
        json.dumps({k: v for k, v in job.items() if k != "recorded"}, sort_keys=True)
    )
    recorded = job.get("recorded")
    head, call = "", "    explore(page, pytestconfig, JOB)\n"
    if isinstance(recorded, dict):
        body = "\n".join(f"    {line}" if line else "" for line in recorded["body"])
        head = f"{recorded['imports']}\n\n\ndef _recorded(page):\n{body or '    pass'}\n\n\n"
        call = "    explore(page, pytestconfig, JOB, recorded=_recorded)\n"
    return (
        "import json\n\n"
        "from scriptflow.generate.explorer import explore\n"
        f"{head}\n"
        f"JOB = json.loads({literal})\n\n\n"
        "def test_explore(page, pytestconfig):\n"
        f"{call}"
    )


@dataclass
class SandboxedExplorer:
    """The real explorer: one sandboxed run per job, through the run executor."""

    settings: Settings
    executor: Executor | None = None

    async def explore(self, base_url: str, job: dict[str, Any]) -> dict[str, Any]:
        settings = self.settings
        executor = self.executor or SubprocessExecutor(isolation_mode=choose_isolation(settings))
        scratch = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="sf-generate-"))
        try:
            request = RunRequest(
                script=explorer_module(job),
                base_url=base_url,
                browser=resolve_browser(settings, "chromium"),
                workdir=scratch / "run",
                timeout_s=EXPLORE_TIMEOUT_S,
                memory_mb=settings.run_memory_mb,
                artifact_max_bytes=MAX_REPORT_BYTES,
                trace="off",
                block_private_egress=not settings.private_egress_allowed,
                artifact_store=scratch / "store",
                egress_allow=settings.run_egress_allow,
                egress_mode=settings.run_egress,
                max_processes=settings.run_max_processes,
                max_open_files=settings.run_max_open_files,
                max_file_bytes=settings.run_max_file_mb * 1024 * 1024,
                tmp_mb=settings.run_tmp_mb,
                shm_mb=settings.run_shm_mb,
                nice=settings.run_nice,
            )
            result = await executor.execute(request, asyncio.Event())
            report = next(
                (
                    a.path
                    for a in result.artifacts
                    if a.name == ARTIFACT_STEM + ARTIFACT_SUFFIX and a.kind == "log"
                ),
                None,
            )
            if report is None:
                raise ExplorationFailed(
                    f"The page could not be explored: {result.error or result.status}"[:2000],
                    details={"status": result.status},
                )
            return await asyncio.to_thread(_read_report, report)
        finally:
            await asyncio.to_thread(shutil.rmtree, scratch, True)


def _read_report(path: Path) -> dict[str, Any]:
    with path.open("rb") as fh:
        data = fh.read(MAX_REPORT_BYTES + 1)
    if len(data) > MAX_REPORT_BYTES:
        raise ExplorationFailed("The page's exploration report is too large")
    try:
        report = json.loads(data)
    except ValueError as exc:
        raise ExplorationFailed("The page's exploration report is not valid JSON") from exc
    if not isinstance(report, dict):
        raise ExplorationFailed("The page's exploration report is malformed")
    if isinstance(report.get("error"), str):
        raise ExplorationFailed(f"The page could not be explored: {report['error'][:1000]}")
    return report
