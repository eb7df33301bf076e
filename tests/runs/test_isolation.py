"""Choosing the sandbox, and collecting artifacts from a run folder that a hostile run wrote."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from scriptflow.config import Settings
from scriptflow.runs import isolation
from scriptflow.runs.artifacts import collect, read_run_file, served_path, wanted_entries
from scriptflow.runs.isolation import IsolationUnavailable, choose_isolation

CAP = 1024


@pytest.fixture
def no_bwrap(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """A machine without bubblewrap: nothing on PATH."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    isolation.namespaces_missing.cache_clear()
    yield
    isolation.namespaces_missing.cache_clear()


def test_this_machine_runs_in_namespaces() -> None:
    assert isolation.namespaces_missing() is None
    assert choose_isolation(Settings()).mode == "namespaces"


@pytest.mark.usefixtures("no_bwrap")
def test_production_refuses_to_start_without_isolation_and_names_what_is_missing() -> None:
    with pytest.raises(IsolationUnavailable) as refused:
        choose_isolation(Settings(env="production", JWT_SECRET="p" * 48))
    assert "bwrap is not installed" in refused.value.message
    assert "bubblewrap" in refused.value.message


@pytest.mark.usefixtures("no_bwrap")
def test_a_production_worker_does_not_start_without_isolation(tmp_path: Path) -> None:
    from scriptflow.runs.worker import RunWorker

    settings = Settings(env="production", JWT_SECRET="p" * 48, data_dir=tmp_path)
    with pytest.raises(IsolationUnavailable):
        RunWorker(sessionmaker=None, settings=settings)  # type: ignore[arg-type]


@pytest.mark.usefixtures("no_bwrap")
def test_development_falls_back_to_the_legacy_sandbox_and_says_so() -> None:
    chosen = choose_isolation(Settings())
    assert chosen.mode == "legacy"
    assert "weaker" in chosen.describe() and "bwrap is not installed" in chosen.describe()


def test_the_legacy_sandbox_is_never_allowed_in_production() -> None:
    with pytest.raises(IsolationUnavailable):
        choose_isolation(Settings(env="production", JWT_SECRET="p" * 48, run_isolation="legacy"))


def _manifest(*names: str) -> list[dict[str, object]]:
    return [{"name": n, "kind": "log", "content_type": "text/html", "size_bytes": 1} for n in names]


def test_only_plain_private_files_named_in_the_manifest_are_copied(tmp_path: Path) -> None:
    run, store, outside = tmp_path / "run", tmp_path / "store", tmp_path / "outside.db"
    run.mkdir()
    outside.write_bytes(b"password hashes")
    (run / "ok.log").write_text("fine")
    (run / "unlisted.log").write_text("not in the manifest")
    (run / "link.log").symlink_to(outside)
    os.link(outside, run / "hard.log")  # a hard link to a file outside the run
    os.mkfifo(run / "fifo.log")  # would block a reader forever
    (run / "dir.log").mkdir()
    stored = collect(
        _manifest("ok.log", "link.log", "hard.log", "fifo.log", "dir.log", "../outside.db"),
        run,
        store,
        max_bytes=CAP,
        max_total_bytes=10 * CAP,
    )
    assert [(a.name, a.size_bytes, a.content_type) for a in stored] == [
        ("ok.log", 4, "text/plain")  # the content type is ours, never the manifest's
    ]
    assert sorted(p.name for p in store.iterdir()) == ["ok.log"]
    assert outside.read_bytes() == b"password hashes"  # untouched, not truncated


def test_copies_stop_at_the_cap_whatever_the_manifest_claims(tmp_path: Path) -> None:
    run, store = tmp_path / "run", tmp_path / "store"
    run.mkdir()
    for name in ("a.log", "b.log", "c.log"):
        (run / name).write_bytes(b"x" * (CAP + 10))
    stored = collect(
        _manifest("a.log", "b.log", "c.log"), run, store, max_bytes=CAP, max_total_bytes=2 * CAP
    )
    assert [(a.name, a.size_bytes, a.truncated) for a in stored] == [
        ("a.log", CAP, True),
        ("b.log", CAP, True),
    ]
    assert (run / "a.log").stat().st_size == CAP + 10  # the run's file is left as it was


def test_an_artifacts_dir_replaced_by_a_link_yields_nothing(tmp_path: Path) -> None:
    real = tmp_path / "elsewhere"
    real.mkdir()
    (real / "secret.log").write_text("s")
    (tmp_path / "run").symlink_to(real)
    assert collect(_manifest("secret.log"), tmp_path / "run", tmp_path / "s", max_bytes=CAP,
                   max_total_bytes=CAP) == []  # fmt: skip


def test_manifest_names_are_plain_file_names() -> None:
    manifest = [
        *_manifest("trace.zip", ".hidden", "a/b.log", "..", "trace.zip"),
        {"name": "x.png", "kind": "executable"},
        "not a mapping",
    ]
    assert wanted_entries(manifest) == [("trace.zip", "log", False)]


def test_results_are_read_without_following_links(tmp_path: Path) -> None:
    (tmp_path / "elsewhere.json").write_text('{"tests": []}')
    (tmp_path / "results.json").symlink_to(tmp_path / "elsewhere.json")
    assert read_run_file(tmp_path, "results.json", 1024) is None
    (tmp_path / "results.json").unlink()
    (tmp_path / "results.json").write_text('{"tests": []}')
    assert read_run_file(tmp_path, "results.json", 1024) == b'{"tests": []}'
    assert read_run_file(tmp_path, "results.json", 4) is None  # over the size limit


def test_only_regular_files_in_the_store_are_served(tmp_path: Path) -> None:
    store = tmp_path / "artifacts" / "run-1"
    store.mkdir(parents=True)
    (store / "trace.zip").write_bytes(b"PK")
    (store / "link.zip").symlink_to(tmp_path / "scriptflow.db")
    (tmp_path / "scriptflow.db").write_bytes(b"db")
    run_dir = tmp_path / "runs" / "run-1" / "artifacts"
    run_dir.mkdir(parents=True)
    (run_dir / "trace.zip").write_bytes(b"PK")
    assert served_path(tmp_path, store / "trace.zip") == store / "trace.zip"
    assert served_path(tmp_path, store / "link.zip") is None
    assert served_path(tmp_path, run_dir / "trace.zip") is None  # a run's own folder: never
    assert served_path(tmp_path, tmp_path / "scriptflow.db") is None


def test_the_jwt_secret_can_come_from_a_file_instead_of_the_environment(tmp_path: Path) -> None:
    from scriptflow.config import ConfigurationError

    secret = tmp_path / "jwt"
    secret.write_text("f" * 48 + "\n")
    secret.chmod(0o600)
    settings = Settings(JWT_SECRET_FILE=secret, env="production", data_dir=tmp_path)
    assert settings.resolve_jwt_secret() == "f" * 48
    missing = Settings(JWT_SECRET_FILE=tmp_path / "missing", env="production", data_dir=tmp_path)
    with pytest.raises(ConfigurationError, match="JWT_SECRET_FILE"):
        missing.resolve_jwt_secret()


def test_the_server_process_is_not_dumpable_once_it_can_execute_runs() -> None:
    import subprocess
    import sys

    code = (
        "import ctypes; from scriptflow.runs.executor import SubprocessExecutor\n"
        "SubprocessExecutor()\n"
        "print(ctypes.CDLL(None).prctl(3, 0, 0, 0, 0))\n"  # PR_GET_DUMPABLE
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "0"
