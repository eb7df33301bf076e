"""Which browsers can run here: settings, then the system's Chromium, then Playwright's own."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from scriptflow.config import Settings
from scriptflow.errors import BrowserNotAvailable

# Where distributions install Chromium (Debian's `chromium` package uses the first).
SYSTEM_CHROMIUM_PATHS = (
    Path("/usr/lib/chromium/chromium"),
    Path("/usr/lib/chromium-browser/chromium-browser"),
    Path("/usr/bin/chromium"),
    Path("/usr/bin/chromium-browser"),
)
CHROMIUM_ON_PATH = ("chromium", "chromium-browser", "google-chrome")
# Flags for a headless browser in a container: no sandbox helper, no GPU, no phoning home.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
)
SUPPORTED_BROWSERS = ("chromium", "firefox", "webkit")


@dataclass(frozen=True)
class BrowserTarget:
    """How a run reaches its browser: a local executable or a remote Playwright server."""

    name: str
    source: str  # settings | system | path | playwright | remote
    executable_path: Path | None = None
    ws_endpoint: str | None = None
    launch_args: tuple[str, ...] = ()

    def as_public_dict(self) -> dict[str, str | None]:
        """What `GET /v1/browsers` shows (a remote endpoint may carry a token, so it is hidden)."""
        return {
            "name": self.name,
            "source": self.source,
            "executable": self.executable_path.name if self.executable_path else None,
        }


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _playwright_chromium() -> Path | None:
    root = os.environ.get("PLAYWRIGHT_BROWSERS_PATH")
    base = Path(root) if root and root != "0" else Path.home() / ".cache" / "ms-playwright"
    patterns = ("chromium-*/chrome-linux*/chrome", "chromium_headless_shell-*/chrome-*/*shell")
    for pattern in patterns:
        for candidate in sorted(base.glob(pattern), reverse=True):
            if _is_executable(candidate):
                return candidate
    return None


def find_chromium(settings: Settings) -> BrowserTarget | None:
    """Settings, then the system package, then PATH, then Playwright's download."""
    args = CHROMIUM_ARGS
    if settings.browser_executable is not None:
        if _is_executable(settings.browser_executable):
            return BrowserTarget("chromium", "settings", settings.browser_executable, None, args)
        return None
    for path in SYSTEM_CHROMIUM_PATHS:
        if _is_executable(path):
            return BrowserTarget("chromium", "system", path, None, args)
    for name in CHROMIUM_ON_PATH:
        found = shutil.which(name)
        if found:
            return BrowserTarget("chromium", "path", Path(found), None, args)
    bundled = _playwright_chromium()
    if bundled is not None:
        return BrowserTarget("chromium", "playwright", bundled, None, args)
    return None


def available_browsers(settings: Settings) -> list[BrowserTarget]:
    """Every browser a run may ask for on this server."""
    if settings.browser_ws_endpoint:
        return [BrowserTarget("chromium", "remote", ws_endpoint=settings.browser_ws_endpoint)]
    chromium = find_chromium(settings)
    return [chromium] if chromium else []


def resolve_browser(settings: Settings, name: str) -> BrowserTarget:
    """The target for ``name`` or ``BrowserNotAvailable`` listing what is installed."""
    browsers = available_browsers(settings)
    for target in browsers:
        if target.name == name:
            return target
    installed = [b.name for b in browsers]
    raise BrowserNotAvailable(
        f"Browser {name!r} is not available on this server"
        + (f"; installed: {', '.join(installed)}" if installed else "; none is installed"),
        details={"browser": name, "available": installed},
    )
