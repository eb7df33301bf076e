"""Where a file sits in a project's tree, and what kind of file that makes it.

Pure rules over strings. A path is relative, posix, normalised (no ``.`` or empty segments,
no ``..`` at all), free of backslashes, colons, NUL and control characters, at most
`MAX_PATH_LENGTH` characters, and names a file kind the tree holds. The kind follows from the
name alone, as pytest decides what to collect: ``test_*.py`` and ``*_test.py`` are tests, any
other ``.py`` (``conftest.py``, ``__init__.py``, page objects, helpers) is support, the
small text formats tests read (json, csv, txt, yaml) are data, and the files pytest reads its
settings from (``pytest.toml``, ``.pytest.toml``, ``pytest.ini``, ``.pytest.ini``,
``pyproject.toml``, ``tox.ini``, ``setup.cfg``) are config.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Container
from enum import StrEnum
from pathlib import PurePosixPath

from scriptflow.errors import ValidationFailed

MAX_PATH_LENGTH = 255
DATA_SUFFIXES = frozenset({".json", ".csv", ".txt", ".yaml", ".yml"})
PYTHON_SUFFIX = ".py"
# pytest's configuration files, in pytest's own search order in a folder (a run honours the
# safe settings of the one plain pytest would pick; pytest 9 added the TOML and dotted names).
PYTEST_CONFIG_FILES = (
    "pytest.toml",
    ".pytest.toml",
    "pytest.ini",
    ".pytest.ini",
    "pyproject.toml",
    "tox.ini",
    "setup.cfg",
)
CONFIG_NAMES = frozenset(PYTEST_CONFIG_FILES)
DEFAULT_TEST_FOLDER = "tests"
_SLUG_LENGTH = 60
# A colon would make `path::test` node ids ambiguous; a backslash is a Windows separator.
_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f\\:]")
_CHAR = r"[^/\x00-\x1f\x7f\\:]"
_FIRST = r"[^/.\x00-\x1f\x7f\\:]"
# The canonical paths `normalise_path` accepts unchanged, as one regex for the API schema
# (no lookarounds: JSON Schema validators and pydantic's Rust engine lack them). A segment is
# anything but "." and "..": it starts with a non-dot, or a dot and a non-dot, or two dots
# and more.
PATH_PATTERN = (
    rf"^(?:(?:{_FIRST}{_CHAR}*|\.{_FIRST}{_CHAR}*|\.\.{_CHAR}+)/)*"
    rf"(?:{_CHAR}+\.(?:py|json|csv|txt|yaml|yml)|\.?pytest\.(?:ini|toml)|pyproject\.toml|tox\.ini|setup\.cfg)$"
)


class FileKind(StrEnum):
    """What a file in the tree is for."""

    TEST = "test"
    SUPPORT = "support"
    DATA = "data"
    CONFIG = "config"


class InvalidPath(ValidationFailed):
    code = "INVALID_PATH"


def normalise_path(raw: str) -> str:
    """The canonical form of `raw`, or `InvalidPath` saying what is wrong with it.

    Harmless spellings are normalised (``./tests//a.py`` is ``tests/a.py``); anything that could
    point outside the tree, or be read two ways, is refused rather than repaired.
    """
    problem = path_problem(raw)
    if problem is not None:
        raise InvalidPath.for_field(
            "path", problem, message=f"Invalid path {raw[:80]!r}: {problem}"
        )
    return _canonical(raw)


def path_problem(raw: str) -> str | None:
    """Why `raw` is not an acceptable path, or None when it is."""
    if not raw:
        return "must not be empty"
    if _FORBIDDEN.search(raw):
        return "must not contain backslashes, colons, NUL or control characters"
    if raw.startswith("/"):
        return "must be relative to the project root"
    if raw.endswith("/"):
        return "must name a file, not a folder"
    segments = [segment for segment in raw.split("/") if segment not in ("", ".")]
    if not segments:
        return "must name a file"
    if ".." in segments:
        return "must not contain '..'"
    canonical = "/".join(segments)
    if len(canonical) > MAX_PATH_LENGTH:
        return f"must be at most {MAX_PATH_LENGTH} characters"
    if kind_for_path(canonical) is None:
        return (
            "must be a Python file (.py), a data file (.json, .csv, .txt, .yaml, .yml) or "
            "a pytest config file (pytest.toml, .pytest.toml, pytest.ini, .pytest.ini, "
            "pyproject.toml, tox.ini, setup.cfg)"
        )
    return None


def _canonical(raw: str) -> str:
    return "/".join(segment for segment in raw.split("/") if segment not in ("", "."))


def kind_for_path(path: str) -> FileKind | None:
    """The kind a file at `path` is, or None when the tree does not hold such files."""
    name = PurePosixPath(path).name
    suffix = PurePosixPath(name).suffix
    if suffix == PYTHON_SUFFIX:
        stem = name[: -len(PYTHON_SUFFIX)]
        if stem.startswith("test_") or stem.endswith("_test"):
            return FileKind.TEST
        return FileKind.SUPPORT
    if suffix in DATA_SUFFIXES:
        return FileKind.DATA
    if name in CONFIG_NAMES:
        return FileKind.CONFIG
    return None


def is_python(kind: str) -> bool:
    """Whether a file of this kind is Python source (enhance and runs work on those)."""
    return kind in (FileKind.TEST, FileKind.SUPPORT)


def slug_for_title(title: str) -> str:
    """A lowercase ASCII identifier from a free-text title (``script`` when nothing is left)."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "_", ascii_title.lower()).strip("_")[:_SLUG_LENGTH].strip("_")
    return slug or "script"


def path_for_title(title: str, taken: Container[str]) -> str:
    """A test path named after `title` that is not in `taken`: ``tests/test_<slug>[_N].py``."""
    slug = slug_for_title(title)
    candidate = f"{DEFAULT_TEST_FOLDER}/test_{slug}.py"
    n = 2
    while candidate in taken:
        candidate = f"{DEFAULT_TEST_FOLDER}/test_{slug}_{n}.py"
        n += 1
    return candidate
