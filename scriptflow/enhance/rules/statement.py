"""The base of the statement codemods: what a rewrite knows, how it records a finding."""

from __future__ import annotations

from typing import Literal

import libcst as cst

from scriptflow.enhance.proposal import Category, EnhanceOptions, Finding, RuleFamily
from scriptflow.enhance.rules.catalogue import CONFIDENCE, FLAG_CONFIDENCE
from scriptflow.enhance.rules.expressions import string_value
from scriptflow.enhance.rules.facts import Api, ScriptFacts
from scriptflow.enhance.rules.shapes import (
    LOCATOR_FACTORIES,
    LOCATOR_PROPERTIES,
    is_page_name,
)

Kind = Literal["page", "locator"]


class StatementRewriter:
    """The state every family's rewrites share while one statement is rewritten."""

    def __init__(
        self, families: list[RuleFamily], options: EnhanceOptions, facts: ScriptFacts
    ) -> None:
        self.families = set(families)
        self.options = options
        self.facts = facts
        self.findings: list[Finding] = []
        self.expect_wanted: Api | None = None
        self.re_wanted = False  # a rewrite wrote re.compile(...): the engine imports re
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
                if attr in self.facts.locator_attributes:
                    return "locator"
                page = attr in self.facts.page_attributes or is_page_name(attr)
                return "page" if page else None
            return None
        if (
            isinstance(expr, cst.Call)
            and isinstance(expr.func, cst.Attribute)
            and expr.func.attr.value in LOCATOR_FACTORIES
            and self._kind(expr.func.value)
        ):
            return "locator"
        return None

    def _built_here(self, call: cst.Call) -> bool:
        """Whether a run saw ``….locator("selector")`` build a locator in this file, within
        this statement (the hint's file and line, e.g. a page object's ``__init__``)."""
        if not call.args or not isinstance(call.args[0].value, cst.SimpleString):
            return False
        selector = string_value(call.args[0].value)
        hint = self.options.locator_hints.get(selector) if selector is not None else None
        if hint is None:
            return False
        start, end = self.lines
        return any(
            file == self.options.path and start <= line <= end for file, line in hint.built_at()
        )

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
