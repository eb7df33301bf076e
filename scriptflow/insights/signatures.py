"""Normalised error signatures: the same failure reads the same whatever run produced it.

Numbers, ids, URLs and timings are stripped; the action and the locator are kept, because they
say *what* failed. ``Timeout 30000ms exceeded waiting for locator("#login") at
http://127.0.0.1:51234/x?id=9`` and the same error with other numbers share one signature.
"""

from __future__ import annotations

import re

_QUOTED = re.compile(r"""(["'`])((?:\\.|(?!\1).){0,300})\1""")
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s\"'<>)]+", re.IGNORECASE)
_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I)
_HEX = re.compile(r"\b(?:0x)?[0-9a-f]*\d[0-9a-f]*\b", re.IGNORECASE)
_DURATION = re.compile(r"\b\d+(?:\.\d+)?\s*(?:ms|s|sec|secs|seconds|milliseconds|m|min)\b", re.I)
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_SPACE = re.compile(r"\s+")
_MAX_LINES = 3
_MAX_CHARS = 400


def error_signature(
    error: str | None, *, action: str | None = None, locator: str | None = None
) -> str:
    """A stable, readable signature of an error message; empty for no error."""
    if not error or not error.strip():
        return ""
    # Playwright appends a call log and a stack; the first lines before them carry the meaning.
    head = error.strip().split("Call log:", 1)[0]
    head = "\n".join(head.splitlines()[:_MAX_LINES])
    protected: list[str] = []

    def keep_locator(match: re.Match[str]) -> str:
        inner = match.group(2)
        if _URL.fullmatch(inner):
            return "<url>"
        if _looks_like_locator(inner):
            protected.append(match.group(0))
            return _placeholder(len(protected) - 1)
        return match.group(0)

    text = _QUOTED.sub(keep_locator, head)
    text = _URL.sub("<url>", text)
    text = _UUID.sub("<id>", text)
    text = _DURATION.sub("<t>", text)
    text = _HEX.sub(lambda m: "<n>" if any(c.isdigit() for c in m.group(0)) else m.group(0), text)
    text = _NUMBER.sub("<n>", text)
    for index, original in enumerate(protected):
        text = text.replace(_placeholder(index), _strip_volatile(original))
    text = _SPACE.sub(" ", text).strip()[:_MAX_CHARS]
    prefix = " ".join(part for part in (action, locator) if part)
    return f"{prefix} | {text}" if prefix else text


def _placeholder(index: int) -> str:
    # Private-use characters: no digit for the number pass to eat, never in real error text.
    return f"\ue000{chr(0xE100 + index)}\ue000"


def _looks_like_locator(text: str) -> bool:
    return bool(text) and (
        text[0] in "#.[/" or "=" in text or ">>" in text or text.startswith(("role", "text", "//"))
    )


def _strip_volatile(locator: str) -> str:
    """Inside a locator, only UUIDs are volatile; positions like nth=2 are part of its meaning."""
    return _UUID.sub("<id>", locator)
