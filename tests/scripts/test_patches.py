"""Git patches of a file's change apply with a real `git apply`, byte for byte."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from scriptflow.scripts.patches import PatchHeader, git_patch

HEADER = PatchHeader(
    ident="0" * 32,
    author="scriptflow <scriptflow@localhost>",
    date=datetime(2026, 12, 1, tzinfo=UTC),
    subject="pages/login.py: accept rules change set\nwith a second line",
    body="Change set 1 (rules) on version 1, accepted as version 2.",
)


def git_apply(repo: Path, patch: str) -> None:
    git = shutil.which("git")
    assert git, "git is needed to check patches apply"
    if not (repo / ".git").exists():
        subprocess.run([git, "init", "-q", str(repo)], check=True)
    (repo.parent / "change.patch").write_bytes(patch.encode())
    subprocess.run([git, "apply", str(repo.parent / "change.patch")], cwd=repo, check=True)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("a = 1\r\nb = 2\r\n", "a = 1\r\nb = 3  # Zoë\r\n"),
        ("x = 1\ny = 2", "x = 1\ny = 3"),
        ("x = 1\n", "x = 1\n\n\ndef test_more(page):\n    page.goto('/')\n"),
    ],
)
def test_a_change_applies_at_the_repository_root(tmp_path: Path, old: str, new: str) -> None:
    repo = tmp_path / "repo"
    (repo / "pages").mkdir(parents=True)
    (repo / "pages" / "login.py").write_bytes(old.encode())
    patch = git_patch("pages/login.py", old, new, HEADER)
    assert patch.startswith(f"From {HEADER.ident} ")
    assert "Subject: [PATCH] pages/login.py: accept rules change set with a second line\n" in patch
    git_apply(repo, patch)
    assert (repo / "pages" / "login.py").read_bytes() == new.encode()


def test_a_new_file_is_created_by_its_patch(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    content = "def test_generated(page):\r\n    page.goto('/')\r\n"
    git_apply(repo, git_patch("tests/test_generated.py", None, content, HEADER))
    assert (repo / "tests" / "test_generated.py").read_bytes() == content.encode()
