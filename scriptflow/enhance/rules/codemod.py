"""The libcst codemods, applied one statement at a time (see `engine` for the whole script).

Each family adds its rewrites in its own module (`selectors`, `urls`, `assertions`, `waits`, on
the shared `statement` base); this class walks a statement and dispatches to them. Each rewrite
produces code no rule rewrites again, so a second pass finds nothing.
"""

from __future__ import annotations

import libcst as cst

from scriptflow.enhance.rules.expressions import (
    is_expect_call,
    selector_first,
)
from scriptflow.enhance.rules.shapes import (
    SELECTOR_FIRST,
    URL_TAKING,
)
from scriptflow.enhance.rules.waits import WaitSteps


class StatementCodemod(WaitSteps):
    """Selectors, URLs and assertions, rewritten inside one statement at a time."""

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
        if kind is None and method == "locator" and self._built_here(updated_node):
            # The run saw this call build a locator, whatever holds its receiver
            # (`shop.form`, `self.fields["user"]`): its shape alone cannot tell.
            kind = "locator"
        if "urls" in self.families and (
            (method in URL_TAKING and kind == "page")
            or (method == "to_have_url" and is_expect_call(func.value))
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
        if kind == "page" and method in SELECTOR_FIRST and selector_first(updated_node):
            return self._to_locator_api(original_node, updated_node, func)
        return updated_node
