"""The real server, started as a user starts it, answering the seed's cURL examples."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.postgres import PostgresCluster, free_port

# Each test starts real server or CLI processes.
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
SECRET = "server-test-secret-" + "z" * 40


def start_server(
    args: list[str], env: dict[str, str], cwd: Path
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [*args, "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read().decode() if proc.stdout else ""
            raise AssertionError(f"server exited early: {out[-2000:]}")
        try:
            with urllib.request.urlopen(f"{base}/readyz", timeout=1) as r:  # noqa: S310
                if r.status == 200:
                    return proc, base
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("server did not become ready in 60 s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def curl(command: str, base: str) -> dict[str, object]:
    """Run a cURL example from the seed, pointed at this server instead of port 8000."""
    argv = shlex.split(command.replace("http://localhost:8000", base).replace("\\\n", " "))
    out = subprocess.run(
        [*argv, "-s", "--fail-with-body"], capture_output=True, check=True, timeout=30
    )
    body: dict[str, object] = json.loads(out.stdout)
    return body


def clean_env(**extra: str) -> dict[str, str]:
    keep = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SCRIPTFLOW_", "JWT_", "DATABASE_"))
    }
    return {**keep, "SCRIPTFLOW_WORKERS": "0", **extra}


@pytest.fixture
def pg_only_env(pg_cluster: PostgresCluster) -> Iterator[dict[str, str]]:
    url = pg_cluster.create_database(f"server_{os.getpid()}_{time.monotonic_ns()}")
    yield clean_env(DATABASE_URL=url, JWT_SECRET=SECRET)


def test_uvicorn_with_only_database_url_and_secret_serves_the_seed_examples(
    pg_only_env: dict[str, str], tmp_path: Path
) -> None:
    proc, base = start_server([sys.executable, "-m", "uvicorn", "app.main:app"], pg_only_env, REPO)
    try:
        user = curl(
            'curl -X POST http://localhost:8000/auth/register -H "Content-Type: application/json" '
            '-d \'{"email":"user@example.com","password":"StrongPass!"}\'',
            base,
        )
        assert user["email"] == "user@example.com"
        # The seed's login example, verbatim.
        login = curl(
            """curl -X POST http://localhost:8000/auth/login \\
  -H "Content-Type: application/json" \\
  -d '{"email":"user@example.com","password":"StrongPass!"}'""",
            base,
        )
        token = str(login["access_token"])
        assert login["token_type"] == "bearer"
        req = urllib.request.Request(  # noqa: S310
            f"{base}/v1/projects", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(req, timeout=5) as r:  # noqa: S310
            project_id = json.loads(r.read())[0]["id"]
        # The seed's create-script example, verbatim but for the token and project id.
        script = curl(
            f"""curl -X POST http://localhost:8000/scripts \\
  -H "Authorization: Bearer {token}" \\
  -H "Content-Type: application/json" \\
  -d '{{"project_id":"{project_id}","title":"Login flow","content":"..."}}'""",
            base,
        )
        assert script["title"] == "Login flow" and script["project_id"] == project_id
    finally:
        stop(proc)


def test_scriptflow_serve_starts_on_the_embedded_default(tmp_path: Path) -> None:
    proc, base = start_server(
        [str(Path(sys.executable).parent / "scriptflow"), "serve"], clean_env(), tmp_path
    )
    try:
        with urllib.request.urlopen(f"{base}/docs", timeout=5) as r:  # noqa: S310
            assert r.status == 200 and b"swagger" in r.read().lower()
        assert (tmp_path / "data" / "scriptflow.db").exists()
        assert (tmp_path / "data" / ".jwt_secret").exists()
    finally:
        stop(proc)


def test_production_without_a_strong_secret_refuses_to_start(tmp_path: Path) -> None:
    env = clean_env(SCRIPTFLOW_ENV="production", JWT_SECRET="changeme")
    out = subprocess.run(
        [sys.executable, "-m", "uvicorn", "app.main:app", "--port", str(free_port())],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode != 0
    assert "JWT_SECRET" in out.stdout + out.stderr


def test_cli_creates_a_user_who_can_log_in(tmp_path: Path) -> None:
    exe = str(Path(sys.executable).parent / "scriptflow")
    env = clean_env(SCRIPTFLOW_NEW_USER_PASSWORD="StrongPass!")
    out = subprocess.run(
        [exe, "user", "create", "--email", "cli@example.com"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "created user cli@example.com" in out.stdout
    again = subprocess.run(
        [exe, "user", "create", "--email", "CLI@example.com"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert again.returncode == 1 and "already registered" in again.stderr
