"""The run's folders and what goes into them before it starts: the project's files at their
pinned versions, our own pytest ini, the plugin's configuration, the launch file, and the
environment the run process gets (an allowlist, never the server's secrets)."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import scriptflow
from scriptflow.errors import ScriptflowError
from scriptflow.runs import isolation
from scriptflow.runs.egress_proxy import PROXY_PORT
from scriptflow.runs.execution import RunRequest
from scriptflow.runs.project_config import ProjectConfig, config_notes, project_config
from scriptflow.runs.sandbox import SYSTEM_READ, SYSTEM_WRITE, python_read_paths
from scriptflow.runs.script_forms import prepare_script

# Variables a run process may inherit; everything else (DATABASE_URL, JWT_SECRET, OPENAI_*,
# SCRIPTFLOW_*, cloud credentials, ...) is dropped by construction rather than by a denylist.
INHERITED_ENV = ("PATH", "LANG", "LC_ALL", "TZ", "PLAYWRIGHT_BROWSERS_PATH")
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
OUTPUT_LOG = "output.log"
PYTHONPATH_DIR = "pythonpath"
PACKAGE_DIR = Path(scriptflow.__file__).resolve().parent


def run_environment(parent: Mapping[str, str], workdir: Path, tmpdir: Path) -> dict[str, str]:
    """The whole environment of a run process: an allowlist, never the server's secrets."""
    env = {key: parent[key] for key in INHERITED_ENV if key in parent}
    env.setdefault("PATH", DEFAULT_PATH)
    env.setdefault("LANG", "C.UTF-8")
    env.update(
        {
            "HOME": str(workdir / "home"),
            # Short on purpose: Chromium's singleton socket path must fit in 108 bytes.
            "TMPDIR": str(tmpdir),
            # The run imports scriptflow's plugin, and nothing from the server's site dirs.
            # Only scriptflow itself (a link to the package), not the tree around it.
            "PYTHONPATH": str(workdir / PYTHONPATH_DIR),
            "PYTHONNOUSERSITE": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            # Only the plugins a run needs: faster start, no surprises from the server's venv.
            "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        }
    )
    return env


def sandbox_environment(parent: Mapping[str, str]) -> dict[str, str]:
    """The environment inside the namespaces: the same allowlist, inside paths, and the
    egress bridge as every client's proxy (there is no other way out)."""
    env = run_environment(parent, isolation.INSIDE_WORK, Path("/tmp"))  # noqa: S108 (the sandbox's own tmpfs)
    env["PYTHONPATH"] = str(isolation.INSIDE_PYTHON)
    proxy = f"http://127.0.0.1:{PROXY_PORT}"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        env[name] = env[name.lower()] = proxy
    return env


# Files pytest treats as test modules by default (python_files).
TEST_MODULE = re.compile(r"(^|/)(test_[^/]*|[^/]*_test)\.py$")
# The run's own entries at the root of its work dir, where the tree is written too: a tree
# entry of these names is not written (the project's pytest.ini is merged into ours, see
# project_config).
RESERVED_ROOT = frozenset(
    {
        "pytest.ini",
        "plugin.json",
        "launch.json",
        "results.json",
        "results.tmp",
        "progress.jsonl",
        "home",
        PYTHONPATH_DIR,
        "playwright-output",
    }
)


# The run's pytest plugins, imported by the run process and passed to ``pytest.main`` as
# modules: pytest marks every ``-p`` module for assertion rewriting, so named there both were
# parsed and recompiled from source at every run start (about 0.1 CPU s; the run cannot cache
# the rewritten bytecode, as it writes none).
RUN_PLUGINS = ("pytest_playwright.pytest_playwright", "scriptflow.runs.engine.plugin")


def pytest_arguments(request: RunRequest, work: Path | None = None) -> list[str]:
    """The pytest command line inside the run process (its own ini: the plugin is active).

    The run works in its work dir: a lone script is ``test_script.py`` there; a tree is written
    there as the repository holds it, so it runs from its root as the team runs it, with the
    selection's paths and node ids (none: the whole suite). The plugins are not named here
    (``-p``) but handed to ``pytest.main`` as modules (see ``RUN_PLUGINS``).
    """
    targets = list(request.selection) if request.files else ["test_script.py"]
    return [
        *targets,
        "-c",
        "pytest.ini",
        "--rootdir",
        ".",
        "-p",
        "no:cacheprovider",
        "--browser",
        request.browser.name,
        "--base-url",
        request.base_url,
        "--output",
        "playwright-output",
        "--scriptflow-config",
        "plugin.json",
        "-q",
        "-rN",
    ]


def write_tree(root: Path, files: Mapping[str, str], selected: Collection[str] = ()) -> list[Path]:
    """The project's files under ``root`` (what it wrote, folders included); test modules
    (and files selected by path) in codegen form get their test.

    Paths were checked when the files were stored; checked again here because this writes.
    """
    written: list[Path] = []
    for path, content in files.items():
        parts = PurePosixPath(path).parts
        if not parts or path.startswith("/") or ".." in parts or "\\" in path:
            raise ValueError(f"refusing to write {path!r} outside the run's tree")
        if parts[0] in RESERVED_ROOT:
            continue
        target = root.joinpath(*parts)
        for folder in reversed(target.parents[: len(parts) - 1]):
            if not folder.exists():
                folder.mkdir()
                written.append(folder)
        if TEST_MODULE.search(path) or path in selected:
            # A syntax error is left for pytest to report as this file's collection error.
            with contextlib.suppress(ScriptflowError):
                content = prepare_script(content).source
        # Bytes as stored: a CRLF or non-ASCII data file reads as it does in the repository.
        target.write_bytes(content.encode("utf-8"))
        written.append(target)
    return written


def plugin_config(
    request: RunRequest, work: Path, artifacts: Path, *, isolated: bool = False
) -> dict[str, Any]:
    """What the in-process plugin reads (see ``engine.record.RunConfig``); paths as the run
    sees them."""
    target = request.browser
    return {
        "results_path": str(work / "results.json"),
        "artifacts_dir": str(artifacts),
        "browser": target.name,
        "base_url": request.base_url,
        "executable_path": str(target.executable_path) if target.executable_path else None,
        "launch_args": list(target.launch_args),
        # The browser's only way out is the egress bridge, where the policy decides; loopback
        # origins (the demo app) go through it too.
        "proxy_server": f"http://127.0.0.1:{PROXY_PORT}" if isolated else None,
        "ws_endpoint": target.ws_endpoint,
        "retries": request.retries,
        "trace": request.trace,
        "artifact_max_bytes": request.artifact_max_bytes,
        "action_timeout_ms": request.action_timeout_ms,
        # In the namespaces the egress proxy decides for every client, not just the browser.
        "block_private_egress": request.block_private_egress and not isolated,
        "tree_root": str(work),
        "shard": dict(request.shard) if request.shard else None,
    }


def sandbox_paths(request: RunRequest, root: Path, tmpdir: Path) -> dict[str, list[str]]:
    """Legacy sandbox: what a run may read (system, Python, scriptflow, its browser) and
    write (its folders)."""
    read = [*SYSTEM_READ, *python_read_paths(), str(PACKAGE_DIR)]
    if request.browser.executable_path is not None:
        read.append(str(request.browser.executable_path.resolve().parent))
    return {"read": read, "write": [*SYSTEM_WRITE, str(root), str(tmpdir)]}


@dataclass(frozen=True)
class RunFolders:
    """The run's own (hostile-writable) folders and the worker's private ones."""

    root: Path
    work: Path
    artifacts: Path
    store: Path
    private: Path  # the worker's: the output log, the proxy socket; never writable by the run

    @property
    def log(self) -> Path:
        return self.private / "log" / OUTPUT_LOG

    @property
    def egress(self) -> Path:
        return self.private / "egress"

    @property
    def tmp(self) -> Path:  # the legacy sandbox's TMPDIR
        return self.private / "t"


def make_folders(request: RunRequest, private: Path) -> RunFolders:
    """Create the run's folders: writable by the run, nothing else of ours is."""
    # Absolute: the run process works in `work`, and the data dir may be given relative.
    root = request.workdir.resolve()
    store = (request.artifact_store or root / "store").resolve()
    folders = RunFolders(root, root / "work", root / "artifacts", store, private)
    for folder in (root, folders.work, folders.work / "home", folders.artifacts):
        folder.mkdir(parents=True, exist_ok=True)
    isolation.chown_for_run(folders.work, folders.work / "home", folders.artifacts)
    # Others may pass through to the socket and the synthetic /etc, not list or read the log.
    private.chmod(0o711)
    folders.log.parent.mkdir(mode=0o700)
    folders.egress.mkdir(mode=0o755)
    folders.tmp.mkdir(mode=0o700)
    return folders


def prepare_workdir(
    request: RunRequest, folders: RunFolders, *, isolated: bool, launch_extra: dict[str, Any]
) -> None:
    """Write the script, ini, plugin config and launch file into the run's work dir."""
    work = folders.work
    if request.files:
        # A lone file selected by path is a test module whatever its name (pytest runs it).
        selected = {arg.split("::", 1)[0] for arg in request.selection if arg[:1] != "-"}
        written = write_tree(work, request.files, selected)
        # The run may write beside its files (reports, downloads), as it could locally.
        isolation.chown_for_run(*written)
    else:
        (work / "test_script.py").write_text(prepare_script(request.script).source)
    # Our own ini: the server's pyproject (which disables the playwright plugin) never applies;
    # the project's own settings are merged in through allow-lists, what was dropped is noted.
    project = project_config(request.files, request.selection) if request.files else ProjectConfig()
    (work / "pytest.ini").write_text(project.render())
    if isolated:
        inside_work, inside_artifacts = isolation.INSIDE_WORK, isolation.INSIDE_ARTIFACTS
    else:
        inside_work, inside_artifacts = work, folders.artifacts
        (work / PYTHONPATH_DIR).mkdir(exist_ok=True)
        (work / PYTHONPATH_DIR / PACKAGE_DIR.name).symlink_to(PACKAGE_DIR, target_is_directory=True)
    config = plugin_config(request, inside_work, inside_artifacts, isolated=isolated)
    (work / "plugin.json").write_text(json.dumps(config))
    launch = {
        "pytest_args": pytest_arguments(request, inside_work),
        "plugins": list(RUN_PLUGINS),
        # A tree's root goes on sys.path (its modules import each other from there).
        "tree": str(inside_work) if request.files else None,
        "memory_mb": request.memory_mb,
        # CPU seconds per process: generous, the wall clock is the real limit.
        "cpu_s": max(int(request.timeout_s * 2), 30),
        "isolated": isolated,
        "notes": config_notes(project),
        **launch_extra,
    }
    if not isolated and request.filesystem_sandbox:
        launch["sandbox"] = sandbox_paths(request, folders.root, folders.tmp)
    (work / "launch.json").write_text(json.dumps(launch))
