"""Path rules of the project tree: what a file may be called, and what kind that makes it."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scriptflow.scripts.paths import (
    MAX_PATH_LENGTH,
    PATH_PATTERN,
    FileKind,
    InvalidPath,
    kind_for_path,
    normalise_path,
    path_for_title,
    path_problem,
    slug_for_title,
)


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("tests/test_login.py", FileKind.TEST),
        ("tests/checkout_test.py", FileKind.TEST),
        ("test_root.py", FileKind.TEST),
        ("conftest.py", FileKind.SUPPORT),
        ("tests/pages/conftest.py", FileKind.SUPPORT),
        ("pages/__init__.py", FileKind.SUPPORT),
        ("pages/login_page.py", FileKind.SUPPORT),
        ("utils/testing.py", FileKind.SUPPORT),
        ("data/users.json", FileKind.DATA),
        ("input_data/rows.csv", FileKind.DATA),
        ("data/notes.txt", FileKind.DATA),
        ("config/env.yaml", FileKind.DATA),
        ("config/env.yml", FileKind.DATA),
        ("données/élève.json", FileKind.DATA),
    ],
)
def test_pytest_naming_decides_the_kind(path: str, kind: FileKind) -> None:
    assert normalise_path(path) == path
    assert kind_for_path(path) == kind


@pytest.mark.parametrize(
    "path",
    [
        "",
        "/etc/passwd.txt",
        "../outside.py",
        "tests/../../x.py",
        "tests/../x.py",
        "tests\\test_x.py",
        "C:/tests/x.py",
        "tests/x.py\x00.json",
        "tests/\nx.py",
        "tests/",
        "README.md",
        "image.png",
        "tests/.py",
        "x.PY",
        "a/" * 130 + "x.py",
    ],
)
def test_paths_that_could_escape_or_are_not_tree_files_are_refused(path: str) -> None:
    assert path_problem(path) is not None
    with pytest.raises(InvalidPath) as caught:
        normalise_path(path)
    assert caught.value.status_code == 422
    assert caught.value.details["fields"][0]["field"] == "path"


def test_harmless_spellings_are_normalised() -> None:
    assert normalise_path("./tests//test_a.py") == "tests/test_a.py"
    assert normalise_path("tests/./pages/p.py") == "tests/pages/p.py"


_SEGMENT = st.text(alphabet=st.sampled_from(list("ab._-/\\:é \x00\n")), min_size=0, max_size=12)


@given(st.lists(_SEGMENT, min_size=1, max_size=4), st.sampled_from([".py", ".json", ".md", ""]))
def test_the_schema_pattern_accepts_exactly_the_canonical_paths(
    parts: list[str], suffix: str
) -> None:
    path = "/".join(parts) + suffix
    canonical = path_problem(path) is None and normalise_path(path) == path
    assert bool(re.match(PATH_PATTERN, path)) == (canonical and len(path) <= MAX_PATH_LENGTH)


def test_a_title_makes_a_unique_test_path() -> None:
    assert slug_for_title("Login flow — Ünïcode!") == "login_flow_unicode"
    assert slug_for_title("日本語") == "script"
    taken = {"tests/test_login_flow.py", "tests/test_login_flow_2.py"}
    assert path_for_title("Login flow", set()) == "tests/test_login_flow.py"
    assert path_for_title("Login  flow", taken) == "tests/test_login_flow_3.py"
    assert kind_for_path(path_for_title("x" * 500, set())) == FileKind.TEST
