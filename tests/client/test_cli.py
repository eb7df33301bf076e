"""`scriptflow login`, `push` and `pull` against a real server on loopback.

One server (SQLite) for the module; each test has its own account and config folder.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner, Result

from app.main import create_app
from app.threaded_server import ThreadedServer
from scriptflow.cli import cli
from tests.factories import DEFAULT_PASSWORD
from tests.support.settings import settings_for

SUITE = Path(__file__).parents[1] / "fixtures" / "suite"
BODY_CAP = 16 * 1024


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[ThreadedServer]:
    folder = tmp_path_factory.mktemp("cli-server")
    shutil.copyfile(sqlite_template, folder / "scriptflow.db")
    # A small body cap, so that a push of a folder bigger than one request is tried here.
    settings = settings_for(
        f"sqlite+aiosqlite:///{folder / 'scriptflow.db'}", folder, max_body_bytes=BODY_CAP
    )
    with ThreadedServer(create_app(settings, run_background=False)) as running:
        yield running


def register(server: ThreadedServer) -> str:
    email = f"cli-{uuid.uuid4().hex[:10]}@example.com"
    r = httpx.post(
        f"{server.base_url}/v1/auth/register", json={"email": email, "password": DEFAULT_PASSWORD}
    )
    assert r.status_code == 201, r.text
    return email


def token(server: ThreadedServer, email: str) -> dict[str, str]:
    r = httpx.post(
        f"{server.base_url}/v1/auth/login", json={"email": email, "password": DEFAULT_PASSWORD}
    )
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def scriptflow(config: Path, *args: str, password: str = DEFAULT_PASSWORD) -> Result:
    env = {"XDG_CONFIG_HOME": str(config), "SCRIPTFLOW_PASSWORD": password}
    return CliRunner().invoke(cli, list(args), env=env)


def make_repo(root: Path) -> Path:
    """The fixture suite as a git checkout: .gitignore files, CRLF, non-ASCII, junk beside it."""
    repo = root / "repo"
    shutil.copytree(SUITE, repo, ignore=shutil.ignore_patterns("__pycache__"))
    (repo / ".gitignore").write_text("secrets.json\nbuild/\n*.log\n")
    (repo / "data" / ".gitignore").write_text("local_*.csv\n")
    (repo / "secrets.json").write_text('{"token": "do-not-upload"}\n')
    (repo / "build").mkdir()
    (repo / "build" / "test_generated.py").write_text("x = 1\n")
    (repo / "run.log").write_text("log\n")
    (repo / "data" / "local_rows.csv").write_text("a\n")
    (repo / "data" / "crlf.csv").write_bytes("name,city\r\nZoë,Kraków\r\n".encode())
    (repo / "data" / "blob.txt").write_bytes(b"\x89PNG\r\n\x00\x00")
    (repo / "README.md").write_text("# suite\n")
    (repo / ".git").mkdir()
    (repo / ".git" / "HEAD.txt").write_text("ref: refs/heads/main\n")
    return repo


def sent_files(repo: Path) -> dict[str, bytes]:
    kept = {
        path.relative_to(repo).as_posix(): path.read_bytes()
        for path in repo.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    for left_out in (
        ".gitignore",
        "data/.gitignore",
        "secrets.json",
        "build/test_generated.py",
        "run.log",
        "data/local_rows.csv",
        "data/blob.txt",
        "README.md",
        ".git/HEAD.txt",
    ):
        kept.pop(left_out)
    return kept


def test_login_push_pull_round_trip_is_byte_exact(server: ThreadedServer, tmp_path: Path) -> None:
    email = register(server)
    config = tmp_path / "config"

    refused = scriptflow(
        config, "login", "--server", server.base_url, "--email", email, password="nope"
    )
    assert refused.exit_code == 1 and "error:" in refused.output
    assert not (config / "scriptflow" / "credentials.json").exists()
    result = scriptflow(config, "login", "--server", server.base_url + "/", "--email", email)
    assert result.exit_code == 0, result.output
    stored = config / "scriptflow" / "credentials.json"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert stat.S_IMODE(stored.parent.stat().st_mode) == 0o700
    assert json.loads(stored.read_text())["server"] == server.base_url

    repo = make_repo(tmp_path)
    expected = sent_files(repo)
    project = f"Shop {uuid.uuid4().hex[:6]}"
    headers = token(server, email)
    r = httpx.post(f"{server.base_url}/v1/projects", json={"name": project}, headers=headers)
    project_id = r.json()["id"]

    result = scriptflow(config, "push", str(repo), "--project", project)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert sorted(line.split()[1] for line in lines if line.startswith("created")) == sorted(
        expected
    )
    assert "skipped   data/blob.txt (binary)" in lines
    assert "skipped   README.md (outside_tree)" in lines
    assert lines[-1] == f"{len(expected)} created, 0 updated, 0 unchanged, 2 skipped"
    assert not any("secrets.json" in line or "build/" in line for line in lines)

    result = scriptflow(config, "push", str(repo), "--project", project)
    assert (
        result.output.splitlines()[-1]
        == f"0 created, 0 updated, {len(expected)} unchanged, 2 skipped"
    )

    out = tmp_path / "pulled"
    result = scriptflow(config, "pull", str(out), "--project", project)
    assert result.exit_code == 0, result.output
    pulled = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert pulled == expected

    # An accepted change on the server comes back as exactly that change.
    listing = httpx.get(f"{server.base_url}/v1/projects/{project_id}/files", headers=headers).json()
    csv_id = next(entry["id"] for entry in listing if entry["path"] == "data/crlf.csv")
    new = "name,city\r\nZoë,Kraków\r\nJosé,São Paulo\r\n"
    r = httpx.put(f"{server.base_url}/v1/scripts/{csv_id}", json={"content": new}, headers=headers)
    assert r.status_code == 200
    result = scriptflow(config, "pull", str(out), "--project", project)
    assert result.output.splitlines()[-1] == f"1 written, {len(expected) - 1} unchanged, 0 refused"
    assert (out / "data" / "crlf.csv").read_bytes() == new.encode()


def test_refresh_roles_and_missing_login(server: ThreadedServer, tmp_path: Path) -> None:
    owner, viewer = register(server), register(server)
    config = tmp_path / "config"
    repo = make_repo(tmp_path)
    result = scriptflow(config, "push", str(repo), "--project", "Personal")
    assert result.exit_code == 1 and "scriptflow login" in result.output

    assert scriptflow(config, "login", "--server", server.base_url, "--email", owner).exit_code == 0
    # An expired access token is renewed from the refresh token, and the new pair is kept.
    stored = config / "scriptflow" / "credentials.json"
    credentials = json.loads(stored.read_text())
    stored.write_text(json.dumps({**credentials, "access_token": "expired"}))
    project = f"Team {uuid.uuid4().hex[:6]}"
    headers = token(server, owner)
    r = httpx.post(f"{server.base_url}/v1/projects", json={"name": project}, headers=headers)
    project_id = r.json()["id"]
    result = scriptflow(config, "push", str(repo), "--project", project)
    assert result.exit_code == 0, result.output
    renewed = json.loads(stored.read_text())
    assert renewed["access_token"] != "expired"
    assert renewed["refresh_token"] != credentials["refresh_token"]
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600

    r = httpx.post(
        f"{server.base_url}/v1/projects/{project_id}/members",
        json={"email": viewer, "role": "viewer"},
        headers=headers,
    )
    assert r.status_code == 201
    viewer_config = tmp_path / "viewer-config"
    assert (
        scriptflow(viewer_config, "login", "--server", server.base_url, "--email", viewer).exit_code
        == 0
    )
    result = scriptflow(viewer_config, "push", str(repo), "--project", project)
    assert result.exit_code == 1 and "403" in result.output
    result = scriptflow(viewer_config, "pull", str(tmp_path / "viewer-copy"), "--project", project)
    assert result.exit_code == 0, result.output
    result = scriptflow(viewer_config, "pull", str(tmp_path / "x"), "--project", "No such project")
    assert result.exit_code == 1 and "No project named" in result.output


def test_push_splits_over_the_body_cap_deletes_with_a_dry_run_first_and_pages_the_tree(
    server: ThreadedServer, tmp_path: Path
) -> None:
    email = register(server)
    config = tmp_path / "config"
    assert scriptflow(config, "login", "--server", server.base_url, "--email", email).exit_code == 0
    project = f"Big {uuid.uuid4().hex[:6]}"
    headers = token(server, email)
    r = httpx.post(f"{server.base_url}/v1/projects", json={"name": project}, headers=headers)
    project_id = r.json()["id"]
    repo = tmp_path / "big"
    (repo / "data").mkdir(parents=True)
    # Hex of random bytes compresses about 2x: 24 files of 3 KiB are well over one 16 KiB body.
    for n in range(24):
        (repo / "data" / f"rows_{n:02}.txt").write_text(os.urandom(1536).hex())
    (repo / "tests").mkdir()
    (repo / "tests" / "test_a.py").write_text("def test_a():\n    pass\n")

    result = scriptflow(config, "push", str(repo), "--project", project)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[-1] == "25 created, 0 updated, 0 unchanged, 0 skipped"
    assert any(line.startswith("sent as ") and "archives" in line for line in lines)

    # The listing comes a page at a time, in path order, with the next page in Link.
    paths: list[str] = []
    url: str | None = f"{server.base_url}/v1/projects/{project_id}/files?limit=10"
    pages = 0
    while url:
        r = httpx.get(url, headers=headers)
        assert r.status_code == 200, r.text
        paths += [entry["path"] for entry in r.json()]
        url, pages = r.links.get("next", {}).get("url"), pages + 1
        url = f"{server.base_url}{url}" if url and url.startswith("/") else url
    assert pages == 3 and paths == sorted(paths) and len(paths) == 25
    r = httpx.get(
        f"{server.base_url}/v1/projects/{project_id}/files",
        params={"cursor": "not a cursor!"},
        headers=headers,
    )
    assert r.status_code == 422, r.text  # not a cursor's shape
    # Any string of the shape is a position, even one no listing made (a NUL, bytes that are
    # not UTF-8, a dangling character): a page of the tree from somewhere, never an error.
    for cursor in ("AA", "X60t", "A"):
        r = httpx.get(
            f"{server.base_url}/v1/projects/{project_id}/files",
            params={"cursor": cursor, "limit": 10},
            headers=headers,
        )
        assert r.status_code == 200, r.text
        got = [entry["path"] for entry in r.json()]
        start = paths.index(got[0]) if got else len(paths)
        assert got == paths[start : start + len(got)]

    # Files gone from the folder: a dry run says what would go and changes nothing.
    for n in (3, 7):
        (repo / "data" / f"rows_{n:02}.txt").unlink()
    (repo / "tests" / "test_a.py").write_text("def test_a():\n    assert True\n")
    result = scriptflow(config, "push", str(repo), "--project", project, "--delete", "--dry-run")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [line.split()[1] for line in lines if line.startswith("deleted")] == [
        "data/rows_03.txt",
        "data/rows_07.txt",
    ]
    assert "updated   tests/test_a.py" in lines
    assert lines[-1] == (
        "dry run, nothing changed: 0 created, 1 updated, 22 unchanged, 2 deleted, 0 skipped"
    )
    listing = httpx.get(
        f"{server.base_url}/v1/projects/{project_id}/files?limit=200", headers=headers
    ).json()
    assert len(listing) == 25
    assert next(e for e in listing if e["path"] == "tests/test_a.py")["version"] == 1

    result = scriptflow(config, "push", str(repo), "--project", project, "--delete")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1].endswith("2 deleted, 0 skipped")
    listing = httpx.get(
        f"{server.base_url}/v1/projects/{project_id}/files?limit=200", headers=headers
    ).json()
    assert len(listing) == 23 and "data/rows_03.txt" not in {e["path"] for e in listing}
    # Without --delete nothing is ever deleted.
    (repo / "data" / "rows_00.txt").unlink()
    result = scriptflow(config, "push", str(repo), "--project", project)
    assert result.output.splitlines()[-1] == "0 created, 0 updated, 22 unchanged, 0 skipped"
