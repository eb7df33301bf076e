"""The client's local side: what push sends from a folder, and where pull may write."""

from __future__ import annotations

from pathlib import Path

from scriptflow.client.local_tree import scan
from scriptflow.client.sync import _inside
from scriptflow.scripts.archives import SkipReason


def test_gitignore_rules_apply_as_git_applies_them(tmp_path: Path) -> None:
    root = tmp_path / "suite"
    (root / "tests" / "generated").mkdir(parents=True)
    (root / "data").mkdir()
    (root / ".gitignore").write_text("*.csv\n!keep.csv\ngenerated/\n")
    (root / "data" / ".gitignore").write_text("!local.csv\nsecret.json\n")
    for path in (
        "tests/test_a.py",
        "tests/generated/test_b.py",
        "data/rows.csv",
        "data/keep.csv",
        "data/local.csv",
        "data/secret.json",
        "data/users.json",
        "notes.md",
    ):
        (root / path).write_text("x\n")
    (root / "tests" / "link.py").symlink_to(root / "tests" / "test_a.py")
    tree = scan(root)
    assert tree.files == ["data/keep.csv", "data/local.csv", "data/users.json", "tests/test_a.py"]
    assert [(s.path, s.reason) for s in tree.skipped] == [("notes.md", SkipReason.OUTSIDE_TREE)]


def test_pull_writes_only_inside_the_folder(tmp_path: Path) -> None:
    root = tmp_path / "suite"
    outside = tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "pages").symlink_to(outside, target_is_directory=True)
    (root / "data").write_text("a file where a folder would go\n")
    assert _inside(root, "tests/test_a.py") == root / "tests" / "test_a.py"
    for hostile in ("../escape.py", "/etc/cron.d/x.py", "pages/login.py", "data/users.json"):
        assert _inside(root, hostile) is None, hostile
    assert list(outside.iterdir()) == []
