"""The project's ``addopts``, through an allow-list: what a run keeps of them, and the options
the project's own ``conftest.py`` files declare (which are the project's to pass).

Kept: options that change no plugin, path or browser setting, each glued to its value (so no
value can become an option of its own), and the options a conftest declares with
``parser.addoption``, read from its source (never run). Dropped, with the reason: ``-p`` (bar
plugins every run loads anyway), ``--rootdir``, ``-c``, ``-o``, ``--confcutdir``,
``--basetemp``, ``--junitxml``, ``--pdb``, positional paths and the like. See
``project_config`` for which file the settings come from.
"""

from __future__ import annotations

import ast
import shlex
from collections.abc import Mapping
from pathlib import PurePosixPath

# addopts options without a value, and with one (given as ``--opt=v``, ``--opt v`` or ``-kv``).
SAFE_FLAGS = frozenset(
    {
        "-v",
        "--verbose",
        "-q",
        "--quiet",
        "-s",
        "-x",
        "--exitfirst",
        "-l",
        "--showlocals",
        "--strict-markers",
        "--strict-config",
        "--strict",
        "--no-header",
        "--no-summary",
        "--disable-warnings",
        "--disable-pytest-warnings",
        "--runxfail",
        "--full-trace",
        "--continue-on-collection-errors",
        "--setup-show",
        "--doctest-modules",
    }
)
SAFE_VALUED = frozenset(
    {
        "--tb",
        "--maxfail",
        "--durations",
        "--durations-min",
        "-k",
        "-m",
        "-W",
        "--pythonwarnings",
        "--capture",
        "--import-mode",
        "--log-level",
        "--log-cli-level",
        "--log-format",
        "--color",
        "--code-highlight",
        "-r",
    }
)
# Plugins an addopts ``-p`` may name: ones every run loads anyway, or built-ins turned off.
SAFE_PLUGINS = frozenset(
    {"pytest_playwright", "no:warnings", "no:doctest", "no:cacheprovider", "no:legacypath"}
)
_SHORT_FLAGS = frozenset("vqsxl")
# Names pytest, pytest-playwright or the run own: a conftest that claims to declare one of
# them does not make it safe (pytest refuses the conftest, after reading addopts).
_NOT_THE_PROJECTS = (
    "--rootdir", "--confcutdir", "--basetemp", "--override-ini", "--config-file", "--junit",
    "--pdb", "--trace", "--debug", "--browser", "--base-url", "--output", "--headed",
    "--slowmo", "--device", "--video", "--screenshot", "--tracing", "--full-page-screenshot",
    "--scriptflow", "--cache", "--lf", "--ff", "--last-failed", "--failed-first", "--nf",
    "--new-first", "--sw", "--stepwise", "--pyargs", "--noconftest", "--keep-duplicates",
    "--co", "--collect-only", "--deselect", "--ignore", "--log-file", "--result-log",
    "--plugins", "--help", "--version", "--fixtures", "--markers", "--setup-plan",
)  # fmt: skip


def safe_addopts(tokens: list[str], declared: Mapping[str, bool]) -> tuple[list[str], list[str]]:
    """The options of ``tokens`` a run keeps (each glued to its value, so no value can become
    an option) and the ones it drops with the reason. ``declared``: the project's own options
    (name → takes a value), from its conftest files (pure)."""
    kept: list[str] = []
    refused: list[str] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        index += 1
        if token == "--":
            refused.append(f"{shlex.join(tokens[index - 1 :])} (ends the options)")
            break
        if not token.startswith("-"):
            refused.append(f"{token!r} (a path: the run's selection decides what runs)")
            continue
        name, glued, value = token.partition("=")
        if not token.startswith("--") and len(token) > 2:
            name, glued, value = token[:2], "=", token[2:]
            if name[1] in _SHORT_FLAGS and set(token[1:]) <= _SHORT_FLAGS:
                kept.append(token)  # -vv, -qx
                continue
        takes_value = name in SAFE_VALUED or name == "-p" or declared.get(name, False)
        if takes_value and not glued:
            if index >= len(tokens):
                refused.append(f"{token} (no value)")
                break
            value = tokens[index]
            index += 1
        if name == "-p":
            if value in SAFE_PLUGINS:
                kept += ["-p", value]
            else:
                refused.append(f"-p {value} (loads or removes a plugin)")
        elif name in SAFE_FLAGS and not glued:
            kept.append(name)
        elif name in SAFE_VALUED or name in declared:
            if declared.get(name, True):
                kept.append(f"{name}={value}" if name.startswith("--") else f"{name}{value}")
            elif not glued:
                kept.append(name)
            else:
                refused.append(f"{token} (takes no value)")
        else:
            refused.append(f"{token} (not an option a run may take)")
    return kept, refused


# argparse actions that take no value.
_FLAG_ACTIONS = frozenset(
    {"store_true", "store_false", "store_const", "append_const", "count", "help", "version"}
)


def conftest_options(files: Mapping[str, str]) -> dict[str, bool]:
    """Long options the project's conftest files declare with ``addoption`` → takes a value.

    Read from the source (never run): ``parser.addoption("--env", action="store", …)``, also
    through ``parser.getgroup(...).addoption``. An option pytest or a plugin owns cannot be
    re-declared (pytest refuses the conftest), so the names are the project's."""
    declared: dict[str, bool] = {}
    for path, text in files.items():
        if PurePosixPath(path).name != "conftest.py":
            continue
        try:
            module = ast.parse(text)
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(module):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("addoption", "_addoption")
            ):
                continue
            action = next(
                (
                    k.value.value
                    for k in node.keywords
                    if k.arg == "action" and isinstance(k.value, ast.Constant)
                ),
                "store",
            )
            for arg in node.args:
                if (
                    isinstance(arg, ast.Constant)
                    and isinstance(arg.value, str)
                    and arg.value.startswith("--")
                    and len(arg.value) > 2
                    and not arg.value.startswith(_NOT_THE_PROJECTS)
                ):
                    declared[arg.value] = action not in _FLAG_ACTIONS
    return declared
