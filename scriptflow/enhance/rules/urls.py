"""The urls family: a URL that starts with an environment's base URL becomes relative."""

from __future__ import annotations

from urllib.parse import urlsplit

import libcst as cst

from scriptflow.enhance.rules.locators import SelectorRewrites

URL_RATIONALE = (
    "The URL starts with one of the project's environment base URLs; a relative URL lets the "
    "same script run against every environment."
)


def relative_url_literal(literal: cst.SimpleString, base_urls: tuple[str, ...]) -> str | None:
    """The literal with a known base URL cut off, or None when none applies."""
    prefix = literal.prefix
    if "b" in prefix.lower() or "\\" in literal.value:
        return None
    quote = literal.quote
    inner = literal.value[len(prefix) + len(quote) : -len(quote)]
    for base in base_urls:
        parts = urlsplit(base)
        # Playwright resolves "/x" against the origin only: a base with a path would lose it.
        if not parts.scheme or not parts.netloc or parts.path not in ("", "/"):
            continue
        origin = f"{parts.scheme}://{parts.netloc}"
        if inner[: len(origin)].lower() != origin.lower():
            continue
        rest = inner[len(origin) :]
        if rest == "":
            rest = "/"
        elif rest[0] in "?#":
            rest = "/" + rest
        elif rest[0] != "/":
            continue
        return f"{prefix}{quote}{rest}{quote}"
    return None


class UrlRewrites(SelectorRewrites):
    """Absolute URLs on a known base URL become relative (goto, expect(page).to_have_url)."""

    def _relative_expected_url(
        self, record_at: cst.CSTNode | None, expected: cst.BaseExpression
    ) -> cst.BaseExpression:
        if not isinstance(expected, cst.SimpleString):
            return expected
        relative = relative_url_literal(expected, self.options.base_urls)
        if relative is None:
            return expected
        if record_at is not None:
            self._record(record_at, "urls.relative", "url", URL_RATIONALE)
        return expected.with_changes(value=relative)

    def _relative_url(self, original_node: cst.Call, call: cst.Call) -> cst.Call:
        if (
            not call.args
            or call.args[0].keyword
            or not isinstance(call.args[0].value, cst.SimpleString)
        ):
            return call
        literal = call.args[0].value
        relative = relative_url_literal(literal, self.options.base_urls)
        if relative is None:
            return call
        self._record(
            original_node,
            "urls.relative",
            "url",
            URL_RATIONALE,
        )
        first = call.args[0].with_changes(value=cst.SimpleString(relative))
        return call.with_changes(args=[first, *call.args[1:]])
