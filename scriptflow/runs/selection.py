"""What a suite run selects, checked as hostile input, and the pytest arguments it becomes (pure).

A selection entry is a path in the project's tree (a folder or a file), optionally followed by
pytest's ``::`` node parts (``tests/test_cart.py::TestCart::test_total[2]``). Entries reach
pytest's command line, so anything pytest could read as something other than a path is refused
before a run is queued: options (``-p plugin``, ``--``), argument files (``@args.txt``), absolute
paths, ``..``, backslashes and control characters. ``-k`` and ``-m`` expressions must parse with
pytest's own expression grammar and are passed glued to their option, so they can never become
an option of their own.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from scriptflow.errors import ValidationFailed

MAX_ENTRIES = 200
MAX_ENTRY_CHARS = 1000
MAX_EXPRESSION_CHARS = 500
# Node parts after the path: names, parameter ids (any printable text but the separators
# pytest itself never puts there).
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_EXPRESSION = re.compile(r"^[\w\s()\[\].:,\-+/=]*$")


@dataclass(frozen=True)
class Selection:
    """A validated selection: node ids or paths, and optional ``-k`` / ``-m`` expressions."""

    entries: tuple[str, ...] = ()
    keyword: str | None = None
    markers: str | None = None

    def pytest_args(self) -> list[str]:
        """What follows pytest's own options: expressions glued to their option, then paths."""
        args = []
        if self.keyword:
            args.append(f"-k{self.keyword}")
        if self.markers:
            args.append(f"-m{self.markers}")
        # An entry never starts with "-" or "@" (checked), so none is read as an option.
        return [*args, *self.entries]

    def as_dict(self) -> dict[str, object]:
        return {"select": list(self.entries), "k": self.keyword, "markers": self.markers}


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed.for_field(field, message, message=f"{field}: {message}")


def entry_path(entry: str) -> str:
    """The tree path an entry names (what comes before its first ``::``)."""
    return entry.split("::", 1)[0]


def check_entry(entry: str) -> str:
    """One entry, normalised (``./tests/`` → ``tests``), or ValidationFailed saying why not."""
    if not entry or len(entry) > MAX_ENTRY_CHARS:
        raise _invalid("select", f"an entry must have 1 to {MAX_ENTRY_CHARS} characters")
    if _CONTROL.search(entry):
        raise _invalid("select", "an entry must not contain control characters")
    if entry[0] in "-@":
        raise _invalid(
            "select", f"{entry[:40]!r} looks like a pytest option or argument file, not a path"
        )
    path, sep, nodes = entry.partition("::")
    if "\\" in path or path.startswith("/") or re.match(r"^[A-Za-z]:", path):
        raise _invalid("select", f"{path[:80]!r} is not a relative path in the project's tree")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise _invalid("select", f"{path[:80]!r} leaves the project's tree (..)")
    normal = posixpath.join(*parts) if parts else ""
    if sep and (not normal or not nodes or any(not n for n in nodes.split("::"))):
        raise _invalid("select", f"{entry[:80]!r} is not a node id (path::name)")
    if sep:
        return f"{normal}::{nodes}"
    return normal or "."


def check_expression(field: str, expression: str | None) -> str | None:
    """A ``-k`` or ``-m`` expression pytest will accept, or ValidationFailed."""
    if expression is None or not expression.strip():
        return None
    if len(expression) > MAX_EXPRESSION_CHARS or not _EXPRESSION.match(expression):
        raise _invalid(field, "the expression may use names, and/or/not, parentheses and [ ]")
    if expression.lstrip()[0] in "-@":
        raise _invalid(field, "the expression must not start with '-' or '@'")
    from _pytest.mark.expression import Expression

    try:
        Expression.compile(expression)
    except SyntaxError as exc:
        raise _invalid(field, f"not a valid expression: {exc.msg}") from None
    return expression.strip()


def build_selection(
    select: Sequence[str] | None,
    keyword: str | None,
    markers: str | None,
    tree: Iterable[str],
) -> Selection:
    """Check a request's selection against the pinned tree: every entry names a file or a
    folder of it (a node's file must be a ``.py`` file of the tree)."""
    raw = list(select or [])
    if len(raw) > MAX_ENTRIES:
        raise _invalid("select", f"at most {MAX_ENTRIES} entries")
    paths = set(tree)
    folders = {posixpath.dirname(p) for p in paths}
    folders |= {f for folder in list(folders) for f in _ancestors(folder)}
    entries: list[str] = []
    for entry in raw:
        normal = check_entry(entry)
        path = entry_path(normal)
        is_node = "::" in normal
        if path == ".":
            pass
        elif is_node and not (path in paths and path.endswith(".py")):
            raise _invalid("select", f"{path!r} is not a Python file of the project's tree")
        elif not is_node and path not in paths and path not in folders:
            raise _invalid("select", f"{path!r} is neither a file nor a folder of the tree")
        if normal not in entries:
            entries.append(normal)
    return Selection(
        tuple(entries), check_expression("k", keyword), check_expression("markers", markers)
    )


def _ancestors(folder: str) -> list[str]:
    found = []
    while folder:
        found.append(folder)
        folder = posixpath.dirname(folder)
    return found
