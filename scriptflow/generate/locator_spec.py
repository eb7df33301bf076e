"""A locator as plain data, so the sandbox can report one and our code generator can write it.

A spec is a list of segments, each ``{"method": ..., **arguments}``, applied left to right
from the page: ``[{"method": "get_by_role", "role": "listitem"}, {"method": "filter",
"has_text": "Banana"}, {"method": "get_by_role", "role": "button", "name": "Add to cart"}]``.
What the sandbox reports is untrusted, so the methods and arguments are an allow-list and
the code is always written here from the data, never taken from the run.

This module is imported inside the run sandbox too: standard library only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

# method -> (positional argument, keyword arguments it may carry), in the order written.
METHODS: dict[str, tuple[str | None, tuple[str, ...]]] = {
    "get_by_test_id": ("test_id", ()),
    "get_by_role": ("role", ("name", "level", "exact")),
    "get_by_label": ("text", ("exact",)),
    "get_by_placeholder": ("text", ("exact",)),
    "get_by_alt_text": ("text", ("exact",)),
    "get_by_text": ("text", ("exact",)),
    "filter": (None, ("has_text",)),
    "locator": ("selector", ()),
}
# Playwright's own order of preference (its codegen and docs): what a user sees first, CSS last.
KIND_RANK = {
    "get_by_test_id": 1,
    "get_by_role": 2,
    "get_by_label": 3,
    "get_by_placeholder": 4,
    "get_by_alt_text": 5,
    "get_by_text": 6,
    "locator": 7,
}
MAX_TEXT = 300
MAX_SEGMENTS = 6
ROLES = frozenset(
    [
        "alert",
        "alertdialog",
        "article",
        "banner",
        "button",
        "cell",
        "checkbox",
        "columnheader",
        "combobox",
        "complementary",
        "contentinfo",
        "definition",
        "dialog",
        "document",
        "feed",
        "figure",
        "form",
        "grid",
        "gridcell",
        "group",
        "heading",
        "img",
        "link",
        "list",
        "listbox",
        "listitem",
        "log",
        "main",
        "marquee",
        "math",
        "menu",
        "menubar",
        "menuitem",
        "menuitemcheckbox",
        "menuitemradio",
        "meter",
        "navigation",
        "none",
        "note",
        "option",
        "paragraph",
        "presentation",
        "progressbar",
        "radio",
        "radiogroup",
        "region",
        "row",
        "rowgroup",
        "rowheader",
        "scrollbar",
        "search",
        "searchbox",
        "separator",
        "slider",
        "spinbutton",
        "status",
        "switch",
        "tab",
        "table",
        "tablist",
        "tabpanel",
        "term",
        "textbox",
        "timer",
        "toolbar",
        "tooltip",
        "tree",
        "treegrid",
        "treeitem",
    ]
)


class InvalidSpec(ValueError):
    """A locator spec outside the allow-list (from a hostile run, or a bug)."""


def validated(spec: object) -> list[dict[str, Any]]:
    """The spec as clean segments, or InvalidSpec: only known methods and plain values."""
    if not isinstance(spec, list) or not 0 < len(spec) <= MAX_SEGMENTS:
        raise InvalidSpec("a locator is a list of 1 to 6 segments")
    clean = []
    for segment in spec:
        if not isinstance(segment, Mapping) or segment.get("method") not in METHODS:
            raise InvalidSpec(f"unknown locator segment {str(segment)[:80]!r}")
        method = str(segment["method"])
        positional, keywords = METHODS[method]
        allowed = {"method", *keywords} | ({positional} if positional else set())
        if set(segment) - allowed:
            raise InvalidSpec(f"{method} does not take {sorted(set(segment) - allowed)}")
        out: dict[str, Any] = {"method": method}
        for key in (positional, *keywords):
            if key is None or key not in segment:
                continue
            value = segment[key]
            if key == "exact":
                if not isinstance(value, bool):
                    raise InvalidSpec("exact is true or false")
            elif key == "level":
                if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 6:
                    raise InvalidSpec("level is 1 to 6")
            elif not isinstance(value, str) or not value or len(value) > MAX_TEXT:
                raise InvalidSpec(f"{key} is a string of 1 to {MAX_TEXT} characters")
            out[key] = value
        if positional and positional not in out:
            raise InvalidSpec(f"{method} needs {positional}")
        if method == "get_by_role" and out["role"] not in ROLES:
            raise InvalidSpec(f"unknown role {out['role']!r}")
        if method == "filter" and "has_text" not in out:
            raise InvalidSpec("filter needs has_text")
        clean.append(out)
    return clean


def py_string(value: str) -> str:
    """A double-quoted Python string literal for ``value`` (JSON escapes are Python's too)."""
    return json.dumps(value, ensure_ascii=False)


def render(spec: Sequence[Mapping[str, Any]], root: str = "page") -> str:
    """Python source for the locator: ``page.get_by_role("button", name="Send")``."""
    code = root
    for segment in spec:
        method = str(segment["method"])
        positional, keywords = METHODS[method]
        args = [py_string(str(segment[positional]))] if positional else []
        for key in keywords:
            if key in segment:
                value = segment[key]
                literal = repr(value) if isinstance(value, bool | int) else py_string(str(value))
                args.append(f"{key}={literal}")
        code += f".{method}({', '.join(args)})"
    return code


def rank(spec: Sequence[Mapping[str, Any]]) -> int:
    """The priority of the spec's last segment (the element itself): 1 is best."""
    return KIND_RANK.get(str(spec[-1]["method"]), len(KIND_RANK) + 1)


def uses_css(spec: Sequence[Mapping[str, Any]]) -> bool:
    return any(segment["method"] == "locator" for segment in spec)
