"""What the rules need to know about a whole script, read from Python's own (fast) AST."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Literal

from scriptflow.enhance.rules.shapes import LOCATOR_FACTORIES, LOCATOR_PROPERTIES, is_page_name

Api = Literal["sync", "async"]


@dataclass
class ScriptFacts:
    """Names that hold pages, locators and sleeps, and which Playwright API the script uses."""

    page_names: set[str] = field(default_factory=set)
    locator_names: set[str] = field(default_factory=set)
    # Attributes of `self` that hold a page or a locator (a page object's `self.form =
    # page.locator(...)`): `self.form.locator(...)` is then a locator's chain too.
    page_attributes: set[str] = field(default_factory=set)
    locator_attributes: set[str] = field(default_factory=set)
    sleep_names: set[str] = field(default_factory=set)
    time_modules: set[str] = field(default_factory=set)
    asyncio_modules: set[str] = field(default_factory=set)
    expect_bound: bool = False
    api: Api | None = None
    # How often each name is read anywhere: an import nobody reads any more can go.
    name_uses: dict[str, int] = field(default_factory=dict)

    def kind(self, expr: ast.expr) -> Literal["page", "locator"] | None:
        """Whether an expression is a Page/Frame, a Locator, or neither (by its shape)."""
        if isinstance(expr, ast.Name):
            if expr.id in self.locator_names:
                return "locator"
            return "page" if expr.id in self.page_names or is_page_name(expr.id) else None
        if isinstance(expr, ast.Attribute):
            if expr.attr in LOCATOR_PROPERTIES and self.kind(expr.value) == "locator":
                return "locator"
            if isinstance(expr.value, ast.Name) and expr.value.id == "self":
                if expr.attr in self.locator_attributes:
                    return "locator"
                page = expr.attr in self.page_attributes or is_page_name(expr.attr)
                return "page" if page else None
            return None
        if (
            isinstance(expr, ast.Call)
            and isinstance(expr.func, ast.Attribute)
            and expr.func.attr in LOCATOR_FACTORIES
            and self.kind(expr.func.value)
        ):
            return "locator"
        return None


def gather_facts(tree: ast.Module) -> ScriptFacts:
    """One walk over the tree: imports, annotated parameters and assignments."""
    facts = ScriptFacts()
    assignments: list[ast.Assign | ast.AnnAssign] = []
    uses = facts.name_uses
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            uses[node.id] = uses.get(node.id, 0) + 1
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            assignments.append(node)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                bound = alias.asname or alias.name
                if alias.name == "time":
                    facts.time_modules.add(bound)
                elif alias.name == "asyncio":
                    facts.asyncio_modules.add(bound)
        elif isinstance(node, ast.ImportFrom):
            _import_from(facts, node)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if node.name == "expect":
                facts.expect_bound = True
            for arg in [*node.args.args, *node.args.kwonlyargs, *node.args.posonlyargs]:
                type_name = _annotation_name(arg.annotation)
                if type_name in ("Page", "Frame"):
                    facts.page_names.add(arg.arg)
                elif type_name in ("Locator", "FrameLocator"):
                    facts.locator_names.add(arg.arg)
    # Assignments last, in source order, so `x = page.locator(...)` then `y = x.first` work.
    for node in sorted(assignments, key=lambda a: (a.lineno, a.col_offset)):
        value = node.value.value if isinstance(node.value, ast.Await) else node.value
        if isinstance(node, ast.AnnAssign):
            declared = _annotation_name(node.annotation)
            kind = _DECLARED_KINDS.get(declared or "") or (facts.kind(value) if value else None)
            _bind(facts, node.target, kind)
            continue
        assert value is not None
        if (
            isinstance(value, ast.Call)
            and isinstance(value.func, ast.Attribute)
            and value.func.attr in ("new_page", "wait_for_event")
        ):
            kind = "page"
        else:
            kind = facts.kind(value)  # `self.page = page` too: a page object's page
        for target in node.targets:
            _bind(facts, target, kind)
    return facts


_DECLARED_KINDS: dict[str, Literal["page", "locator"]] = {
    "Page": "page",
    "Frame": "page",
    "Locator": "locator",
    "FrameLocator": "locator",
}


def _bind(facts: ScriptFacts, target: ast.expr, kind: Literal["page", "locator"] | None) -> None:
    """Note that a name, or an attribute of `self`, now holds a page or a locator."""
    if kind is None:
        return
    if isinstance(target, ast.Name):
        (facts.page_names if kind == "page" else facts.locator_names).add(target.id)
    elif (
        isinstance(target, ast.Attribute)
        and isinstance(target.value, ast.Name)
        and target.value.id == "self"
    ):
        held = facts.page_attributes if kind == "page" else facts.locator_attributes
        held.add(target.attr)


def _import_from(facts: ScriptFacts, node: ast.ImportFrom) -> None:
    module = node.module or ""
    if module == "playwright.async_api":
        facts.api = "async"
    elif module == "playwright.sync_api" and facts.api is None:
        facts.api = "sync"
    for alias in node.names:
        bound = alias.asname or alias.name
        if alias.name == "*" and module.startswith("playwright."):
            facts.expect_bound = True
        if bound == "expect":
            facts.expect_bound = True
        if alias.name == "sleep" and module in ("time", "asyncio"):
            facts.sleep_names.add(bound)


def _annotation_name(annotation: ast.expr | None) -> str | None:
    if isinstance(annotation, ast.Name):
        return annotation.id
    if isinstance(annotation, ast.Attribute):
        return annotation.attr
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        return annotation.value.rsplit(".", 1)[-1]
    return None
