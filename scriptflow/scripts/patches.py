"""Git patches of a file's change, to apply with `git apply` (or `git am`) at a repository root.

Pure: the diff body is `diffing.unified_diff` with the file's tree path on both sides, so
CRLF lines, non-ASCII text and a missing last newline travel as git writes them. The
mail-style header (`From <id> …`, `Subject: [PATCH]`) is what `git format-patch` writes;
`git apply` skips it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime

from scriptflow.scripts.diffing import unified_diff

# git format-patch's fixed first-line date: a marker, not the commit's date.
_MBOX_MARKER_DATE = "Mon Sep 17 00:00:00 2001"


@dataclass(frozen=True)
class PatchHeader:
    ident: str
    author: str
    date: datetime
    subject: str
    body: str = ""


def git_patch(path: str, old: str | None, new: str, header: PatchHeader) -> str:
    """A format-patch style patch turning `old` into `new` at `path` (`old` None: a new file)."""
    diff = unified_diff(old or "", new, path)
    if old is None:
        # git needs the new-file header and /dev/null to create the file.
        lines = diff.splitlines(keepends=True)
        diff = "".join(
            [
                f"diff --git a/{path} b/{path}\n",
                "new file mode 100644\n",
                "--- /dev/null\n",
                *lines[2:],
            ]
        )
    subject = " ".join(header.subject.split())
    body = f"\n{header.body.strip()}\n" if header.body.strip() else ""
    return (
        f"From {header.ident} {_MBOX_MARKER_DATE}\n"
        f"From: {header.author}\n"
        f"Date: {format_datetime(header.date)}\n"
        f"Subject: [PATCH] {subject}\n"
        f"{body}"
        "---\n"
        f"{diff}"
        "-- \n"
        "scriptflow\n"
    )
