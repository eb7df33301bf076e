"""The assertions family: a Playwright read inside ``assert`` becomes a web-first ``expect``."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

import libcst as cst

from scriptflow.enhance.rules.expressions import (
    bare_arg,
    string_value,
    strip_parens,
    unawait,
)
from scriptflow.enhance.rules.shapes import (
    SELECTOR_FIRST,
    STATE_QUERIES,
    TEXT_READS,
    VALUE_READS,
)
from scriptflow.enhance.rules.urls import UrlRewrites


@dataclass(frozen=True)
class Read:
    """A Playwright read inside an assert: what it targets and which read it is."""

    target: cst.BaseExpression
    method: str
    args: tuple[cst.Arg, ...]


class AssertionRewrites(UrlRewrites):
    """``assert page.is_visible(x)`` and friends become ``expect(...)`` assertions."""

    # -- assertions ----------------------------------------------------------------------------

    def _rewrite_assert(
        self, original_node: cst.Assert, updated_node: cst.Assert
    ) -> cst.BaseSmallStatement:
        if "assertions" not in self.families:
            return updated_node
        converted = self._web_first(updated_node, original_node)
        if converted is None:
            return updated_node
        expression, rule, rationale = converted
        self._record(original_node, rule, "assertion", rationale)
        self.expect_wanted = self.facts.api or ("async" if self.in_async else "sync")
        return cst.Expr(value=expression, semicolon=updated_node.semicolon)

    def _web_first(
        self, node: cst.Assert, record_at: cst.CSTNode | None
    ) -> tuple[cst.BaseExpression, str, str] | None:
        test = node.test
        negated = False
        if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
            negated, test = True, test.expression
            if test.lpar:
                test = test.with_changes(lpar=[], rpar=[])
        read = self._read(test)
        if read is not None:
            if read.method not in STATE_QUERIES or read.args:
                return None
            matcher = ("not_" if negated else "") + STATE_QUERIES[read.method]
            rationale = (
                f"{read.method}() answers at once; expect(...).{matcher}() retries until it holds"
            )
            return (
                self._expect(read.target, node.msg, matcher, []),
                "assertions.web-first-state",
                rationale,
            )
        url_pattern = self._url_pattern(test)
        if url_pattern is not None:
            matcher = ("not_" if negated else "") + "to_have_url"
            return (
                self._expect(read_page(test), node.msg, matcher, [url_pattern]),
                "assertions.web-first-url",
                f"checking page.url once is racy; expect(page).{matcher}(re.compile(...)) "
                "retries until the navigation lands",
            )
        if negated or not isinstance(test, cst.Comparison) or len(test.comparisons) != 1:
            return None
        operator = test.comparisons[0].operator
        left, right = test.left, test.comparisons[0].comparator
        if isinstance(operator, (cst.Equal, cst.NotEqual)):
            read, expected = self._read(left), right
            if read is None:
                read, expected = self._read(right), left
            if (
                read is None
                or read.method not in VALUE_READS
                or self._mentions_playwright(expected)
            ):
                return None
            negation = "not_" if isinstance(operator, cst.NotEqual) else ""
            matcher = negation + VALUE_READS[read.method]
            if read.method == "url" and "urls" in self.families:
                expected = self._relative_expected_url(record_at, expected)
            args = [*(arg.value for arg in read.args), strip_parens(expected)]
            rule = (
                "assertions.web-first-text"
                if read.method in TEXT_READS
                else "assertions.web-first-value"
            )
            rationale = f"comparing {read.method} once is racy; expect(...).{matcher}(...) retries"
            return self._expect(read.target, node.msg, matcher, args), rule, rationale
        if isinstance(operator, (cst.In, cst.NotIn)):
            read = self._read(right)
            if read is None or read.method not in TEXT_READS or self._mentions_playwright(left):
                return None
            matcher = ("not_" if isinstance(operator, cst.NotIn) else "") + "to_contain_text"
            rationale = f"checking {read.method} once is racy; expect(...).{matcher}(...) retries"
            return (
                self._expect(read.target, node.msg, matcher, [strip_parens(left)]),
                "assertions.web-first-text",
                rationale,
            )
        return None

    def _url_pattern(self, test: cst.BaseExpression) -> cst.BaseExpression | None:
        """``re.compile(...)`` for ``page.url.startswith/endswith(lit)`` or ``lit in page.url``."""
        literal: cst.BaseExpression | None = None
        if (
            isinstance(test, cst.Call)
            and isinstance(test.func, cst.Attribute)
            and test.func.attr.value in ("startswith", "endswith")
            and len(test.args) == 1
            and not test.args[0].keyword
            and not test.args[0].star
        ):
            read = self._read(test.func.value)
            if read is None or read.method != "url":
                return None
            literal, how = test.args[0].value, test.func.attr.value
        elif (
            isinstance(test, cst.Comparison)
            and len(test.comparisons) == 1
            and isinstance(test.comparisons[0].operator, cst.In)
        ):
            read = self._read(test.comparisons[0].comparator)
            if read is None or read.method != "url":
                return None
            literal, how = test.left, "in"
        if not isinstance(literal, cst.SimpleString):
            return None
        text = string_value(literal)
        if text is None:
            return None
        pattern = re.escape(text)
        if how == "startswith":
            origin = next(
                (b.rstrip("/") for b in self.options.base_urls if _starts_with_origin(text, b)),
                None,
            )
            if origin is not None and "urls" in self.families:
                # Any environment's origin, then the path the script expected.
                pattern = r"^[a-z][a-z0-9+.-]*://[^/]+" + re.escape(text[len(origin) :])
            else:
                pattern = "^" + pattern
        elif how == "endswith":
            pattern += "$"
        self.re_wanted = True
        return cst.Call(
            func=cst.Attribute(value=cst.Name("re"), attr=cst.Name("compile")),
            args=[cst.Arg(cst.SimpleString(python_pattern(pattern)))],
        )

    def _read(self, expr: cst.BaseExpression) -> Read | None:
        expr = unawait(expr)
        if isinstance(expr, cst.Attribute) and expr.attr.value == "url":
            return Read(expr.value, "url", ()) if self._kind(expr.value) == "page" else None
        if not isinstance(expr, cst.Call) or not isinstance(expr.func, cst.Attribute):
            return None
        method, receiver = expr.func.attr.value, expr.func.value
        kind = self._kind(receiver)
        if any(arg.star or arg.keyword for arg in expr.args):
            return None
        args = tuple(bare_arg(arg) for arg in expr.args)
        if kind == "locator" and (method in STATE_QUERIES or method in VALUE_READS):
            return Read(receiver, method, args) if method not in ("title", "url") else None
        if kind == "page" and method == "title" and not args:
            return Read(receiver, method, ())
        if kind == "page" and method in SELECTOR_FIRST and args:
            if method not in STATE_QUERIES and method not in VALUE_READS:
                return None
            target = cst.Call(
                func=cst.Attribute(value=receiver, attr=cst.Name("locator")), args=[args[0]]
            )
            return Read(target, method, args[1:])
        return None

    def _mentions_playwright(self, expr: cst.BaseExpression) -> bool:
        """Whether an expression reads the page itself (then it is not an expected value)."""
        outer = self
        found = False

        class _Finder(cst.CSTVisitor):
            def visit_Await(self, node: cst.Await) -> bool:
                nonlocal found
                found = True
                return False

            def visit_Call(self, node: cst.Call) -> bool:
                nonlocal found
                if isinstance(node.func, cst.Attribute) and outer._kind(node.func.value):
                    found = True
                return not found

            def visit_Attribute(self, node: cst.Attribute) -> bool:
                nonlocal found
                if node.attr.value == "url" and outer._kind(node.value) == "page":
                    found = True
                return not found

        expr.visit(_Finder())
        return found

    def _expect(
        self,
        target: cst.BaseExpression,
        message: cst.BaseExpression | None,
        matcher: str,
        args: list[cst.BaseExpression],
    ) -> cst.BaseExpression:
        expect_args = [cst.Arg(strip_parens(target))]
        if message is not None:
            expect_args.append(cst.Arg(strip_parens(message)))
        call = cst.Call(
            func=cst.Attribute(
                value=cst.Call(func=cst.Name("expect"), args=expect_args), attr=cst.Name(matcher)
            ),
            args=[cst.Arg(arg) for arg in args],
        )
        return cst.Await(expression=call) if self.in_async else call


def read_page(test: cst.BaseExpression) -> cst.BaseExpression:
    """The page whose ``.url`` a URL check reads (``page`` in ``page.url.startswith(...)``)."""
    if isinstance(test, cst.Call) and isinstance(test.func, cst.Attribute):
        url = unawait(test.func.value)
    else:
        assert isinstance(test, cst.Comparison)
        url = unawait(test.comparisons[0].comparator)
    assert isinstance(url, cst.Attribute)
    return url.value


def python_pattern(pattern: str) -> str:
    """A raw string literal for a regex when one can hold it, else an escaped one."""
    if '"' not in pattern and not pattern.endswith("\\") and "\n" not in pattern:
        return f'r"{pattern}"'
    return json.dumps(pattern)


def _starts_with_origin(text: str, base: str) -> bool:
    parts = urlsplit(base)
    if not parts.scheme or not parts.netloc or parts.path not in ("", "/"):
        return False
    origin = f"{parts.scheme}://{parts.netloc}"
    return text.lower().startswith(origin.lower()) and text[len(origin) : len(origin) + 1] in (
        "",
        "/",
        "?",
        "#",
    )
