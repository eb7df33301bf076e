"""The project's own pytest settings are honoured by a run, minus what is unsafe: pure rules,
and one real pytest collection (no browser) through the ini a run writes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from scriptflow.runs.project_addopts import conftest_options, safe_addopts
from scriptflow.runs.project_config import ProjectConfig, config_notes, project_config
from scriptflow.runs.workdir import write_tree

CONFTEST = (
    "def pytest_addoption(parser):\n"
    '    parser.addoption("--env", action="store", default="dev")\n'
    '    parser.getgroup("shop").addoption("--fast", action="store_true")\n'
    '    parser.addoption("--rootdir-of-mine")\n'  # pytest's own prefix: never the project's
    "\n"
    "import pytest\n"
    "@pytest.fixture\n"
    "def env(request):\n"
    '    return request.config.getoption("--env")\n'
)


@pytest.mark.parametrize(
    ("tokens", "kept", "dropped"),
    [
        (["-ra", "-vv", "--strict-markers", "--tb=short"], ["-ra", "-vv", "--strict-markers",
                                                             "--tb=short"], 0),
        (["-p", "xdist", "-pevil", "-p", "no:warnings"], ["-p", "no:warnings"], 2),
        (["--rootdir=/", "--rootdir", "/", "-c", "/etc/x.ini", "-o", "addopts=-p x"], [], 7),
        (["--confcutdir=/", "--basetemp", "/tmp/x", "--junitxml=/tmp/r.xml"], [], 4),
        (["--pdb", "--lf", "--headed", "--browser", "firefox", "-n", "4"], [], 7),
        (["tests/other.py", "--", "-p", "x"], [], 2),
        (["-k", "not slow", "-m", "smoke", "-W", "error"], ["-knot slow", "-msmoke", "-Werror"], 0),
        (["--env", "staging", "--fast", "--env=-p"], ["--env=staging", "--fast", "--env=-p"], 0),
        (["--fast=1", "--rootdir-of-mine", "x"], [], 3),
    ],
)  # fmt: skip
def test_addopts_keep_the_safe_options_glued_and_drop_the_rest(
    tokens: list[str], kept: list[str], dropped: int
) -> None:
    options = conftest_options({"conftest.py": CONFTEST, "pages/conftest.txt": CONFTEST})
    assert options == {"--env": True, "--fast": False}
    got, refused = safe_addopts(tokens, options)
    assert got == kept
    assert len(refused) == dropped, refused


def test_files_are_read_in_pytests_order_and_values_cannot_open_keys() -> None:
    toml = (
        "[tool.pytest.ini_options]\n"
        'addopts = ["--strict-markers", "-p", "evil"]\n'
        'markers = ["slow: takes long", "smoke"]\n'
        "xfail_strict = true\n"
        'testpaths = ["tests"]\n'
        'pythonpath = ["../outside"]\n'
        'required_plugins = ["pytest-xdist"]\n'
    )
    config = project_config({"pyproject.toml": toml, "setup.cfg": "[tool:pytest]\nmarkers = x\n"})
    assert config.source == "pyproject.toml"
    assert config.addopts == ["--strict-markers"]
    assert (
        config.ini["markers"] == "slow: takes long\nsmoke" and config.ini["xfail_strict"] == "true"
    )
    assert "pythonpath" not in config.ini and config.ini["testpaths"] == "tests"
    notes = config_notes(config)
    assert any("-p evil" in n for n in notes) and any("required_plugins" in n for n in notes)
    assert any("pythonpath" in n for n in notes)
    # pytest.ini wins over pyproject.toml; a pyproject without the table does not count.
    assert project_config({"pytest.ini": "", "pyproject.toml": toml}).source == "pytest.ini"
    # ... but, as under pytest, still marks the root when nothing else has settings.
    assert project_config({"pyproject.toml": "[tool.black]\n"}) == ProjectConfig("pyproject.toml")
    assert project_config({"tox.ini": "[pytest]\nmarkers = a\n"}).ini == {"markers": "a"}
    assert "not read" in project_config({"pyproject.toml": "[[["}).dropped[0]
    # A value with line breaks stays under its key: every line is indented.
    hostile = project_config(
        {"pytest.ini": "[pytest]\nmarkers =\n    a\n    b\nfilterwarnings = x\n"}
    )
    rendered = hostile.render()
    assert "\nmarkers =\n    a\n    b\n" in rendered
    injected = project_config({"pyproject.toml": 'markers = ["a\\naddopts = -p evil"]'.join(
        ["[tool.pytest.ini_options]\n", "\n"])})  # fmt: skip
    assert "\naddopts = -p evil" not in injected.render()
    assert "\n    addopts = -p evil" in injected.render()


def test_a_run_collects_with_the_projects_settings(tmp_path: Path) -> None:
    files = {
        "pytest.ini": (
            "[pytest]\n"
            "addopts = --strict-markers -p no:randomly --rootdir=/ tests/only_this.py --env=ci\n"
            "markers =\n    slow: takes long\n"
            "python_functions = test_* check_*\n"
            "testpaths = tests\n"
        ),
        "conftest.py": CONFTEST,
        "tests/test_shop.py": (
            "import pytest\n\n"
            "@pytest.mark.slow\n"
            "def test_marked(env):\n    assert env == 'ci'\n\n"
            "def check_found():\n    pass\n"
        ),
        "tests/only_this.py": "def test_never_collected():\n    pass\n",
        "other/test_outside_testpaths.py": "def test_x():\n    pass\n",
    }
    work = tmp_path / "work"
    work.mkdir()
    write_tree(work, files)
    config = project_config(files)
    # What prepare_workdir writes: the tree's pytest.ini is not written, ours (merged) is.
    assert not (work / "pytest.ini").exists()
    (work / "pytest.ini").write_text(config.render())
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-c", "pytest.ini", "--rootdir", ".", "-p",
         "no:cacheprovider", "-q", "-rA"],
        cwd=work, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    # The project's markers (strict), python_functions, testpaths and its own --env apply.
    assert "PASSED tests/test_shop.py::test_marked" in out
    assert "PASSED tests/test_shop.py::check_found" in out
    assert "2 passed" in out and "only_this" not in out and "outside" not in out
    assert any("--rootdir=/" in note for note in config_notes(config))


NESTED = {
    "pytest.ini": "[pytest]\nmarkers =\n    slow: takes long\n",
    "conftest.py": "import pytest\n\n@pytest.fixture\ndef from_root():\n    return 1\n",
    "tests/test_root.py": "def test_a(from_root):\n    pass\n",
    "tests/e2e/pytest.ini": "[pytest]\npython_functions = check_*\npythonpath = helpers\n",
    "tests/e2e/helpers/shop_helpers.py": "VALUE = 3\n",
    "tests/e2e/test_flow.py": (
        "import shop_helpers\n\n"
        "def check_helper():\n    assert shop_helpers.VALUE == 3\n\n"
        "def test_not_collected_here():\n    pass\n\n"
        "def check_root_fixture(from_root):\n    pass\n"
    ),
    "tests/e2e/sub/test_deeper.py": "def check_deeper():\n    pass\n",
}


@pytest.mark.parametrize(
    ("targets", "source"),
    [
        ((), "pytest.ini"),
        (("tests",), "pytest.ini"),
        (("-kcheck", "tests/e2e"), "tests/e2e/pytest.ini"),
        (("tests/e2e/test_flow.py::check_helper",), "tests/e2e/pytest.ini"),
        (("tests/e2e/sub/test_deeper.py",), "tests/e2e/pytest.ini"),
        (("tests/e2e/test_flow.py", "tests/test_root.py"), "pytest.ini"),
    ],
)
def test_the_config_file_is_the_one_plain_pytest_picks_for_the_paths(
    targets: tuple[str, ...], source: str
) -> None:
    assert project_config(NESTED, targets).source == source


def test_without_a_root_config_each_argument_finds_its_own_unless_setup_py_roots_it() -> None:
    files = {k: v for k, v in NESTED.items() if k != "pytest.ini"}
    targets = ("tests/e2e/test_flow.py", "tests/test_root.py")
    assert project_config(files, targets).source == "tests/e2e/pytest.ini"
    assert project_config({**files, "setup.py": ""}, targets).source is None


def test_a_nested_config_runs_as_under_plain_pytest(tmp_path: Path) -> None:
    """The same selection under plain pytest (in the tree) and as a run does (our ini)."""
    plain_tree, work = tmp_path / "plain", tmp_path / "work"
    for root in (plain_tree, work):
        root.mkdir()
    for path, content in NESTED.items():
        (plain_tree / path).parent.mkdir(parents=True, exist_ok=True)
        (plain_tree / path).write_text(content)
    write_tree(work, NESTED)
    config = project_config(NESTED, ["tests/e2e"])
    (work / "pytest.ini").write_text(config.render())
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    plain_args = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rA"]
    ours = [*plain_args, "-c", "pytest.ini", "--rootdir", "."]
    results = [
        subprocess.run(
            [*command, "tests/e2e"], cwd=cwd, env=env, capture_output=True, text=True,
            timeout=120, check=False,
        ).stdout
        for command, cwd in ((plain_args, plain_tree), (ours, work))
    ]  # fmt: skip
    for out in results:
        # python_functions and pythonpath of tests/e2e/pytest.ini; the root conftest is not
        # loaded (confcutdir), so its fixture is missing, as under plain pytest. (pytest shows
        # node ids from where it was started, so both read as tree paths here.)
        assert "PASSED tests/e2e/test_flow.py::check_helper" in out
        assert "PASSED tests/e2e/sub/test_deeper.py::check_deeper" in out
        assert "ERROR tests/e2e/test_flow.py::check_root_fixture" in out
        assert "not_collected" not in out
        assert "2 passed, 1 error" in out
    assert config_notes(config) == ["[scriptflow] pytest settings from tests/e2e/pytest.ini"]


def test_pyproject_native_pytest_table_is_read_and_both_styles_at_once_are_refused() -> None:
    native = '[tool.pytest]\nmarkers = ["slow: takes long"]\nxfail_strict = true\n'
    config = project_config({"pyproject.toml": native})
    assert config.ini == {"markers": "slow: takes long", "xfail_strict": "true"}
    both = native + '[tool.pytest.ini_options]\nmarkers = ["x"]\n'
    assert "not read" in project_config({"pyproject.toml": both}).dropped[0]


PYTEST_9_TREES: list[tuple[dict[str, str], str]] = [
    # pytest.toml before pytest.ini in one folder; [pytest] with TOML's own types.
    (
        {
            "pytest.ini": "[pytest]\nmarkers =\n    old: ini\n",
            "pytest.toml": '[pytest]\nmarkers = ["slow: takes long"]\nxfail_strict = true\n',
        },
        "",
    ),
    # A dotted .pytest.toml in tests/ wins over the root's pytest.ini for a run of tests/.
    ({"pytest.ini": "[pytest]\n", "tests/.pytest.toml": "[pytest]\n"}, "tests"),
    # An empty .pytest.ini still is the config (and the root); pyproject above is not read.
    (
        {"pyproject.toml": "[tool.pytest]\nxfail_strict = true\n", "tests/e2e/.pytest.ini": ""},
        "tests/e2e",
    ),
    # No settings anywhere: the first pyproject.toml still marks the root (tox.ini has none).
    ({"tests/pyproject.toml": "[project]\nname = 'x'\n", "tox.ini": "[tox]\n"}, "tests"),
]


@pytest.mark.parametrize(("files", "folder"), PYTEST_9_TREES)
def test_pytest_9_config_files_are_picked_as_pytest_itself_picks_them(
    tmp_path: Path, files: dict[str, str], folder: str
) -> None:
    """Against pytest's own search (``locate_config``) on the same tree written to disk."""
    from _pytest.config.findpaths import locate_config

    for path, content in {**files, f"{folder}/test_x.py".lstrip("/"): ""}.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(content)
    _, inipath, _, _ = locate_config(tmp_path, [tmp_path / folder])
    assert inipath is not None
    config = project_config(files, [folder] if folder else [])
    assert config.source == inipath.relative_to(tmp_path).as_posix()


def test_pytest_toml_settings_are_kept_and_options_outside_its_table_refused() -> None:
    config = project_config({"pytest.toml": PYTEST_9_TREES[0][0]["pytest.toml"]})
    assert config.source == "pytest.toml"
    assert config.ini == {"markers": "slow: takes long", "xfail_strict": "true"}
    loose = project_config({"tests/pytest.toml": 'markers = ["x"]\n'}, ["tests"])
    assert loose.source == "tests/pytest.toml"
    assert "options outside the [pytest] table: markers" in loose.dropped[0]
    # Kinds and paths: the tree holds these files as config, anywhere.
    from scriptflow.scripts.paths import FileKind, kind_for_path, normalise_path

    for name in ("pytest.toml", "tests/.pytest.toml", ".pytest.ini", "a/b/.pytest.ini"):
        assert kind_for_path(normalise_path(name)) is FileKind.CONFIG
    assert kind_for_path("pytest.yaml") is FileKind.DATA
    assert kind_for_path("pytest.cfg") is None
