"""DuckDB extensions from the installed ``duckdb-extension-*`` wheels, signature check on.

The registry's DuckDB builds cannot download extensions here (``INSTALL`` has no network), so the
pinned wheels carry the binaries. DuckDB loads an extension file by the name its entry point
expects (``sqlite_scanner``, not ``sqlite``), so each wheel's file is linked under that name in a
private directory of this process. These binaries are signed: ``allow_unsigned_extensions`` stays
off. Without the wheel, ``INSTALL``/``LOAD`` by name is tried (a machine that can download).
"""

from __future__ import annotations

import atexit
import functools
import importlib.util
import shutil
import tempfile
from pathlib import Path

import duckdb

# The wheel's name (duckdb_extension_<wheel>) and the name DuckDB loads the extension by.
CANONICAL_NAMES = {
    "ducklake": "ducklake",
    "postgres": "postgres_scanner",
    "sqlite": "sqlite_scanner",
    "httpfs": "httpfs",
}


@functools.cache
def _linked_extensions_dir() -> Path:
    # mkdtemp is private (0700) to this process's user: nobody can swap a file in.
    folder = Path(tempfile.mkdtemp(prefix="scriptflow-duckdb-ext-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


@functools.cache
def wheel_extension_path(name: str) -> Path | None:
    """The extension file of the installed wheel, linked under its canonical name (or None)."""
    spec = importlib.util.find_spec(f"duckdb_extension_{name}")
    if spec is None or not spec.submodule_search_locations:
        return None
    version = duckdb.__version__
    package = Path(next(iter(spec.submodule_search_locations)))
    source = package / "extensions" / f"v{version}" / f"{name}.duckdb_extension"
    if not source.is_file():
        return None
    link = _linked_extensions_dir() / f"{CANONICAL_NAMES[name]}.duckdb_extension"
    if not link.exists():
        link.symlink_to(source)
    return link


def load_extensions(connection: duckdb.DuckDBPyConnection, *names: str) -> None:
    """Load each extension from its wheel, else by name (installing it when it can)."""
    for name in names:
        path = wheel_extension_path(name)
        if path is not None:
            connection.execute(f"LOAD '{path}'")
            continue
        canonical = CANONICAL_NAMES[name]
        try:
            connection.execute(f"LOAD {canonical}")
        except duckdb.Error:
            connection.execute(f"INSTALL {canonical}")
            connection.execute(f"LOAD {canonical}")
