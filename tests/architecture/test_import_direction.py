"""Imports go one way along the workflow; a back edge fails here, lazy imports included.

auth → projects → scripts → changesets → enhance → runs → generate → insights: a domain imports
only itself, the domains before it and the shared core. The composition root and the command
line sit above every domain; the faces (`app/`, `notebooks/`) sit above the package, which never
imports them or a web framework.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "scriptflow"
WORKFLOW = ["auth", "projects", "scripts", "changesets", "enhance", "runs", "generate", "insights"]
# Shared by every domain, importing none.
CORE = {
    "config",
    "errors",
    "events",
    "logs",
    "pagination",
    "ratelimit",
    "db",
    "storage",
    "structured_ai",
}
# Above every domain: they assemble (wiring), register every model (db.models, the migrations)
# or serve a face (cli serves the app and runs the demo command; client is the command line's
# HTTP client of a scriptflow server).
ROOTS = {"wiring", "cli", "client", "db.models", "db.migrations"}
WEB_FRAMEWORKS = ("fastapi", "starlette", "uvicorn", "app")
# The one edge against the direction, and why it stays.
KNOWN_EXCEPTIONS = {
    # Start-up refuses a malformed SCRIPTFLOW_RUN_EGRESS_ALLOW with the very parser runs use
    # (a lazy import inside the validator); moving the parser into the core is the isolation
    # work's call.
    ("config", "scriptflow.runs.egress"),
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(p for p in parts if p != "__init__")


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """Every module the file imports, at any depth (function bodies, TYPE_CHECKING blocks)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = package[: len(package) - node.level + 1]
                target = ".".join(["scriptflow", *base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            if target == "scriptflow":  # `from scriptflow import events` names the module
                found += [(node.lineno, f"{target}.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, target))
    return found


def layer(module: str) -> tuple[str, int] | None:
    """("root"|"core"|"domain", rank) of a module inside scriptflow, by its first parts."""
    for root in ROOTS:
        if module == root or module.startswith(root + "."):
            return ("root", len(WORKFLOW))
    head = module.split(".")[0]
    if head in WORKFLOW:
        return ("domain", WORKFLOW.index(head))
    if head in CORE:
        return ("core", -1)
    return None


def back_edges(path: Path) -> list[str]:
    source = module_name(path)
    source_layer = layer(source)
    problems = []
    for line, target in imported_modules(path):
        where = f"scriptflow/{path.relative_to(PACKAGE)}:{line}"
        if target.split(".")[0] in WEB_FRAMEWORKS and source != "cli":
            problems.append(f"{where} imports the web face or a web framework ({target})")
            continue
        if not target.startswith("scriptflow.") or (source, target) in KNOWN_EXCEPTIONS:
            continue
        target_layer = layer(target.removeprefix("scriptflow."))
        if source_layer is None or target_layer is None or source_layer[0] == "root":
            continue
        if target_layer[0] == "root":
            problems.append(f"{where}: {source} imports {target}, which sits above every domain")
        elif source_layer[0] == "core" and target_layer[0] == "domain":
            problems.append(f"{where}: core module {source} imports the domain {target}")
        elif source_layer[0] == "domain" and target_layer[1] > source_layer[1]:
            problems.append(f"{where}: {source} imports {target}, later in the workflow")
    return problems


def test_every_import_follows_the_workflow_direction() -> None:
    problems = [p for path in sorted(PACKAGE.rglob("*.py")) for p in back_edges(path)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    ("source", "line", "expected"),
    [
        (
            "scripts/service.py",
            "from scriptflow.runs.models import TestRun",
            "later in the workflow",
        ),
        ("auth/service.py", "    from scriptflow.projects import service", "later in"),
        ("errors.py", "from scriptflow.scripts.models import Script", "core module"),
        ("insights/refresh.py", "from scriptflow.wiring import wire", "above every domain"),
        ("runs/worker.py", "import fastapi", "web framework"),
        ("enhance/service.py", "from ..insights import rules", "later in"),
    ],
)
def test_a_back_edge_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str, line: str, expected: str
) -> None:
    fake = tmp_path / "scriptflow"
    path = fake / source
    path.parent.mkdir(parents=True)
    body = f"def lazily():\n{line}\n" if line.startswith(" ") else f"{line}\n"
    path.write_text(body)
    monkeypatch.setattr(f"{__name__}.PACKAGE", fake)
    (problem,) = back_edges(path)
    assert expected in problem


def test_a_forward_edge_is_allowed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "scriptflow"
    path = fake / "insights" / "refresh.py"
    path.parent.mkdir(parents=True)
    path.write_text("from scriptflow.enhance.rules import enhance_with_rules\nimport sqlalchemy\n")
    monkeypatch.setattr(f"{__name__}.PACKAGE", fake)
    assert back_edges(path) == []


def test_every_module_has_a_place_in_the_layers() -> None:
    # A module the layers do not know escapes the direction check: name it above.
    unplaced = sorted(
        name
        for path in PACKAGE.rglob("*.py")
        if (name := module_name(path)) and name != "__init__" and layer(name) is None
    )
    assert not unplaced, unplaced
