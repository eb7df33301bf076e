"""Scratch folders of killed runs are swept; live ones and foreign ones never are."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from scriptflow.runs import scratch

# A process that claims a folder, says where, and holds it until killed (as an executor would).
HOLDER = (
    "import sys, time\n"
    "from scriptflow.runs import scratch\n"
    "claimed = scratch.claim(sys.argv[1])\n"
    "(claimed.path / 'staged.py').write_text('secret = 1')\n"
    "print(claimed.path, flush=True)\n"
    "time.sleep(600)\n"
)


def _holder(root: Path) -> tuple[subprocess.Popen[str], Path]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(root)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    return proc, Path(proc.stdout.readline().strip())


def test_a_killed_owners_folder_is_swept_and_a_live_ones_is_kept(tmp_path: Path) -> None:
    killed, killed_path = _holder(tmp_path)
    alive, alive_path = _holder(tmp_path)
    try:
        killed.send_signal(signal.SIGKILL)  # no clean-up runs
        killed.wait(timeout=10)
        assert (killed_path / "staged.py").exists()

        assert scratch.sweep_orphans(tmp_path) == 1
        assert not killed_path.exists()
        assert (alive_path / "staged.py").read_text() == "secret = 1"
        assert scratch.sweep_orphans(tmp_path) == 0
    finally:
        alive.kill()
        alive.wait(timeout=10)
    assert scratch.sweep_orphans(tmp_path) == 1
    assert list(tmp_path.iterdir()) == []


def test_folders_that_are_not_claimed_scratch_are_left_alone(tmp_path: Path) -> None:
    # Someone else's folder with our prefix (or one still being made: no lock file yet), and a
    # link to a dead owner's claim elsewhere: none is ours to remove here.
    (tmp_path / "sf-run-foreign").mkdir()
    (tmp_path / "sf-run-foreign" / "data").write_text("keep")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    killed, orphan = _holder(elsewhere)
    killed.kill()
    killed.wait(timeout=10)
    (tmp_path / "sf-run-link").symlink_to(orphan)
    (tmp_path / "other").mkdir()

    assert scratch.sweep_orphans(tmp_path) == 0
    assert (tmp_path / "sf-run-foreign" / "data").read_text() == "keep"
    assert (orphan / "staged.py").exists()
    # Swept where it lives.
    assert scratch.sweep_orphans(elsewhere) == 1
    assert not orphan.exists()


def test_release_removes_the_folder_and_its_lock(tmp_path: Path) -> None:
    claimed = scratch.claim(tmp_path)
    (claimed.path / "log").mkdir()
    assert scratch.sweep_orphans(tmp_path) == 0  # held by this very process
    claimed.release()
    assert not claimed.path.exists()
    assert list(tmp_path.iterdir()) == []
