"""Small libcst helpers the codemods and the engine share: literals, calls, spacing."""

from __future__ import annotations

import libcst as cst

NO_SPACE = cst.SimpleWhitespace("")
TIGHT_EQUAL = cst.AssignEqual(whitespace_before=NO_SPACE, whitespace_after=NO_SPACE)


def string_value(literal: cst.SimpleString) -> str | None:
    """The text of a str literal; the common escape-free case without compiling anything."""
    prefix = literal.prefix.lower()
    if "b" in prefix:
        return None
    if "\\" not in literal.value:
        quote = len(literal.quote)
        return literal.value[len(literal.prefix) + quote : -quote]
    value = literal.evaluated_value
    return value if isinstance(value, str) else None


def is_expect_call(expr: cst.BaseExpression) -> bool:
    return (
        isinstance(expr, cst.Call)
        and isinstance(expr.func, cst.Name)
        and expr.func.value == "expect"
    )


def selector_first(call: cst.Call) -> bool:
    return bool(call.args) and call.args[0].keyword is None and not call.args[0].star


def unawait(expr: cst.BaseExpression) -> cst.BaseExpression:
    return expr.expression if isinstance(expr, cst.Await) else expr


def strip_parens(expr: cst.BaseExpression) -> cst.BaseExpression:
    """The expression without the parentheses it needed inside its old context."""
    if isinstance(expr, cst.Await) and expr.lpar:
        return expr.with_changes(lpar=[], rpar=[])
    return expr


def bare_arg(arg: cst.Arg) -> cst.Arg:
    return arg.with_changes(comma=cst.MaybeSentinel.DEFAULT, whitespace_after_arg=NO_SPACE)


def dotted(node: cst.BaseExpression | None) -> str:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        head = dotted(node.value)
        return f"{head}.{node.attr.value}" if head else ""
    return ""


def alias_name(alias: cst.ImportAlias) -> str | None:
    if alias.asname is None:
        return None
    name = alias.asname.name
    return name.value if isinstance(name, cst.Name) else None
