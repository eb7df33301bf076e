"""From a pasted `playwright codegen` recording to the steps of a pytest-playwright test (pure).

A recording launches its own headed browser at import time, navigates to absolute URLs and
asserts nothing. The steps inside its ``run(playwright)`` are kept as written; the browser,
context and page set-up and tear-down go (pytest-playwright's ``page`` fixture replaces
them), and URLs on the recorded site become relative, so the test runs against whichever
environment it is run on. The outcome assertion is added afterwards from where the steps
left the live page (`scriptflow.generate.explorer`, the ``final`` job).
"""

from __future__ import annotations

import ast
import io
import re
import textwrap
import tokenize
from dataclasses import dataclass
from urllib.parse import urlsplit

from scriptflow.errors import ValidationFailed

_SET_UP = ("launch", "new_context", "new_page", "launch_persistent_context", "connect")
_TEAR_DOWN = ("close",)
_PLAYWRIGHT_NAMES = {"Playwright", "sync_playwright", "Page", "expect"}


class NotARecording(ValidationFailed):
    code = "NOT_A_RECORDING"


@dataclass(frozen=True)
class Recording:
    """The recording's steps as the body of a test taking ``page``."""

    body: list[str]  # lines relative to the function body's indentation
    start_path: str
    imports: list[str]  # the recording's own imports that are not Playwright's set-up
    uses_re: bool


def parse_recording(source: str) -> Recording:
    """The steps of a codegen recording; `NotARecording` for anything else."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise NotARecording(f"The recording is not valid Python (line {exc.lineno})") from exc
    run = next((s for s in tree.body if isinstance(s, ast.FunctionDef) and s.name == "run"), None)
    if run is None or not run.args.args:
        raise NotARecording(
            "Not a playwright codegen recording: it has no run(playwright) function"
        )
    lines = source.splitlines()
    page_name: str | None = None
    kept: list[str] = []
    for stmt in run.body:
        role = _set_up_or_tear_down(stmt)
        if role == "page" and isinstance(stmt, ast.Assign):
            target = stmt.targets[0]
            page_name = target.id if isinstance(target, ast.Name) else page_name
        if role:
            continue
        assert stmt.end_lineno is not None
        kept.append("\n".join(lines[stmt.lineno - 1 : stmt.end_lineno]))
    body = textwrap.dedent("\n".join(kept)).splitlines() if kept else []
    origin = _recorded_origin(tree)
    if origin is None:
        raise NotARecording("The recording never navigates to a page (no page.goto)")
    body = _relative(body, origin)
    if page_name and page_name != "page":
        body.insert(0, f"{page_name} = page")
    start = next((path for path in _goto_paths(body)), "/")
    imports = [
        ast.get_source_segment(source, stmt) or ""
        for stmt in tree.body
        if isinstance(stmt, ast.Import | ast.ImportFrom) and not _playwright_import(stmt)
    ]
    uses_re = any(re.search(r"\bre\.", line) for line in body)
    return Recording(
        body=body, start_path=start, imports=[i for i in imports if i], uses_re=uses_re
    )


def _set_up_or_tear_down(stmt: ast.stmt) -> str | None:
    """'page' for the line creating the page, 'setup'/'teardown' for the others, else None."""
    value = stmt.value if isinstance(stmt, ast.Assign | ast.Expr) else None
    if not isinstance(value, ast.Call) or not isinstance(value.func, ast.Attribute):
        return None
    method = value.func.attr
    if method == "new_page" and isinstance(stmt, ast.Assign):
        return "page"
    if method in _SET_UP and isinstance(stmt, ast.Assign):
        return "setup"
    receiver = value.func.value
    if (
        method in _TEAR_DOWN
        and isinstance(receiver, ast.Name)
        and receiver.id
        in (
            "browser",
            "context",
        )
    ):
        return "teardown"
    if method in ("start", "stop") and "tracing" in ast.unparse(receiver):
        return "teardown"
    return None


def _playwright_import(stmt: ast.Import | ast.ImportFrom) -> bool:
    if isinstance(stmt, ast.ImportFrom):
        return (stmt.module or "").startswith("playwright") or stmt.module == "re"
    return all(a.name.startswith("playwright") or a.name == "re" for a in stmt.names)


def _recorded_origin(tree: ast.Module) -> str | None:
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "goto"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            parts = urlsplit(node.args[0].value)
            if parts.scheme in ("http", "https") and parts.netloc:
                return f"{parts.scheme}://{parts.netloc}"
            return ""  # already relative
    return None


def _relative(body: list[str], origin: str) -> list[str]:
    """String literals on the recorded site, cut to their path (found as tokens, spliced in)."""
    if not origin or not body:
        return body
    lines = list(body)
    text = "\n".join(body) + "\n"
    edits: list[tuple[int, int, int, str]] = []
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type != tokenize.STRING or token.start[0] != token.end[0]:
            continue
        literal = _literal(token.string)
        if literal is None or not literal.lower().startswith(origin.lower()):
            continue
        rest = literal[len(origin) :] or "/"
        if rest[0] not in "/?#":
            continue  # another host that merely starts alike
        edits.append(
            (
                token.start[0] - 1,
                token.start[1],
                token.end[1],
                _quote(rest if rest[0] == "/" else "/" + rest),
            )
        )
    for row, begin, stop, new in reversed(edits):
        lines[row] = lines[row][:begin] + new + lines[row][stop:]
    return lines


def _literal(token: str) -> str | None:
    if token[:1] not in "\"'":
        return None  # prefixed (f, b, r, …): left as written
    try:
        value = ast.literal_eval(token)
    except (ValueError, SyntaxError):
        return None
    return value if isinstance(value, str) else None


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _goto_paths(body: list[str]) -> list[str]:
    return re.findall(r"""\.goto\(\s*["']([^"']*)["']""", "\n".join(body))
