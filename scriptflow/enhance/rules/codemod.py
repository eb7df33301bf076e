"""One libcst pass that applies the chosen rule families to a Playwright-for-Python script.

Everything not rewritten is left exactly as written (libcst keeps comments, tabs, spacing and
text), and every rewrite produces code no rule rewrites again, so a second pass finds nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

import libcst as cst
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider

from scriptflow.enhance.proposal import Category, EnhanceOptions, Finding, RuleFamily
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


def rewrite(
    source: str, families: list[RuleFamily], options: EnhanceOptions
) -> tuple[str, list[Finding]]:
    """Apply the families to `source`; returns the new source and the findings (flags included)."""
    module = cst.parse_module(source)
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    codemod = _RulesCodemod(families, options)
    new_module = wrapper.visit(codemod)
    findings = sorted(codemod.findings, key=lambda f: (f.line_start, f.line_end, f.rule))
    return new_module.code, findings


class _RulesCodemod(cst.CSTTransformer):
    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, families: list[RuleFamily], options: EnhanceOptions) -> None:
        super().__init__()
        self.families = set(families)
        self.options = options
        self.findings: list[Finding] = []
        self.page_names: set[str] = set()
        self.locator_names: set[str] = set()
        self.sleep_names: set[str] = set()
        self.time_modules: set[str] = set()
        self.asyncio_modules: set[str] = set()
        self.expect_bound = False
        self.api: Literal["sync", "async"] | None = None
        self.expect_wanted: Literal["sync", "async"] | None = None
        self._async_functions: list[bool] = []
        # Names (time, asyncio, sleep) whose hard waits were taken out; their import may go too.
        self._dropped_wait_names: set[str] = set()
        self._loop_depth = 0

    # -- facts gathered on the way down --------------------------------------------------------

    def visit_Import(self, node: cst.Import) -> None:
        for alias in node.names:
            dotted = _dotted(alias.name)
            bound = _alias_name(alias) or dotted
            if dotted == "time":
                self.time_modules.add(bound)
            elif dotted == "asyncio":
                self.asyncio_modules.add(bound)

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        module = _dotted(node.module) if node.module is not None else ""
        if module == "playwright.async_api":
            self.api = "async"
        elif module == "playwright.sync_api" and self.api is None:
            self.api = "sync"
        if isinstance(node.names, cst.ImportStar):
            if module.startswith("playwright."):
                self.expect_bound = True
            return
        for alias in node.names:
            name = _dotted(alias.name)
            bound = _alias_name(alias) or name
            if bound == "expect":
                self.expect_bound = True
            if name == "sleep" and module in ("time", "asyncio"):
                self.sleep_names.add(bound)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._async_functions.append(node.asynchronous is not None)
        for param in [*node.params.params, *node.params.kwonly_params]:
            annotation = param.annotation
            if annotation is None:
                continue
            type_name = _dotted(annotation.annotation) or ""
            if type_name.rsplit(".", 1)[-1] in ("Page", "Frame"):
                self.page_names.add(param.name.value)
            elif type_name.rsplit(".", 1)[-1] in ("Locator", "FrameLocator"):
                self.locator_names.add(param.name.value)
        if node.name.value == "expect":
            self.expect_bound = True

    def leave_FunctionDef(
        self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef
    ) -> cst.FunctionDef:
        self._async_functions.pop()
        return updated_node

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            if not isinstance(target.target, cst.Name):
                continue
            name = target.target.value
            value = _unawait(node.value)
            if (
                isinstance(value, cst.Call)
                and isinstance(value.func, cst.Attribute)
                and value.func.attr.value in ("new_page", "wait_for_event")
            ):
                self.page_names.add(name)
            if self._kind(value) == "locator":
                self.locator_names.add(name)

    def visit_For(self, node: cst.For) -> None:
        self._loop_depth += 1

    def leave_For(self, original_node: cst.For, updated_node: cst.For) -> cst.For:
        self._loop_depth -= 1
        return updated_node

    def visit_While(self, node: cst.While) -> None:
        self._loop_depth += 1

    def leave_While(self, original_node: cst.While, updated_node: cst.While) -> cst.While:
        self._loop_depth -= 1
        return updated_node

    # -- what an expression is -----------------------------------------------------------------

    def _kind(self, expr: cst.BaseExpression) -> Kind | None:
        if isinstance(expr, cst.Name):
            if expr.value in self.locator_names:
                return "locator"
            if expr.value in self.page_names or is_page_name(expr.value):
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

    def _in_async(self) -> bool:
        return bool(self._async_functions) and self._async_functions[-1]

    def _range(self, node: cst.CSTNode) -> CodeRange:
        return self.get_metadata(PositionProvider, node)

    def _record(
        self,
        node: cst.CSTNode,
        rule: str,
        category: Category,
        rationale: str,
        *,
        changed: bool = True,
    ) -> None:
        where = self._range(node)
        confidence = CONFIDENCE.get(rule, FLAG_CONFIDENCE) if changed else FLAG_CONFIDENCE
        self.findings.append(
            Finding(
                rule, where.start.line, where.end.line, category, rationale, confidence, changed
            )
        )

    # -- selectors and URLs: rewritten call by call --------------------------------------------

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
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
        selector = value.evaluated_value
        if not isinstance(selector, str):
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

    def leave_Assert(
        self, original_node: cst.Assert, updated_node: cst.Assert
    ) -> cst.BaseSmallStatement:
        if "assertions" not in self.families:
            return updated_node
        converted = self._web_first(updated_node, original_node)
        if converted is None:
            return updated_node
        expression, rule, rationale = converted
        self._record(original_node, rule, "assertion", rationale)
        self.expect_wanted = self.api or ("async" if self._in_async() else "sync")
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
        return cst.Await(expression=call) if self._in_async() else call

    # -- hard waits: decided per block, with the next statement in view ------------------------

    def leave_IndentedBlock(
        self, original_node: cst.IndentedBlock, updated_node: cst.IndentedBlock
    ) -> cst.IndentedBlock:
        if "waits" not in self.families:
            return updated_node
        body = self._without_hard_waits(list(original_node.body), list(updated_node.body))
        return updated_node.with_changes(body=body)

    def leave_Module(self, original_node: cst.Module, updated_node: cst.Module) -> cst.Module:
        body: list[cst.BaseStatement] = list(updated_node.body)
        if "waits" in self.families:
            body = self._without_hard_waits(list(original_node.body), body)
        if self._dropped_wait_names:
            body = self._without_unused_wait_imports(list(original_node.body), body)
        if self.expect_wanted is not None and not self.expect_bound:
            where = _import_position(body)
            statement = cst.parse_statement(
                f"from playwright.{self.expect_wanted}_api import expect\n",
                config=updated_node.config_for_parsing,
            )
            body = [*body[:where], statement, *body[where:]]
            before = body[where - 1] if where else None
            anchor = next(
                (stmt for stmt in original_node.body if before and stmt.deep_equals(before)), None
            )
            after = self._range(anchor).end.line if anchor is not None else 0
            self.findings.append(
                Finding(
                    "assertions.expect-import",
                    max(after, 1),
                    after + 1,
                    "assertion",
                    "expect is imported for the web-first assertions.",
                    CONFIDENCE["assertions.expect-import"],
                )
            )
        return updated_node.with_changes(body=body)

    def _without_hard_waits(
        self, originals: list[cst.BaseStatement], statements: list[cst.BaseStatement]
    ) -> list[cst.BaseStatement]:
        if not any(self._hard_wait(stmt) for stmt in statements):
            return statements
        in_loop = self._loop_depth > 0
        result = list(statements)
        for index in range(len(statements) - 1, -1, -1):
            wait = self._hard_wait(statements[index])
            if wait is None:
                continue
            original = originals[index]
            following = next(
                (stmt for stmt in statements[index + 1 :] if not self._hard_wait(stmt)), None
            )
            step = self._next_step(following) if following is not None and not in_loop else None
            if step is None:
                why = (
                    "it paces a loop"
                    if in_loop
                    else "no Playwright step follows it to wait for instead"
                )
                self._record(
                    original,
                    "waits.hard-wait",
                    "wait",
                    f"Hard wait kept because {why}; wait for a condition with expect(...) instead.",
                    changed=False,
                )
                continue
            action, target, state = step
            dropped = _wait_owner(statements[index])
            if dropped is not None:
                self._dropped_wait_names.add(dropped)
            if action == "auto":
                self._record(
                    original,
                    "waits.remove-before-auto-wait",
                    "wait",
                    "Hard wait removed: the next step waits for its target on its own.",
                )
                result[index : index + 2] = [_carry_comments(result[index], result[index + 1])]
                continue
            assert target is not None and isinstance(result[index], cst.SimpleStatementLine)
            self._record(
                original,
                "waits.replace-with-wait-for",
                "wait",
                "Hard wait replaced by a wait for the element the next step reads.",
            )
            call = cst.Call(
                func=cst.Attribute(value=_strip(target), attr=cst.Name("wait_for")),
                args=[
                    cst.Arg(
                        cst.SimpleString('"hidden"'), keyword=cst.Name("state"), equal=_TIGHT_EQUAL
                    )
                ]
                if state == "hidden"
                else [],
            )
            value: cst.BaseExpression = cst.Await(expression=call) if wait == "await" else call
            line = result[index]
            assert isinstance(line, cst.SimpleStatementLine)
            result[index] = line.with_changes(body=[cst.Expr(value=value)])
        return result

    def _without_unused_wait_imports(
        self, originals: list[cst.BaseStatement], body: list[cst.BaseStatement]
    ) -> list[cst.BaseStatement]:
        used = _names_used(body)
        for original in originals:
            if not isinstance(original, cst.SimpleStatementLine) or len(original.body) != 1:
                continue
            small = original.body[0]
            if not isinstance(small, (cst.Import, cst.ImportFrom)) or isinstance(
                small.names, cst.ImportStar
            ):
                continue
            bound = {_alias_name(alias) or _dotted(alias.name) for alias in small.names}
            if not bound <= self._dropped_wait_names or bound & used:
                continue
            index = next((i for i, stmt in enumerate(body) if stmt.deep_equals(original)), None)
            if index is None:
                continue
            self._record(
                original,
                "waits.unused-import",
                "wait",
                "Import removed: nothing uses it once the hard waits are gone.",
            )
            if index + 1 < len(body):
                following = _carry_comments(body[index], body[index + 1])
                if index == 0 and isinstance(following, cst.SimpleStatementLine):
                    # The blank lines that separated the import would now open the file.
                    kept = list(following.leading_lines)
                    while kept and kept[0].comment is None:
                        kept.pop(0)
                    following = following.with_changes(leading_lines=kept)
                body[index : index + 2] = [following]
            else:
                del body[index]
        return body

    def _hard_wait(self, stmt: cst.BaseStatement) -> Literal["await", "call"] | None:
        if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
            return None
        small = stmt.body[0]
        if not isinstance(small, cst.Expr):
            return None
        value = small.value
        awaited = isinstance(value, cst.Await)
        call = _unawait(value)
        if not isinstance(call, cst.Call):
            return None
        func = call.func
        is_wait = False
        if isinstance(func, cst.Attribute):
            owner = func.value.value if isinstance(func.value, cst.Name) else None
            is_wait = func.attr.value == "wait_for_timeout" or (
                func.attr.value == "sleep"
                and owner is not None
                and (owner in self.time_modules or (awaited and owner in self.asyncio_modules))
            )
        elif isinstance(func, cst.Name):
            is_wait = func.value in self.sleep_names
        if not is_wait:
            return None
        return "await" if awaited else "call"

    def _next_step(
        self, stmt: cst.BaseStatement
    ) -> tuple[Literal["auto", "query"], cst.BaseExpression | None, str] | None:
        """How the statement after a hard wait uses the page: waits itself, or reads at once."""
        if isinstance(stmt, cst.With):
            for item in stmt.items:
                found = self._first_step(item.item)
                if found is not None and found[0] == "auto":
                    return found
            return None
        if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
            return None
        small = stmt.body[0]
        if isinstance(small, cst.Assert):
            found = self._first_step(small.test)
            if found is None or found[0] == "auto":
                return found
            if "assertions" in self.families and self._web_first(small, None) is not None:
                return "auto", None, "visible"
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
            found = self._first_step(value)
            return found if found is not None and found[0] == "auto" else None
        return None

    def _first_step(
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


def _wait_owner(stmt: cst.BaseStatement) -> str | None:
    """The name a hard-wait statement goes through: `time` in time.sleep, `sleep` in sleep()."""
    assert isinstance(stmt, cst.SimpleStatementLine) and isinstance(stmt.body[0], cst.Expr)
    call = _unawait(stmt.body[0].value)
    assert isinstance(call, cst.Call)
    if isinstance(call.func, cst.Name):
        return call.func.value
    if isinstance(call.func, cst.Attribute) and call.func.attr.value == "sleep":
        owner = call.func.value
        return owner.value if isinstance(owner, cst.Name) else None
    return None


def _names_used(body: list[cst.BaseStatement]) -> set[str]:
    """Every name read outside import statements."""
    names: set[str] = set()

    class _Names(cst.CSTVisitor):
        def visit_Import(self, node: cst.Import) -> bool:
            return False

        def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
            return False

        def visit_Attribute(self, node: cst.Attribute) -> bool:
            node.value.visit(self)  # `x.asyncio` does not use a name `asyncio`
            return False

        def visit_Name(self, node: cst.Name) -> None:
            names.add(node.value)

    visitor = _Names()
    for stmt in body:
        stmt.visit(visitor)
    return names


def _carry_comments(wait: cst.BaseStatement, following: cst.BaseStatement) -> cst.BaseStatement:
    """The statement after a removed wait, taking over the wait's comments and blank lines."""
    assert isinstance(wait, cst.SimpleStatementLine)
    carried = list(wait.leading_lines)
    trailing = wait.trailing_whitespace.comment
    if trailing is not None:
        carried.append(cst.EmptyLine(comment=trailing))
    if not carried or not isinstance(
        following, (cst.SimpleStatementLine, cst.BaseCompoundStatement)
    ):
        return following
    return following.with_changes(leading_lines=[*carried, *following.leading_lines])


def _import_position(body: list[cst.BaseStatement]) -> int:
    """Where a new import goes: after the playwright imports, else after the leading imports."""
    position = 0
    after_playwright: int | None = None
    for index, stmt in enumerate(body):
        if index == 0 and _is_docstring(stmt):
            position = 1
            continue
        if not isinstance(stmt, cst.SimpleStatementLine) or not all(
            isinstance(small, (cst.Import, cst.ImportFrom)) for small in stmt.body
        ):
            break
        position = index + 1
        for small in stmt.body:
            if (
                isinstance(small, cst.ImportFrom)
                and small.module is not None
                and _dotted(small.module).startswith("playwright")
            ):
                after_playwright = index + 1
    return after_playwright if after_playwright is not None else position


def _is_docstring(stmt: cst.BaseStatement) -> bool:
    return (
        isinstance(stmt, cst.SimpleStatementLine)
        and len(stmt.body) == 1
        and isinstance(stmt.body[0], cst.Expr)
        and isinstance(stmt.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )


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
