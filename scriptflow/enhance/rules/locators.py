"""The selectors family, inside one statement: the Locator API, then user-facing locators."""

from __future__ import annotations

import json

import libcst as cst

from scriptflow.enhance.rules.expressions import (
    NO_SPACE,
    TIGHT_EQUAL,
    string_value,
)
from scriptflow.enhance.rules.selectors import (
    LegacySelector,
    brittleness,
    legacy_selector,
    preferred_locator,
)
from scriptflow.enhance.rules.shapes import (
    LOCATOR_RENAMES,
    PAGE_ONLY_KEYWORDS,
)
from scriptflow.enhance.rules.statement import StatementRewriter


class SelectorRewrites(StatementRewriter):
    """Page-method selectors become locators; brittle selectors become get_by_*."""

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
            whitespace_before_args=call.whitespace_before_args if kept else NO_SPACE,
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
                    comma=cst.MaybeSentinel.DEFAULT, whitespace_after_arg=NO_SPACE
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
        selector = string_value(value)
        if selector is None:
            return None
        reason = brittleness(selector)
        hint = self.options.locator_hints.get(selector)
        replacement = preferred_locator(hint) if hint is not None else None
        if replacement is None and (legacy := legacy_selector(selector)) is not None:
            return self._legacy_locator(original_node, receiver, selector, legacy, reason)
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
                    equal=TIGHT_EQUAL if keyword else cst.MaybeSentinel.DEFAULT,
                )
                for keyword, text in arguments
            ],
        )

    def _legacy_locator(
        self,
        original_node: cst.CSTNode,
        receiver: cst.BaseExpression,
        selector: str,
        legacy: LegacySelector,
        reason: str | None,
    ) -> cst.Call:
        """``text=…`` as ``get_by_text(…)`` and ``>> nth=i`` as ``.nth(i)``."""
        if legacy.text is not None:
            args = [cst.Arg(cst.SimpleString(json.dumps(legacy.text, ensure_ascii=False)))]
            if legacy.exact:
                args.append(cst.Arg(cst.Name("True"), keyword=cst.Name("exact"), equal=TIGHT_EQUAL))
            target = cst.Call(
                func=cst.Attribute(value=receiver, attr=cst.Name("get_by_text")), args=args
            )
            said = "get_by_text(...)"
        else:
            target = cst.Call(
                func=cst.Attribute(value=receiver, attr=cst.Name("locator")),
                args=[cst.Arg(cst.SimpleString(json.dumps(legacy.base, ensure_ascii=False)))],
            )
            said = "locator(...)"
        if legacy.index is not None:
            target = cst.Call(
                func=cst.Attribute(value=target, attr=cst.Name("nth")),
                args=[
                    cst.Arg(
                        cst.Integer(str(legacy.index))
                        if legacy.index >= 0
                        else cst.UnaryOperation(cst.Minus(), cst.Integer(str(-legacy.index)))
                    )
                ],
            )
            said += ".nth(...)"
        still = (
            f" It is still positional ({reason}): prefer a role or test id."
            if legacy.index is not None
            else ""
        )
        self._record(
            original_node,
            "selectors.legacy-engine",
            "locator",
            f"Legacy selector {selector!r} written with the locator API as {said}, which "
            f"means the same and reads as what the user sees.{still}",
        )
        return target
