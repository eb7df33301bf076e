"""The project's own pytest configuration, merged into the run's ini: what is safe is kept.

A run is started with our ``pytest.ini`` (``-c``), which fixes the plugins, the browser, the
base URL and where artifacts go. The project's settings still matter — its markers (with
``--strict-markers``), ``testpaths``, ``python_files``, warning filters, ``pythonpath`` — so
they are read the way plain pytest finds them and copied into ours through two allow-lists.

Which file: pytest starts at the common ancestor folder of the run's paths and node ids (the
tree's root when there are none) and walks up; in each folder the first of ``pytest.toml``,
``.pytest.toml``, ``pytest.ini``, ``.pytest.ini`` (these four even when empty),
``pyproject.toml`` with ``[tool.pytest]`` or ``[tool.pytest.ini_options]``, ``tox.ini`` with
``[pytest]`` and ``setup.cfg`` with ``[tool:pytest]`` wins; when none has settings, the first
``pyproject.toml`` met still marks the root (pytest 9.2's ``locate_config``). So a
``tests/e2e/pytest.ini`` applies to a run of ``tests/e2e`` (or of one of its files) and to no
other run, as under plain pytest, which then also ignores every ``conftest.py`` above that
folder (its ``confcutdir``); the run does the same. One difference is kept on purpose: node ids
stay relative to the tree's root (pytest would make that folder the rootdir), so a test has one
id in every run.

What is kept:

- ini keys that only shape collection, reporting and warnings; anything that names a file
  outside the tree, needs a plugin the run does not have, or writes reports is dropped;
- ``addopts`` options that change no plugin, path or browser setting, plus the options the
  project's own ``conftest.py`` files declare (``parser.addoption("--env", …)``). ``-p``
  (load a plugin), ``--rootdir``, ``-c``, ``-o``, ``--confcutdir``, ``--basetemp``,
  ``--junitxml``, ``--pdb``, positional paths and the like are dropped.

Which ``addopts`` a run keeps, and which options the project's conftest files declare, is
``project_addopts``.

The config is hostile input (a pushed file): every value is re-written indented under its
key, so no value can open a key or section of its own. What was dropped is listed in the run's
output log.
"""

from __future__ import annotations

import configparser
import shlex
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from scriptflow.runs.project_addopts import conftest_options, safe_addopts
from scriptflow.scripts.paths import PYTEST_CONFIG_FILES

# pytest's own search order in a folder: the first file that has a pytest section wins.
CONFIG_FILES = PYTEST_CONFIG_FILES
# Files that are the configuration even without a pytest section (an empty one marks the root).
DEDICATED_FILES = frozenset({"pytest.toml", ".pytest.toml", "pytest.ini", ".pytest.ini"})

# Keys copied as they are: collection, reporting, warnings, logging to the terminal.
SAFE_KEYS = frozenset(
    {
        "markers",
        "python_files",
        "python_classes",
        "python_functions",
        "filterwarnings",
        "xfail_strict",
        "usefixtures",
        "empty_parameter_set_mark",
        "console_output_style",
        "doctest_optionflags",
        "log_level",
        "log_format",
        "log_date_format",
        "log_cli",
        "log_cli_level",
        "log_cli_format",
        "log_cli_date_format",
        "log_auto_indent",
        "enable_assertion_pass_hook",
        "verbosity_assertions",
        "truncation_limit_lines",
        "truncation_limit_chars",
        "minversion",
    }
)
# Keys whose values are paths: kept when every path stays inside the tree.
PATH_KEYS = frozenset({"testpaths", "pythonpath", "norecursedirs"})
# The run's own folders at the tree's root, never collected whatever the project says.
RUN_FOLDERS = ("home", "pythonpath", "playwright-output")
DEFAULT_NORECURSE = ".* *.egg _darcs build CVS dist node_modules venv {arch}"


@dataclass(frozen=True)
class ProjectConfig:
    """What of the project's pytest settings the run keeps, and what it dropped (and why)."""

    source: str | None = None  # the file's tree path, e.g. ``tests/e2e/pytest.ini``
    ini: dict[str, str] = field(default_factory=dict)
    addopts: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)

    @property
    def folder(self) -> str:
        """The tree folder the settings come from ("" for the root)."""
        return PurePosixPath(self.source).parent.as_posix().removeprefix(".") if self.source else ""

    def render(self) -> str:
        """Our ``pytest.ini``: the kept settings, the safe addopts, our run folders excluded."""
        norecurse = self.ini.get("norecursedirs", DEFAULT_NORECURSE)
        addopts = list(self.addopts)
        if self.folder:
            # Plain pytest loads no conftest.py above the folder of its config file.
            addopts.insert(0, f"--confcutdir={self.folder}")
        lines = ["[pytest]", f"addopts ={_indented(shlex.join(addopts))}"]
        lines.append(f"norecursedirs ={_indented(norecurse + ' ' + ' '.join(RUN_FOLDERS))}")
        for key, value in sorted(self.ini.items()):
            if key != "norecursedirs":
                lines.append(f"{key} ={_indented(value)}")
        return "\n".join(lines) + "\n"


def _indented(value: str) -> str:
    """A value as an ini continuation: every line indented, so none can start a key."""
    parts = [part.strip() for part in value.replace("\r", "\n").split("\n")]
    parts = [part for part in parts if part]
    if not parts:
        return ""
    if len(parts) == 1:
        return " " + parts[0]
    return "".join(f"\n    {part}" for part in parts)


def project_config(files: Mapping[str, str], targets: Sequence[str] = ()) -> ProjectConfig:
    """The project's pytest settings that plain pytest would read for a run of ``targets``
    (its paths and node ids; options are skipped), through the allow-lists (pure)."""
    folders = [_folder_of(files, target) for target in targets if not target.startswith("-")]
    ancestor = _common_folder(folders)
    found = _config_upwards(files, ancestor)
    if found is None and folders != [ancestor] and not _setup_py_upwards(files, ancestor):
        # pytest's second try when the common folder has none: each argument's own folder.
        found = next(
            (c for folder in folders if (c := _config_upwards(files, folder)) is not None),
            None,
        )
    return found or ProjectConfig()


def _folder_of(files: Mapping[str, str], target: str) -> str:
    path = target.split("::", 1)[0].strip("/").removeprefix("./")
    path = "" if path in (".", "") else path
    return PurePosixPath(path).parent.as_posix().removeprefix(".") if path in files else path


def _common_folder(folders: Sequence[str]) -> str:
    if not folders:
        return ""
    parts = [PurePosixPath(folder).parts for folder in folders]
    common: list[str] = []
    for level in zip(*parts, strict=False):
        if len(set(level)) != 1:
            break
        common.append(level[0])
    return "/".join(common)


def _upwards(folder: str) -> list[str]:
    """``a/b``, ``a``, then the root (""): pytest's walk, stopped at the tree's root."""
    parts = PurePosixPath(folder).parts if folder else ()
    return ["/".join(parts[:n]) for n in range(len(parts), -1, -1)]


def _setup_py_upwards(files: Mapping[str, str], folder: str) -> bool:
    return any(_joined(base, "setup.py") in files for base in _upwards(folder))


def _joined(folder: str, name: str) -> str:
    return f"{folder}/{name}" if folder else name


def _config_upwards(files: Mapping[str, str], folder: str) -> ProjectConfig | None:
    first_pyproject: str | None = None
    for base in _upwards(folder):
        for name in CONFIG_FILES:
            path = _joined(base, name)
            if path not in files:
                continue
            if name == "pyproject.toml" and first_pyproject is None:
                first_pyproject = path
            try:
                section = _section(name, files[path])
            except (configparser.Error, tomllib.TOMLDecodeError, ValueError) as error:
                return ProjectConfig(path, dropped=[f"{path}: not read ({_first_line(error)})"])
            if section is not None:
                return _filtered(path, section, conftest_options(files))
    # No settings anywhere up: pytest still takes the first pyproject.toml's folder as the
    # root (and so as where conftest.py files stop), with no settings.
    return ProjectConfig(first_pyproject) if first_pyproject is not None else None


def _section(name: str, text: str) -> dict[str, Any] | None:
    """The file's pytest section as key → value, None when it has none (pytest reads on)."""
    if name in ("pytest.toml", ".pytest.toml"):
        document = tomllib.loads(text)
        table = document.get("pytest")
        if isinstance(table, dict):
            return dict(table)  # TOML mode: native types
        loose = [key for key, value in document.items() if not isinstance(value, dict)]
        if loose:  # pytest refuses to start on these
            raise ValueError(f"options outside the [pytest] table: {', '.join(loose)}")
        return {}
    if name == "pyproject.toml":
        table = tomllib.loads(text).get("tool", {}).get("pytest", {})
        if not isinstance(table, dict):
            return None
        native = {key: value for key, value in table.items() if key != "ini_options"}
        options = table.get("ini_options")
        if native and options is not None:
            raise ValueError("both [tool.pytest] and [tool.pytest.ini_options] (pytest refuses)")
        if native:  # pytest 9's [tool.pytest], with TOML's own types
            return native
        return dict(options) if isinstance(options, dict) else None
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys as written
    parser.read_string(text)
    wanted = "tool:pytest" if name == "setup.cfg" else "pytest"
    if not parser.has_section(wanted):
        # An empty pytest.ini still marks the root (pytest stops there); the others do not.
        return {} if name in DEDICATED_FILES else None
    return dict(parser.items(wanted))


def _filtered(
    source: str, section: Mapping[str, Any], declared: Mapping[str, bool]
) -> ProjectConfig:
    ini: dict[str, str] = {}
    dropped: list[str] = []
    addopts: list[str] = []
    folder = ProjectConfig(source).folder
    for key, raw in section.items():
        value = _as_text(raw)
        if key == "addopts":
            tokens = raw if isinstance(raw, list) else shlex.split(value)
            addopts, refused = safe_addopts([str(t) for t in tokens], declared)
            dropped += [f"addopts {item}" for item in refused]
        elif key in SAFE_KEYS:
            ini[key] = value
        elif key in PATH_KEYS:
            problem = _path_problem(value)
            if problem is not None:
                dropped.append(f"{key} ({problem})")
            elif key == "pythonpath" and folder:
                # Relative to the config file's folder; ours is at the root.
                ini[key] = " ".join(_joined(folder, entry) for entry in value.split())
            else:
                ini[key] = value
        else:
            dropped.append(f"{key} (not a setting a run may take)")
    return ProjectConfig(source, ini, addopts, dropped)


def _as_text(raw: Any) -> str:
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, list):
        return "\n".join(_as_text(item) for item in raw)
    return str(raw)


def _path_problem(value: str) -> str | None:
    for entry in value.split():
        path = PurePosixPath(entry)
        if path.is_absolute() or ".." in path.parts or "\\" in entry or entry.startswith("~"):
            return f"{entry!r} is outside the tree"
    return None


def config_notes(config: ProjectConfig) -> list[str]:
    """Lines for the run's output log: which file's settings apply, and what was dropped."""
    if config.source is None:
        return []
    notes = [f"[scriptflow] pytest settings from {config.source}"]
    notes += [f"[scriptflow] {config.source}: dropped {item}" for item in config.dropped]
    return notes


def _first_line(error: Exception) -> str:
    return (str(error).splitlines() or [type(error).__name__])[0][:200]
