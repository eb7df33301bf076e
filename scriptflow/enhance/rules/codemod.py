"""The libcst codemods, applied one statement at a time (see `engine` for the whole script).

Each rewrite produces code no rule rewrites again, so a second pass finds nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

import libcst as cst

from scriptflow.enhance.proposal import Category, EnhanceOptions, Finding, RuleFamily
from scriptflow.enhance.rules.facts import Api, ScriptFacts
from scriptflow.enhance.rules.selectors import brittleness, preferred_locator
from scriptflow.enhance.rules.shapes import (
    AUTO_WAITING,
    LOCATOR_FACTORIES,
    LOCATOR_PROPERTIES,
    LOCATOR_RENAMES,
    PAGE_ONLY_KEYWORDS,
    SELECTOR_FIRST,
    STATE_QUERIES,
    TEXT_READS,
    URL_TAKING,
    VALUE_READS,
    is_page_name,
)

Kind = Literal["page", "locator"]

# Confidence of each rewrite, documented in docs/enhance.md.
CONFIDENCE = {
    "waits.remove-before-auto-wait": 0.9,
    "waits.replace-with-wait-for": 0.8,
    "waits.remove-at-end-of-test": 0.85,
    "selectors.locator-api": 0.95,
    "selectors.user-facing-locator": 0.75,
    "assertions.web-first-state": 0.9,
    "assertions.web-first-value": 0.85,
    "assertions.web-first-text": 0.8,
    "urls.relative": 0.9,
    "assertions.expect-import": 1.0,
    "waits.unused-import": 1.0,
}
FLAG_CONFIDENCE = 0.5
_URL_RATIONALE = (
    "The URL starts with one of the project's environment base URLs; a relative URL lets the "
    "same script run against every environment."
)
_NO_SPACE = cst.SimpleWhitespace("")
_TIGHT_EQUAL = cst.AssignEqual(whitespace_before=_NO_SPACE, whitespace_after=_NO_SPACE)


@dataclass(frozen=True)
class _Read:
    """A Playwright read inside an assert: what it targets and which read it is."""

    target: cst.BaseExpression
    method: str
    args: tuple[cst.Arg, ...]


class StatementCodemod:
    """Selectors, URLs and assertions, rewritten inside one statement at a time."""

    def __init__(
        self, families: list[RuleFamily], options: EnhanceOptions, facts: ScriptFacts
    ) -> None:
        self.families = set(families)
        self.options = options
        self.facts = facts
        self.findings: list[Finding] = []
        self.expect_wanted: Api | None = None
        # Set by the engine before each statement.
        self.lines: tuple[int, int] = (1, 1)
        self.in_async = False

    # -- what an expression is -----------------------------------------------------------------

    def _kind(self, expr: cst.BaseExpression) -> Kind | None:
        if isinstance(expr, cst.Name):
            if expr.value in self.facts.locator_names:
                return "locator"
            if expr.value in self.facts.page_names or is_page_name(expr.value):
                return "page"
            return None
        if isinstance(expr, cst.Attribute):
            attr = expr.attr.value
            if attr in LOCATOR_PROPERTIES and self._kind(expr.value) == "locator":
                return "locator"
            if isinstance(expr.value, cst.Name) and expr.value.value == "self":
                return "page" if is_page_name(attr) else None
            return None
        if (
            isinstance(expr, cst.Call)
            and isinstance(expr.func, cst.Attribute)
            and expr.func.attr.value in LOCATOR_FACTORIES
            and self._kind(expr.func.value)
        ):
            return "locator"
        return None

    def _record(
        self,
        node: cst.CSTNode,
        rule: str,
        category: Category,
        rationale: str,
        *,
        changed: bool = True,
    ) -> None:
        confidence = CONFIDENCE.get(rule, FLAG_CONFIDENCE) if changed else FLAG_CONFIDENCE
        start, end = self.lines
        self.findings.append(Finding(rule, start, end, category, rationale, confidence, changed))

    # -- the walk: only through the expressions a rule can rewrite ------------------------------
    # Cheaper than a full libcst visit (no whitespace or punctuation nodes) and the same on
    # every pass, which is what keeps the rules idempotent.

    def rewrite_small(self, small: cst.BaseSmallStatement) -> cst.BaseSmallStatement:
        """One small statement with every rule applied."""
        if isinstance(small, cst.Assert):
            test = self.rewrite_expression(small.test)
            updated = small if test is small.test else small.with_changes(test=test)
            return self._rewrite_assert(small, updated)
        if isinstance(small, (cst.Expr, cst.Assign, cst.AugAssign, cst.AnnAssign, cst.Return)):
            value = small.value
            if value is None:
                return small
            new_value = self.rewrite_expression(value)
            return small if new_value is value else small.with_changes(value=new_value)
        return small

    def rewrite_expression(self, expr: cst.BaseExpression) -> cst.BaseExpression:
        """An expression with its calls rewritten, innermost first."""
        if isinstance(expr, cst.Call):
            func = self.rewrite_expression(expr.func)
            args = [self._rewrite_arg(arg) for arg in expr.args]
            unchanged = func is expr.func and all(
                a is b for a, b in zip(args, expr.args, strict=True)
            )
            updated = expr if unchanged else expr.with_changes(func=func, args=args)
            return self._rewrite_call(expr, updated)
        if isinstance(expr, cst.Attribute):
            value = self.rewrite_expression(expr.value)
            return expr if value is expr.value else expr.with_changes(value=value)
        if isinstance(expr, cst.Await):
            inner = self.rewrite_expression(expr.expression)
            return expr if inner is expr.expression else expr.with_changes(expression=inner)
        if isinstance(expr, cst.UnaryOperation):
            inner = self.rewrite_expression(expr.expression)
            return expr if inner is expr.expression else expr.with_changes(expression=inner)
        if isinstance(expr, cst.BooleanOperation):
            left, right = self.rewrite_expression(expr.left), self.rewrite_expression(expr.right)
            if left is expr.left and right is expr.right:
                return expr
            return expr.with_changes(left=left, right=right)
        if isinstance(expr, cst.Comparison):
            left = self.rewrite_expression(expr.left)
            targets = [
                target
                if (new := self.rewrite_expression(target.comparator)) is target.comparator
                else target.with_changes(comparator=new)
                for target in expr.comparisons
            ]
            if left is expr.left and all(
                a is b for a, b in zip(targets, expr.comparisons, strict=True)
            ):
                return expr
            return expr.with_changes(left=left, comparisons=targets)
        return expr

    def _rewrite_arg(self, arg: cst.Arg) -> cst.Arg:
        value = self.rewrite_expression(arg.value)
        return arg if value is arg.value else arg.with_changes(value=value)

    # -- selectors and URLs: rewritten call by call --------------------------------------------

    def _rewrite_call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        func = updated_node.func
        if not isinstance(func, cst.Attribute):
            return updated_node
        method = func.attr.value
        kind = self._kind(func.value)
        if "urls" in self.families and (
            (method in URL_TAKING and kind == "page")
            or (method == "to_have_url" and _is_expect_call(func.value))
        ):
            updated_node = self._relative_url(original_node, updated_node)
        if "selectors" not in self.families or kind is None:
            return updated_node
        if method == "locator" and updated_node.args:
            return self._better_locator(original_node, updated_node)
        if method == "nth" and kind == "locator":
            self._record(
                original_node,
                "selectors.brittle",
                "locator",
                "Positional locator .nth(...): it picks an element by its index among the "
                "matches; filter by text or role instead.",
                changed=False,
            )
        if kind == "page" and method in SELECTOR_FIRST and _selector_first(updated_node):
            return self._to_locator_api(original_node, updated_node, func)
        return updated_node

    def _to_locator_api(
        self, original_node: cst.Call, call: cst.Call, func: cst.Attribute
    ) -> cst.BaseExpression:
        method = func.attr.value
        selector, *rest = call.args
        kept = [
            arg for arg in rest if not (arg.keyword and arg.keyword.value in PAGE_ONLY_KEYWORDS)
        ]
        if kept and len(kept) != len(rest):
            kept[-1] = kept[-1].with_changes(comma=rest[-1].comma)
        target = self._locator(original_node, func.value, selector)
        new_method = LOCATOR_RENAMES.get(method, method)
        self._record(
            original_node,
            "selectors.locator-api",
            "locator",
            f"page.{method}(selector) resolves the element once; "
            f"a locator waits for it and retries: locator(...).{new_method}(...)",
        )
        return call.with_changes(
            func=cst.Attribute(value=target, attr=cst.Name(new_method), dot=func.dot),
            args=kept,
            whitespace_before_args=call.whitespace_before_args if kept else _NO_SPACE,
        )

    def _locator(
        self, original_node: cst.CSTNode, receiver: cst.BaseExpression, selector: cst.Arg
    ) -> cst.Call:
        """`receiver.locator(selector)`, or a user-facing locator when the element is known."""
        better = self._user_facing(original_node, receiver, selector.value)
        if better is not None:
            return better
        return cst.Call(
            func=cst.Attribute(value=receiver, attr=cst.Name("locator")),
            args=[
                selector.with_changes(
                    comma=cst.MaybeSentinel.DEFAULT, whitespace_after_arg=_NO_SPACE
                )
            ],
        )

    def _better_locator(self, original_node: cst.Call, call: cst.Call) -> cst.BaseExpression:
        if len(call.args) != 1 or call.args[0].keyword or call.args[0].star:
            return call
        func = call.func
        assert isinstance(func, cst.Attribute)
        better = self._user_facing(original_node, func.value, call.args[0].value)
        return better if better is not None else call

    def _user_facing(
        self, original_node: cst.CSTNode, receiver: cst.BaseExpression, value: cst.BaseExpression
    ) -> cst.Call | None:
        if not isinstance(value, cst.SimpleString):
            return None
        selector = _string_value(value)
        if selector is None:
            return None
        reason = brittleness(selector)
        hint = self.options.locator_hints.get(selector)
        replacement = preferred_locator(hint) if hint is not None else None
        if reason is None:
            return None
        if replacement is None:
            self._record(
                original_node,
                "selectors.brittle",
                "locator",
                f"Brittle selector {selector!r}: {reason}. Prefer get_by_role, get_by_label or "
                "get_by_test_id; a run's trace snapshot lets the rules pick one.",
                changed=False,
            )
            return None
        method, arguments = replacement
        self._record(
            original_node,
            "selectors.user-facing-locator",
            "locator",
            f"Brittle selector {selector!r} ({reason}) replaced by {method}, from what the "
            "last run saw of the element.",
        )
        return cst.Call(
            func=cst.Attribute(value=receiver, attr=cst.Name(method)),
            args=[
                cst.Arg(
                    value=cst.SimpleString(json.dumps(text, ensure_ascii=False)),
                    keyword=cst.Name(keyword) if keyword else None,
                    equal=_TIGHT_EQUAL if keyword else cst.MaybeSentinel.DEFAULT,
                )
                for keyword, text in arguments
            ],
        )

    def _relative_expected_url(
        self, record_at: cst.CSTNode | None, expected: cst.BaseExpression
    ) -> cst.BaseExpression:
        if not isinstance(expected, cst.SimpleString):
            return expected
        relative = relative_url_literal(expected, self.options.base_urls)
        if relative is None:
            return expected
        if record_at is not None:
            self._record(record_at, "urls.relative", "url", _URL_RATIONALE)
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
            _URL_RATIONALE,
        )
        first = call.args[0].with_changes(value=cst.SimpleString(relative))
        return call.with_changes(args=[first, *call.args[1:]])

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
            args = [*(arg.value for arg in read.args), _strip(expected)]
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
                self._expect(read.target, node.msg, matcher, [_strip(left)]),
                "assertions.web-first-text",
                rationale,
            )
        return None

    def _read(self, expr: cst.BaseExpression) -> _Read | None:
        expr = _unawait(expr)
        if isinstance(expr, cst.Attribute) and expr.attr.value == "url":
            return _Read(expr.value, "url", ()) if self._kind(expr.value) == "page" else None
        if not isinstance(expr, cst.Call) or not isinstance(expr.func, cst.Attribute):
            return None
        method, receiver = expr.func.attr.value, expr.func.value
        kind = self._kind(receiver)
        if any(arg.star or arg.keyword for arg in expr.args):
            return None
        args = tuple(_bare(arg) for arg in expr.args)
        if kind == "locator" and (method in STATE_QUERIES or method in VALUE_READS):
            return _Read(receiver, method, args) if method not in ("title", "url") else None
        if kind == "page" and method == "title" and not args:
            return _Read(receiver, method, ())
        if kind == "page" and method in SELECTOR_FIRST and args:
            if method not in STATE_QUERIES and method not in VALUE_READS:
                return None
            target = cst.Call(
                func=cst.Attribute(value=receiver, attr=cst.Name("locator")), args=[args[0]]
            )
            return _Read(target, method, args[1:])
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
        expect_args = [cst.Arg(_strip(target))]
        if message is not None:
            expect_args.append(cst.Arg(_strip(message)))
        call = cst.Call(
            func=cst.Attribute(
                value=cst.Call(func=cst.Name("expect"), args=expect_args), attr=cst.Name(matcher)
            ),
            args=[cst.Arg(arg) for arg in args],
        )
        return cst.Await(expression=call) if self.in_async else call

    # -- what follows a hard wait -----------------------------------------------------------

    def next_step(
        self, stmt: cst.BaseStatement
    ) -> tuple[Literal["auto", "query"], cst.BaseExpression | None, str] | None:
        """How the statement after a hard wait uses the page: waits itself, or reads at once."""
        if isinstance(stmt, cst.With):
            for item in stmt.items:
                found = self.first_step(item.item)
                if found is not None and found[0] == "auto":
                    return found
            return None
        if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
            return None
        small = stmt.body[0]
        if isinstance(small, cst.Assert):
            if "assertions" in self.families and self._web_first(small, None) is not None:
                return "auto", None, "visible"  # it becomes a web-first assertion
            found = self.first_step(small.test)
            if found is None or found[0] == "auto":
                return found
            test = small.test
            negated = isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not)
            read = self._read(test.expression if isinstance(test, cst.UnaryOperation) else test)
            if read is None or read.method not in ("is_visible", "is_hidden"):
                return None
            hidden = (read.method == "is_hidden") != negated
            return "query", read.target, "hidden" if hidden else "visible"
        if isinstance(small, (cst.Expr, cst.Assign, cst.AnnAssign, cst.AugAssign)):
            value = small.value
            if value is None:
                return None
            found = self.first_step(value)
            return found if found is not None and found[0] == "auto" else None
        return None

    def first_step(
        self, expr: cst.BaseExpression
    ) -> tuple[Literal["auto", "query"], cst.BaseExpression | None, str] | None:
        expr = _unawait(expr)
        steps: list[tuple[Literal["auto", "query"], cst.BaseExpression | None, str]] = []
        outer = self

        class _Steps(cst.CSTVisitor):
            def visit_Call(self, node: cst.Call) -> bool:
                if steps:
                    return False
                func = node.func
                if isinstance(func, cst.Name) and func.value == "expect":
                    steps.append(("auto", None, "visible"))
                    return False
                if isinstance(func, cst.Attribute) and outer._kind(func.value):
                    method = func.attr.value
                    if method in AUTO_WAITING:
                        steps.append(("auto", None, "visible"))
                    elif method in STATE_QUERIES:
                        steps.append(("query", None, "visible"))
                    return not steps
                return True

        expr.visit(_Steps())
        return steps[0] if steps else None


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


def _string_value(literal: cst.SimpleString) -> str | None:
    """The text of a str literal; the common escape-free case without compiling anything."""
    prefix = literal.prefix.lower()
    if "b" in prefix:
        return None
    if "\\" not in literal.value:
        quote = len(literal.quote)
        return literal.value[len(literal.prefix) + quote : -quote]
    value = literal.evaluated_value
    return value if isinstance(value, str) else None


def _is_expect_call(expr: cst.BaseExpression) -> bool:
    return (
        isinstance(expr, cst.Call)
        and isinstance(expr.func, cst.Name)
        and expr.func.value == "expect"
    )


def _selector_first(call: cst.Call) -> bool:
    return bool(call.args) and call.args[0].keyword is None and not call.args[0].star


def _unawait(expr: cst.BaseExpression) -> cst.BaseExpression:
    return expr.expression if isinstance(expr, cst.Await) else expr


def _strip(expr: cst.BaseExpression) -> cst.BaseExpression:
    """The expression without the parentheses it needed inside its old context."""
    if isinstance(expr, cst.Await) and expr.lpar:
        return expr.with_changes(lpar=[], rpar=[])
    return expr


def _bare(arg: cst.Arg) -> cst.Arg:
    return arg.with_changes(comma=cst.MaybeSentinel.DEFAULT, whitespace_after_arg=_NO_SPACE)


def _dotted(node: cst.BaseExpression | None) -> str:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        head = _dotted(node.value)
        return f"{head}.{node.attr.value}" if head else ""
    return ""


def _alias_name(alias: cst.ImportAlias) -> str | None:
    if alias.asname is None:
        return None
    name = alias.asname.name
    return name.value if isinstance(name, cst.Name) else None
