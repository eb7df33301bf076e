"""A local folder as the project tree sees it: which files `push` sends, which it leaves out.

`.gitignore` files are honoured as git does (pathspec's git-ignore semantics), at the root and
in any subfolder, with patterns relative to the folder holding them; `.git/` is never sent.
Files the tree cannot hold (by kind, or in hidden folders and `__pycache__`) are left out here
rather than uploaded for the server to skip; binary and too-large content is the server's call.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from pathspec import GitIgnoreSpec

from scriptflow.scripts.archives import SkippedFile, SkipReason
from scriptflow.scripts.paths import kind_for_path, path_problem

_NEVER_SENT = frozenset({".git", "__pycache__", "node_modules"})


@dataclass
class LocalTree:
    root: Path
    files: list[str] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)


def scan(root: Path) -> LocalTree:
    """The tree paths under `root` that `push` sends, and what it leaves out and why."""
    root = root.resolve()
    tree = LocalTree(root)
    specs: list[tuple[str, GitIgnoreSpec]] = []
    for folder, dirs, names in os.walk(root, followlinks=False):
        here = Path(folder).relative_to(root).as_posix()
        prefix = "" if here == "." else f"{here}/"
        # Specs of folders we have left behind no longer apply.
        specs = [(base, spec) for base, spec in specs if prefix.startswith(base)]
        ignore_file = Path(folder) / ".gitignore"
        if ignore_file.is_file():
            lines = ignore_file.read_text(encoding="utf-8", errors="replace").splitlines()
            specs.append((prefix, GitIgnoreSpec.from_lines(lines)))
        kept = []
        for name in sorted(dirs):
            relative = f"{prefix}{name}"
            if name in _NEVER_SENT or _ignored(specs, f"{relative}/"):
                continue
            if (Path(folder) / name).is_symlink():
                continue
            kept.append(name)
        dirs[:] = kept
        for name in sorted(names):
            relative = f"{prefix}{name}"
            path = Path(folder) / name
            if name == ".gitignore" or path.is_symlink() or not path.is_file():
                continue
            if _ignored(specs, relative):
                continue
            tree_path = _tree_path(relative)
            if isinstance(tree_path, SkipReason):
                tree.skipped.append(SkippedFile(relative, tree_path))
            else:
                tree.files.append(tree_path)
    return tree


def _ignored(specs: list[tuple[str, GitIgnoreSpec]], relative: str) -> bool:
    ignored = False
    # A deeper .gitignore overrides a shallower one, as in git: the last match wins.
    for base, spec in specs:
        result = spec.check_file(relative[len(base) :])
        if result.include is not None:
            ignored = result.include
    return ignored


def _tree_path(relative: str) -> str | SkipReason:
    folders = PurePosixPath(relative).parts[:-1]
    if any(part.startswith(".") for part in folders) or kind_for_path(relative) is None:
        return SkipReason.OUTSIDE_TREE
    if path_problem(relative) is not None or not _is_utf8(relative):
        return SkipReason.INVALID_PATH
    return relative


def _is_utf8(name: str) -> bool:
    # A file name that is not UTF-8 on disk arrives with surrogate escapes; no tree holds it.
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
