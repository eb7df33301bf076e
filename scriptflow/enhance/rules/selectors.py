"""Why a selector string is brittle, if it is: a pure look at the text of the selector."""

from __future__ import annotations

import re
from dataclasses import dataclass

from scriptflow.enhance.proposal import LocatorHint

MAX_DESCENDANT_STEPS = 4

_POSITIONAL_CSS = re.compile(r":nth-(?:child|of-type|last-child|last-of-type)\(|:nth-match\(")
_POSITIONAL_ENGINE = re.compile(r">>\s*nth=-?\d+")
_XPATH_INDEX = re.compile(r"\[\d+\]")
_ID_OR_CLASS = re.compile(r"[#.]([A-Za-z_][\w-]*)")
_ATTRIBUTE_ID = re.compile(r"""\[(?:id|class)\s*[*^$~|]?=\s*["']?([^"'\]]+)""")
# Class and id names emitted by CSS-in-JS libraries, frameworks and bundlers.
_GENERATED_PREFIX = re.compile(
    r"^(?:css|sc|jsx|emotion|svelte|makeStyles|react-select|rc-tabs|headlessui"
    r"|radix|mantine|chakra|ng-tns|ng-star|styled)[-_]|^ember\d",
)


def brittleness(selector: str) -> str | None:
    """A short reason the selector is brittle, or None when it looks stable."""
    text = selector.strip()
    if text.startswith(("xpath=", "/", "(/")):
        xpath = text.removeprefix("xpath=")
        if xpath.startswith("/") and not xpath.startswith("//"):
            return "absolute XPath: any change to the page structure above the element breaks it"
        if xpath.startswith(("/html", "//html", "//body", "(/")) or _XPATH_INDEX.search(xpath):
            return "positional XPath: it picks an element by its place in the document"
        return None
    if text.startswith(("text=", "role=", "data-testid=", "internal:", "id=")):
        return None
    if _POSITIONAL_CSS.search(text) or _POSITIONAL_ENGINE.search(text):
        return "positional selector: it picks an element by its place among siblings"
    if _descendant_steps(text) >= MAX_DESCENDANT_STEPS:
        return "long descendant chain: it depends on the page's nesting, not on the element"
    for name in [*_ID_OR_CLASS.findall(text), *_ATTRIBUTE_ID.findall(text)]:
        if looks_generated(name):
            return f"generated-looking id or class '{name}': it changes with every build"
    return None


def looks_generated(name: str) -> bool:
    """True for names such as ``css-1q2w3e``, ``sc-AxjAm``, ``ember123`` or ``_3fG7hQ``."""
    if _GENERATED_PREFIX.match(name):
        return True
    if re.search(r"\d{4,}", name):
        return True
    return any(_is_hashy(segment) for segment in re.split(r"[-_]", name))


def _is_hashy(segment: str) -> bool:
    # Digits mixed into letters (a1b2c3), not a trailing counter (step2, item10).
    body = segment.rstrip("0123456789")
    digits = sum(ch.isdigit() for ch in body)
    letters = sum(ch.isalpha() for ch in body)
    return len(segment) >= 5 and digits >= 2 and letters >= 2


def _descendant_steps(css: str) -> int:
    if ">>" in css:
        return 0
    # Drop quoted strings and brackets so spaces inside them do not count as combinators.
    stripped = re.sub(r"\"[^\"]*\"|'[^']*'|\[[^\]]*\]|\([^)]*\)", "", css)
    if "," in stripped:
        return 0
    steps = [part for part in re.split(r"\s*[>+~]\s*|\s+", stripped.strip()) if part]
    return len(steps)


_NTH_SUFFIX = re.compile(r"^(?P<base>.*?\S)\s*>>\s*nth=(?P<index>-?\d+)$", re.DOTALL)
_QUOTED = re.compile(r"""^(?P<q>["'])(?P<text>[^"'\\]*)(?P=q)$""")


@dataclass(frozen=True)
class LegacySelector:
    """A legacy engine selector as the locator API says it: ``text=…`` and ``>> nth=…``."""

    text: str | None  # get_by_text's argument; None: keep ``locator(base)``
    exact: bool
    base: str
    index: int | None  # .nth(index)


def legacy_selector(selector: str) -> LegacySelector | None:
    """What ``text=Log in``, ``text="Log in"`` or ``li >> nth=2`` mean in the locator API.

    Unquoted ``text=`` matches case-insensitively a substring with whitespace normalised, as
    ``get_by_text(text)`` does; quoted it matches exactly, as ``exact=True``. Regex text
    (``text=/…/``) and chains with other ``>>`` parts are left alone.
    """
    text = selector.strip()
    index = None
    nth = _NTH_SUFFIX.match(text)
    if nth:
        text, index = nth.group("base").strip(), int(nth.group("index"))
    if ">>" in text:
        return None
    if text.startswith("text="):
        value = text.removeprefix("text=").strip()
        if not value or value.startswith("/"):
            return None
        quoted = _QUOTED.match(value)
        if quoted:
            return LegacySelector(quoted.group("text"), True, text, index)
        if '"' in value or "'" in value:
            return None
        return LegacySelector(value, False, text, index)
    if index is None or not text:
        return None
    return LegacySelector(None, False, text, index)


def preferred_locator(hint: LocatorHint) -> tuple[str, list[tuple[str | None, str]]] | None:
    """The user-facing locator method and its arguments for a hint, best first."""
    if hint.test_id:
        return "get_by_test_id", [(None, hint.test_id)]
    if hint.role and hint.name:
        return "get_by_role", [(None, hint.role), ("name", hint.name)]
    if hint.label:
        return "get_by_label", [(None, hint.label)]
    if hint.role:
        return "get_by_role", [(None, hint.role)]
    return None
