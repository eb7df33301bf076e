"""Where the client keeps its server and tokens: the user's config folder, readable by them only.

``$XDG_CONFIG_HOME/scriptflow/credentials.json`` (``~/.config/scriptflow/…`` when unset). The
folder is 0700 and the file 0600 from the moment it exists: it is created with that mode, never
chmod-ed after the tokens are in it, and replaced atomically, so a crash leaves the old file.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

CREDENTIALS_FILE = "credentials.json"


class NotLoggedIn(Exception):
    """No credentials stored yet: run `scriptflow login --server URL` first."""


@dataclass(frozen=True)
class Credentials:
    server: str
    email: str
    access_token: str
    refresh_token: str


def config_dir() -> Path:
    """The client's folder under the XDG config home."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "scriptflow"


def credentials_path() -> Path:
    return config_dir() / CREDENTIALS_FILE


def save_credentials(credentials: Credentials) -> Path:
    """Write the credentials, mode 0600 in a 0700 folder, replacing any earlier ones atomically."""
    folder = config_dir()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    target = folder / CREDENTIALS_FILE
    temporary = folder / f".{CREDENTIALS_FILE}.{os.getpid()}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(asdict(credentials), out)
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return target


def load_credentials() -> Credentials:
    """The stored credentials; `NotLoggedIn` when there are none (or they are unreadable)."""
    try:
        data = json.loads(credentials_path().read_text(encoding="utf-8"))
        return Credentials(
            server=str(data["server"]),
            email=str(data["email"]),
            access_token=str(data["access_token"]),
            refresh_token=str(data["refresh_token"]),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise NotLoggedIn("Not logged in: run `scriptflow login --server URL` first") from exc
