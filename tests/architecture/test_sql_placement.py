"""All SQL lives in repositories: outside them and `db/`, no module executes a statement.

Services build on statements a repository made and hand them back (``repository.paginate``);
they never execute them. A call of ``execute``/``scalars``/``scalar``/``stream`` on anything, or
``get``/``refresh``/``delete``/``merge`` on a session, in a module that imports SQLAlchemy counts.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "scriptflow"
STATEMENT_METHODS = frozenset(
    {"execute", "scalars", "scalar", "stream", "stream_scalars", "exec_driver_sql"}
)
SESSION_METHODS = frozenset({"get", "get_one", "refresh", "delete", "merge"})
# Modules whose whole job is SQL, besides `<domain>/repository.py` and `db/`.
SQL_HOMES = {
    # The fenced lease queue: claim, renew and release are single statements whose WHERE is
    # the fence, on both databases.
    "runs/queue.py",
    # Bulk extraction of run history into Arrow batches for the warehouse, on a sync connection.
    "insights/extract.py",
}


def is_sql_home(path: Path) -> bool:
    relative = path.relative_to(PACKAGE).as_posix()
    return path.name == "repository.py" or relative.startswith("db/") or relative in SQL_HOMES


def statements_executed(path: Path, root: Path = PACKAGE) -> list[str]:
    """Where a module that speaks SQLAlchemy executes a statement itself."""
    tree = ast.parse(path.read_text(), filename=str(path))
    speaks_sql = any(
        isinstance(node, ast.Import | ast.ImportFrom)
        and any(
            (node.module if isinstance(node, ast.ImportFrom) else alias.name or "").startswith(
                "sqlalchemy"
            )
            for alias in node.names
        )
        for node in ast.walk(tree)
    )
    if not speaks_sql:
        return []
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            method, receiver = node.func.attr, ast.unparse(node.func.value)
            # A run executor's execute() runs a browser test, not a statement.
            statement = method in STATEMENT_METHODS and not receiver.endswith("executor")
            if statement or (method in SESSION_METHODS and receiver.endswith("session")):
                where = f"scriptflow/{path.relative_to(root)}:{node.lineno}"
                found.append(f"{where}: {receiver}.{method}(…)")
    return found


def test_no_module_outside_repositories_executes_a_statement() -> None:
    found = [
        line
        for path in sorted(PACKAGE.rglob("*.py"))
        if not is_sql_home(path)
        for line in statements_executed(path)
    ]
    assert not found, "\n".join(found)


def test_a_service_that_executes_a_statement_is_found(tmp_path: Path) -> None:
    service = tmp_path / "service.py"
    service.write_text(
        "from sqlalchemy import select\n\n"
        "async def names(session):\n"
        "    rows = await session.execute(select(1))\n"
        "    return await session.get(object, 1)\n"
    )
    assert [line.rsplit(": ", 1)[1] for line in statements_executed(service, tmp_path)] == [
        "session.execute(…)",
        "session.get(…)",
    ]


def test_dictionaries_and_the_executor_are_not_statements(tmp_path: Path) -> None:
    worker = tmp_path / "worker.py"
    worker.write_text(
        "import sqlalchemy\n\n"
        "async def go(self, options):\n"
        "    options.get('x')\n"
        "    await self.executor.execute(options)\n"
    )
    assert statements_executed(worker, tmp_path) == []
