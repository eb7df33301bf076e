"""The waits family, inside one statement: what the statement after a hard wait does."""

from __future__ import annotations

from typing import Literal

import libcst as cst

from scriptflow.enhance.rules.assertions import AssertionRewrites
from scriptflow.enhance.rules.expressions import (
    unawait,
)
from scriptflow.enhance.rules.shapes import (
    AUTO_WAITING,
    STATE_QUERIES,
    VALUE_READS,
)


class WaitSteps(AssertionRewrites):
    """Whether the step after a hard wait waits by itself or reads the page at once."""

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
            if found is not None and found[0] == "auto" and self._reads_value(small.test):
                # `inner_text()` and friends wait for their element, not for the value the
                # assert expects: the hard wait may be what makes the assert pass, so it stays
                # (reported) unless the assert itself becomes a web-first expect.
                return None
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

    def _reads_value(self, expr: cst.BaseExpression) -> bool:
        """Whether an expression reads a value off the page (text, value, attribute, …)."""
        outer = self
        found = False

        class _Reads(cst.CSTVisitor):
            def visit_Call(self, node: cst.Call) -> bool:
                nonlocal found
                func = node.func
                if (
                    isinstance(func, cst.Attribute)
                    and func.attr.value in VALUE_READS
                    and outer._kind(func.value)
                ):
                    found = True
                return not found

        expr.visit(_Reads())
        return found

    def first_step(
        self, expr: cst.BaseExpression
    ) -> tuple[Literal["auto", "query"], cst.BaseExpression | None, str] | None:
        expr = unawait(expr)
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
