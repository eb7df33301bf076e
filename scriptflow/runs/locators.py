"""Playwright's internal selectors as the Python locator code people write (pure).

``internal:role=button[name="Log in"i] >> nth=0`` becomes
``get_by_role("button", name="Log in").first``. Anything not recognised stays a
``locator("…")`` part, so the result is always a valid Python expression.
"""

from __future__ import annotations

import json
import re

_QUOTED = r'"((?:[^"\\]|\\.)*)"([is]?)'
_ROLE = re.compile(r"^internal:role=([a-z]+)((?:\[[^\]]*\])*)$")
_ROLE_OPTION = re.compile(r"\[(\w+)(?:=" + _QUOTED + r"|=(\w+))?\]")
_TEXTUAL = {
    "internal:label": "get_by_label",
    "internal:text": "get_by_text",
}
_ATTRS = {
    "placeholder": "get_by_placeholder",
    "alt": "get_by_alt_text",
    "title": "get_by_title",
}
_ATTR = re.compile(r"^internal:attr=\[(\w+)=" + _QUOTED + r"\]$")
_TESTID = re.compile(r"^internal:testid=\[([\w-]+)=" + _QUOTED + r"\]$")
_TEXT = re.compile(r"^(internal:label|internal:text)=" + _QUOTED + r"$")
_NTH = re.compile(r"^nth=(-?\d+)$")


def _string(value: str) -> str:
    try:
        return json.dumps(json.loads(f'"{value}"'))
    except ValueError:
        return json.dumps(value)


def _exact(flag: str) -> str:
    return ", exact=True" if flag == "s" else ""


def _part(selector: str) -> str:
    selector = selector.strip()
    if m := _NTH.match(selector):
        n = int(m.group(1))
        return "first" if n == 0 else "last" if n == -1 else f"nth({n})"
    if m := _TEXT.match(selector):
        return f"{_TEXTUAL[m.group(1)]}({_string(m.group(2))}{_exact(m.group(3))})"
    if m := _TESTID.match(selector):
        return f"get_by_test_id({_string(m.group(2))})"
    if (m := _ATTR.match(selector)) and m.group(1) in _ATTRS:
        return f"{_ATTRS[m.group(1)]}({_string(m.group(2))}{_exact(m.group(3))})"
    if m := _ROLE.match(selector):
        args = [json.dumps(m.group(1))]
        options = list(_ROLE_OPTION.finditer(m.group(2)))
        if "".join(o.group(0) for o in options) != m.group(2):  # e.g. a regex name
            return f"locator({json.dumps(selector)})"
        for option in options:
            name, text, flag, bare = option.groups()
            if text is not None:
                args.append(f"{name}={_string(text)}{_exact(flag) if name == 'name' else ''}")
            elif bare is not None:
                args.append(f"{name}={bare.capitalize() if bare in ('true', 'false') else bare}")
        return f"get_by_role({', '.join(args)})"
    return f"locator({json.dumps(selector)})"


def _split(selector: str) -> list[str]:
    """Split on ``>>`` outside quotes."""
    parts, current, quote, i = [], [], "", 0
    while i < len(selector):
        ch = selector[i]
        if quote:
            current.append(ch)
            if ch == "\\" and i + 1 < len(selector):
                current.append(selector[i + 1])
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
            current.append(ch)
        elif selector.startswith(">>", i):
            parts.append("".join(current))
            current = []
            i += 1
        else:
            current.append(ch)
        i += 1
    parts.append("".join(current))
    return [p for p in (p.strip() for p in parts) if p]


def locator_code(selector: str) -> str:
    """The Python locator code for a selector, e.g. ``get_by_label("Username")``."""
    parts = _split(selector)
    if not parts:
        return f"locator({json.dumps(selector)})"
    code: list[str] = []
    for part in parts:
        rendered = _part(part)
        is_position = rendered in ("first", "last") or rendered.startswith("nth(")
        # A position needs something to index; on its own it stays a raw selector.
        code.append(f"locator({json.dumps(part)})" if is_position and not code else rendered)
    return ".".join(code)


def hint_key(selector: str) -> str | None:
    """The key a run stores the hint of a locator with Playwright's ``selector`` under: the
    hand-written selector its chain ends with, as the last ``locator`` call wrote it (how the
    rules find it in the source), whatever built the chain before it (``locator``,
    ``get_by_role``, ``get_by_test_id``, ``filter``…). None when the chain ends in a
    ``get_by_*`` locator (already user-facing: nothing to propose) or a position (``nth=``, which
    a user-facing locator could not name alone).

    ``div.form >> input:nth-child(2)`` and ``internal:testid=[data-testid="login"s] >> #user``
    give ``input:nth-child(2)`` and ``#user``."""
    parts = _split(selector)
    if not parts or parts[-1].startswith(("internal:", "nth=")):
        return None
    return parts[-1]
