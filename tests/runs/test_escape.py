"""The escape suite: each attack a hostile user tried on the old sandbox, submitted as a real run
through the API and executed in the new one; each asserts the attack fails and the server is fine.

The scripts are plain pytest functions (no browser: fast); they assert from inside that the
attack failed and report what they saw on the real stdout (``capsys.disabled``), which the test
reads back from the run's ``output.log`` through the artifact endpoint. Network targets are
loopback listeners this test starts; nothing else is ever contacted.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.demo.server import DemoServer
from scriptflow.auth.tokens import TokenConfig, issue_access_token
from scriptflow.config import Settings
from scriptflow.runs.executor import PACKAGE_DIR
from scriptflow.runs.pool import WorkerPool
from tests.factories import Account, signup
from tests.runs.helpers import queue_run, wait_for_status
from tests.support.settings import TEST_SECRET, settings_for

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("chromium")]
# Storage attacks run on both databases; the others do not touch storage.
ONE_BACKEND = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
MEMORY_MB = 256
MAX_PROCESSES = 64
SHM_MB = 8
ARTIFACT_MAX_BYTES = 64 * 1024


def namespace_alive(namespace: str, within_s: float = 0.0) -> bool:
    """Whether any host process still runs in this PID namespace (``pid:[4026531836]``),
    still after ``within_s`` seconds. When a worker itself is killed, its sandbox's dead init
    may linger as a zombie until the host's init reaps it; it runs nothing and holds nothing,
    so it does not count."""
    deadline = time.monotonic() + within_s
    while True:
        alive = False
        for entry in filter(str.isdigit, os.listdir("/proc")):
            try:
                if os.readlink(f"/proc/{entry}/ns/pid") != namespace:
                    continue
                state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                continue
            alive = alive or state not in ("Z", "X")
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(0.1)


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return settings_for(
        db_url,
        tmp_path,
        run_memory_mb=MEMORY_MB,
        run_max_processes=MAX_PROCESSES,
        run_shm_mb=SHM_MB,
        artifact_max_bytes=ARTIFACT_MAX_BYTES,
        run_nice=Settings.model_fields["run_nice"].default,  # production's, not the suite's 0
    )


@pytest.fixture
async def pool(app: FastAPI, settings: Settings) -> AsyncIterator[WorkerPool]:
    sessionmaker: async_sessionmaker[AsyncSession] = app.state.sessionmaker
    pool = WorkerPool(sessionmaker, settings, count=1).start()
    app.state.run_pool = pool
    yield pool
    await pool.stop()


class CountingListener:
    """A loopback port standing in for the API or the database: counts who got through."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[CountingListener]:
    server = CountingListener()
    yield server
    server.close()


async def attack(
    client: httpx.AsyncClient, account: Account, demo: DemoServer, script: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run ``script`` through the API to its end; (the run, what it reported)."""
    run = await queue_run(client, account, script, base_url=demo.base_url)
    body = await wait_for_status(
        client, account, run["id"], {"passed", "failed", "error", "cancelled"}, timeout_s=90
    )
    report: dict[str, Any] = {}
    log = next((a for a in body["artifacts"] if a["name"] == "output.log"), None)
    if log is not None:
        text = (await client.get(log["url"], headers=account.headers)).text
        for line in text.splitlines():
            if line.startswith("REPORT "):
                report = json.loads(line.removeprefix("REPORT "))
    assert body["results"]["isolation"].startswith("namespaces"), body["results"]["isolation"]
    return body, report


async def assert_healthy(client: httpx.AsyncClient, account: Account) -> None:
    assert (await client.get("/healthz")).status_code == 200
    assert (await client.get("/v1/auth/me", headers=account.headers)).status_code == 200


def passed(body: dict[str, Any]) -> None:
    assert body["status"] == "passed", body["error"]


async def passing_attack(
    client: httpx.AsyncClient, demo: DemoServer, script: str
) -> tuple[Account, dict[str, Any], dict[str, Any]]:
    """A new user's hostile script, run to a pass: its own asserts say the attack failed."""
    account = await signup(client)
    body, report = await attack(client, account, demo, script)
    passed(body)
    return account, body, report


async def survives(client: httpx.AsyncClient, demo: DemoServer, script: str) -> None:
    """The attack fails (the run passes) and the server is still well afterwards."""
    account, _, _ = await passing_attack(client, demo, script)
    await assert_healthy(client, account)


REPORT = "    with capsys.disabled():\n        print('REPORT ' + json.dumps(report), flush=True)\n"


@ONE_BACKEND
async def test_reading_another_process_environ_finds_no_secret_and_forged_tokens_fail(
    client: httpx.AsyncClient,
    pool: WorkerPool,
    demo: DemoServer,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The server (this process) holds the secrets in its environment, as a deployment does.
    monkeypatch.setenv("JWT_SECRET", TEST_SECRET)
    monkeypatch.setenv("DATABASE_URL", settings.database_url or "")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    (settings.data_dir / ".jwt_secret").write_text(TEST_SECRET)
    script = (
        "import glob, json, os\n\n"
        "def test_steal(capsys):\n"
        "    found = []\n"
        "    for path in glob.glob('/proc/*/environ') + ['/proc/1/environ']:\n"
        "        try:\n"
        "            data = open(path, 'rb').read()\n"
        "        except OSError:\n"
        "            continue\n"
        "        found += [v.decode() for v in data.split(b'\\0')\n"
        "                  if v.startswith((b'JWT_SECRET=', b'DATABASE_URL='))]\n"
        f"    for path in ({str(settings.data_dir / '.jwt_secret')!r},):\n"
        "        try:\n"
        "            found.append('JWT_SECRET=' + open(path).read())\n"
        "        except OSError:\n"
        "            pass\n"
        "    pids = [int(p) for p in os.listdir('/proc') if p.isdigit()]\n"
        "    report = {'found': found, 'pids': pids}\n" + REPORT
    )
    victim = await signup(client)
    attacker = await signup(client)
    body, report = await attack(client, attacker, demo, script)
    passed(body)
    assert report["found"] == []
    assert len(report["pids"]) < 10  # its own few processes, nothing of the host's
    # Whatever it found, or a guess, signs nothing the server accepts.
    for secret in [*(f.split("=", 1)[1] for f in report["found"]), "guess-" + "x" * 40]:
        config = TokenConfig(
            secret, settings.jwt_algorithm, settings.jwt_issuer, settings.jwt_audience, 600
        )
        forged = issue_access_token(config, uuid.UUID(victim.user_id))
        r = await client.get("/v1/auth/me", headers={"Authorization": f"Bearer {forged}"})
        assert r.status_code == 401
    await assert_healthy(client, attacker)


def _database_file(settings: Settings, request: pytest.FixtureRequest) -> Path:
    """A file of the database itself: the SQLite file, or PostgreSQL's control file."""
    if settings.resolved_database_url.startswith("sqlite"):
        return Path(settings.resolved_database_url.split(":///", 1)[1])
    cluster = request.getfixturevalue("pg_cluster")
    return Path(cluster.datadir) / "global" / "pg_control"


FORGE_MANIFEST = (
    "def forge(*names):\n"
    "    # After pytest's last write of the manifest: add our own entries to it.\n"
    "    data = json.load(open('results.json'))\n"
    "    data['artifacts'] += [{'name': n, 'kind': 'log', 'content_type': 'text/html',\n"
    "                           'size_bytes': 1} for n in names]\n"
    "    json.dump(data, open('results.json', 'w'))\n\n"
)


async def _assert_not_served(
    client: httpx.AsyncClient, account: Account, body: dict[str, Any], *names: str
) -> None:
    listed = {a["name"] for a in body["artifacts"]}
    assert not listed & set(names), listed
    for name in names:
        r = await client.get(
            f"/v1/test-runs/{body['id']}/artifacts/{name}", headers=account.headers
        )
        assert r.status_code == 404


async def test_the_database_cannot_be_downloaded_through_an_artifact_symlink(
    client: httpx.AsyncClient,
    pool: WorkerPool,
    demo: DemoServer,
    settings: Settings,
    request: pytest.FixtureRequest,
) -> None:
    target = _database_file(settings, request)
    script = (
        "import atexit, json, os\n\n" + FORGE_MANIFEST + "def test_plant():\n"
        f"    os.symlink({str(target)!r}, '../artifacts/db-link.sqlite')\n"
        f"    os.symlink({str(target.parent)!r}, '../artifacts/db-dir')\n"
        "    atexit.register(forge, 'db-link.sqlite', 'db-dir')\n"
    )
    account, body, _ = await passing_attack(client, demo, script)
    await _assert_not_served(client, account, body, "db-link.sqlite", "db-dir")
    assert {"output.log"} <= {a["name"] for a in body["artifacts"]}
    await assert_healthy(client, account)


async def test_the_database_cannot_be_downloaded_through_a_hard_link(
    client: httpx.AsyncClient,
    pool: WorkerPool,
    demo: DemoServer,
    settings: Settings,
    request: pytest.FixtureRequest,
) -> None:
    target = _database_file(settings, request)
    script = (
        "import atexit, json, os, pytest\n\n" + FORGE_MANIFEST + "def test_plant(capsys):\n"
        "    with pytest.raises(OSError):  # the database is not in the sandbox at all\n"
        f"        os.link({str(target)!r}, '../artifacts/db-hard.sqlite')\n"
        "    # A hard link the run can make (to its own file) is refused by the collector too.\n"
        "    open('../artifacts/mine.log', 'w').write('x')\n"
        "    os.link('../artifacts/mine.log', '../artifacts/db-hard.log')\n"
        "    atexit.register(forge, 'db-hard.sqlite', 'db-hard.log')\n"
    )
    account, body, _ = await passing_attack(client, demo, script)
    await _assert_not_served(client, account, body, "db-hard.sqlite", "db-hard.log")
    await assert_healthy(client, account)


async def test_a_symlinked_output_log_truncates_nothing_outside(
    client: httpx.AsyncClient, pool: WorkerPool, demo: DemoServer, settings: Settings
) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    victim = settings.data_dir / "victim.bin"
    victim.write_bytes(os.urandom(4 * ARTIFACT_MAX_BYTES))
    digest = hashlib.sha256(victim.read_bytes()).hexdigest()
    script = (
        "import atexit, json, os\n\n" + FORGE_MANIFEST + "def test_plant():\n"
        "    print('x' * 200_000)  # a log over the cap, so the old server truncated\n"
        f"    os.symlink({str(victim)!r}, '../artifacts/output.log')\n"
        f"    os.symlink({str(victim)!r}, '../artifacts/console.log')\n"
        "    atexit.register(forge, 'output.log', 'console.log')\n"
        "    raise AssertionError('fail, so pytest prints the captured output')\n"
    )
    account = await signup(client)
    body, _ = await attack(client, account, demo, script)
    assert body["status"] == "failed"
    assert hashlib.sha256(victim.read_bytes()).hexdigest() == digest
    logs = {a["name"]: a for a in body["artifacts"]}
    assert "console.log" not in logs
    log = await client.get(logs["output.log"]["url"], headers=account.headers)
    assert b"fail, so pytest prints" in log.content  # the worker's own log, capped
    assert len(log.content) <= ARTIFACT_MAX_BYTES and logs["output.log"]["truncated"]
    await assert_healthy(client, account)


def _autogroups_on() -> bool:
    path = Path("/proc/sys/kernel/sched_autogroup_enabled")
    return path.exists() and path.read_text().strip() == "1"


def _host_uids_of(marker: str) -> tuple[int, int, int, int | None] | None:
    """(real uid, effective uid, niceness, its session's autogroup niceness or None without
    autogroups) of the host process whose command line ends with ``marker``."""
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        if marker.encode() in argv:
            uids = next(line for line in status.splitlines() if line.startswith("Uid:"))
            real, effective = uids.split()[1:3]
            try:
                group = int(Path(f"/proc/{entry}/autogroup").read_text().rsplit(" ", 1)[-1])
            except (OSError, ValueError):
                group = None
            nice = os.getpriority(os.PRIO_PROCESS, int(entry))
            return int(real), int(effective), nice, group
    return None


@ONE_BACKEND
async def test_a_run_is_never_root_inside_or_outside(
    client: httpx.AsyncClient, pool: WorkerPool, demo: DemoServer, settings: Settings
) -> None:
    """Nor can it take the CPU back: it runs at the configured niceness, and raising its
    priority is refused (a hostile script cannot starve the API and the workers). With the
    kernel's autogroups, niceness only counts inside a session: the run's session, and one it
    makes later, get the niceness too, and it cannot set that above the default share (a
    negative value is refused; setting it back to 0 is allowed to any process, so this part is
    best effort)."""
    assert settings.run_nice > 0
    nice = min(19, os.getpriority(os.PRIO_PROCESS, 0) + settings.run_nice)
    marker = f"{time.time_ns() % 10**9 / 10**9 + 8:.9f}"  # a unique `sleep` duration
    script = (
        "import os, subprocess, pytest\n\n"
        "def test_root():\n"
        "    assert 0 not in (os.getuid(), os.geteuid(), os.getgid(), os.getegid())\n"
        "    with pytest.raises(OSError):  # EINVAL: no uid 0 exists in its namespace\n"
        "        os.setuid(0)\n"
        "    status = open('/proc/self/status').read()\n"
        "    caps = {l.split(':')[0]: l.split()[1] for l in status.splitlines()\n"
        "            if l.startswith('Cap')}\n"
        "    assert int(caps['CapEff'], 16) == 0 and int(caps['CapPrm'], 16) == 0\n"
        f"    assert os.getpriority(os.PRIO_PROCESS, 0) == {nice}\n"
        "    with pytest.raises(PermissionError):\n"
        "        os.setpriority(os.PRIO_PROCESS, 0, 0)\n"
        "    if os.path.exists('/proc/self/autogroup'):\n"
        f"        assert open('/proc/self/autogroup').read().split()[-1] == '{nice}'\n"
        "        group = os.open('/proc/self/autogroup', os.O_WRONLY)\n"
        "        with pytest.raises(PermissionError):  # above the default share: refused\n"
        "            os.write(group, b'-1')\n"
        "    # In a session of its own, as Playwright starts a browser: for the host to look at.\n"
        f"    subprocess.run(['sleep', {marker!r}], start_new_session=True)\n"
    )
    account = await signup(client)
    run = await queue_run(client, account, script, base_url=demo.base_url)
    seen = None
    deadline = time.monotonic() + 60
    # Until the new session's autogroup is lowered too (the run looks every 0.2 s).
    while (seen is None or seen[3] not in (None, nice)) and time.monotonic() < deadline:
        seen = await asyncio.to_thread(_host_uids_of, marker) or seen
        await asyncio.sleep(0.1)
    assert seen is not None, "the run's process never showed up"
    real, effective, host_nice, group_nice = seen
    assert 0 not in (real, effective)  # not root on the host either
    assert host_nice == nice
    if _autogroups_on():
        assert group_nice == nice
    body = await wait_for_status(client, account, run["id"], {"passed", "failed", "error"})
    passed(body)
    await assert_healthy(client, account)


@ONE_BACKEND
async def test_etc_shadow_and_the_data_dir_are_not_readable(
    client: httpx.AsyncClient, pool: WorkerPool, demo: DemoServer, settings: Settings
) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    script = (
        "import pytest\n\n"
        "def test_read():\n"
        "    for path in ('/etc/shadow', '/etc/gshadow', '/root/.bashrc',\n"
        f"                 {str(settings.data_dir / 'scriptflow.db')!r}):\n"
        "        with pytest.raises(OSError):\n"
        "            open(path, 'rb').read()\n"
        "    assert 'root:' not in open('/etc/passwd').read()  # a synthetic one\n"
    )
    await survives(client, demo, script)


@ONE_BACKEND
async def test_no_daemon_outlives_its_run(
    client: httpx.AsyncClient, pool: WorkerPool, demo: DemoServer
) -> None:
    script = (
        "import json, os, time\n\n"
        "def test_daemon(capsys):\n"
        "    read, write = os.pipe()\n"
        "    if os.fork() == 0:\n"
        "        os.setsid()\n"
        "        grandchild = os.fork()\n"
        "        if grandchild == 0:\n"
        "            time.sleep(60)\n"
        "            os._exit(0)\n"
        "        os.write(write, str(grandchild).encode())\n"
        "        os._exit(0)\n"
        "    daemon = int(os.read(read, 32))\n"
        "    os.kill(daemon, 0)  # detached, in its own session, alive\n"
        "    report = {'namespace': os.readlink('/proc/self/ns/pid'), 'daemon': daemon}\n" + REPORT
    )
    account, _, report = await passing_attack(client, demo, script)
    assert report["namespace"] != os.readlink("/proc/self/ns/pid")
    await asyncio.sleep(2)
    assert not namespace_alive(report["namespace"])
    await assert_healthy(client, account)


@ONE_BACKEND
async def test_the_server_cannot_be_signalled(
    client: httpx.AsyncClient, pool: WorkerPool, demo: DemoServer
) -> None:
    script = (
        "import contextlib, os, signal, pytest\n\n"
        "def test_signal():\n"
        "    for sig in (0, signal.SIGURG):  # probe, then a signal harmless if delivered\n"
        "        with pytest.raises(ProcessLookupError):\n"
        f"            os.kill({os.getpid()}, sig)\n"
        "    with contextlib.suppress(ProcessLookupError):  # all it may signal: its own\n"
        "        os.kill(-1, signal.SIGURG)\n"
    )
    received: list[int] = []
    previous = signal.signal(signal.SIGURG, lambda signum, _frame: received.append(signum))
    try:
        account = await signup(client)
        body, _ = await attack(client, account, demo, script)
    finally:
        signal.signal(signal.SIGURG, previous)
    passed(body)
    assert received == []
    await assert_healthy(client, account)


@ONE_BACKEND
async def test_the_api_is_unreachable_over_a_python_socket(
    client: httpx.AsyncClient, pool: WorkerPool, demo: DemoServer, listener: CountingListener
) -> None:
    port = listener.port
    script = (
        "import socket, urllib.error, urllib.request, pytest\n\n"
        "def test_connect():\n"
        "    with pytest.raises(OSError):  # no route: loopback is the sandbox's own\n"
        f"        socket.create_connection(('127.0.0.1', {port}), timeout=3)\n"
        "    with pytest.raises(urllib.error.HTTPError) as refused:  # the proxy says no\n"
        f"        urllib.request.urlopen('http://127.0.0.1:{port}/healthz', timeout=10)\n"
        "    assert refused.value.code == 403\n"
        f"    origin = urllib.request.urlopen({demo.base_url + '/login'!r}, timeout=10)\n"
        "    assert origin.status == 200  # its own origin: through the proxy, allowed\n"
    )
    account, body, _ = await passing_attack(client, demo, script)
    assert listener.accepted == 0
    refused = body["results"]["egress_refused"]
    assert [(r["host"], r["port"]) for r in refused if r["port"] == port] == [("127.0.0.1", port)]
    assert "non-public" in refused[0]["reason"]
    await assert_healthy(client, account)


@ONE_BACKEND
async def test_nothing_outside_the_work_dir_is_writable(
    client: httpx.AsyncClient, pool: WorkerPool, demo: DemoServer, settings: Settings
) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    targets = [
        "/usr/pwned",
        "/etc/pwned",
        "/pwned",  # the sandbox's own root and /dev are read-only tmpfs: no memory to fill
        "/dev/pwned",
        "/run/pwned",
        "/proc/sys/kernel/hostname",
        f"/run/scriptflow/python/{PACKAGE_DIR.name}/pwned",
        str(settings.data_dir / "pwned"),
        str(PACKAGE_DIR / "pwned"),
    ]
    script = (
        "import pytest\n\n"
        "def test_write():\n"
        f"    for path in {targets!r}:\n"
        "        with pytest.raises(OSError):\n"
        "            open(path, 'w').write('x')\n"
        "    open('mine.txt', 'w').write('ok')  # its own work dir and /tmp stay writable\n"
        "    open('/tmp/mine.txt', 'w').write('ok')\n"
    )
    account, _, _ = await passing_attack(client, demo, script)
    assert not (settings.data_dir / "pwned").exists() and not (PACKAGE_DIR / "pwned").exists()
    await assert_healthy(client, account)


@ONE_BACKEND
async def test_dev_shm_is_private_and_fills_up_at_its_cap(
    client: httpx.AsyncClient, pool: WorkerPool, demo: DemoServer
) -> None:
    marker = f"sf-escape-{uuid.uuid4().hex}"
    script = (
        "import errno, json\n\n"
        "def test_fill(capsys):\n"
        "    written = 0\n"
        f"    with open('/dev/shm/{marker}', 'wb') as fh:\n"
        "        try:\n"
        "            while written < 1024 * 1024 * 1024:\n"
        "                fh.write(b'x' * 1024 * 1024)\n"
        "                fh.flush()\n"
        "                written += 1024 * 1024\n"
        "        except OSError as exc:\n"
        "            assert exc.errno == errno.ENOSPC\n"
        "    report = {'written': written}\n" + REPORT
    )
    account, _, report = await passing_attack(client, demo, script)
    assert 0 < report["written"] <= SHM_MB * 1024 * 1024
    assert not Path(f"/dev/shm/{marker}").exists()  # the host's /dev/shm
    await assert_healthy(client, account)


@ONE_BACKEND
async def test_shared_memory_cannot_go_past_the_memory_cap(
    client: httpx.AsyncClient, pool: WorkerPool, demo: DemoServer
) -> None:
    size = 4 * MEMORY_MB * 1024 * 1024
    script = (
        "import mmap, os, pytest\n\n"
        "def test_allocate():\n"
        "    with pytest.raises(OSError):  # MAP_SHARED | MAP_ANONYMOUS\n"
        f"        mmap.mmap(-1, {size}, flags=mmap.MAP_SHARED)\n"
        "    with pytest.raises(OSError):  # anonymous shared files\n"
        "        os.memfd_create('hoard')\n"
        "    with pytest.raises(MemoryError):  # private memory: RLIMIT_DATA\n"
        f"        bytearray({size})\n"
    )
    await survives(client, demo, script)


@ONE_BACKEND
async def test_forking_stops_at_the_process_cap(
    client: httpx.AsyncClient, pool: WorkerPool, demo: DemoServer
) -> None:
    script = (
        "import json, os, signal, time\n\n"
        "def test_fork(capsys):\n"
        "    children = []\n"
        "    try:\n"
        "        for _ in range(1000):\n"
        "            pid = os.fork()\n"
        "            if pid == 0:\n"
        "                time.sleep(60)\n"
        "                os._exit(0)\n"
        "            children.append(pid)\n"
        "    except BlockingIOError:\n"
        "        pass\n"
        "    for pid in children:\n"
        "        os.kill(pid, signal.SIGKILL)\n"
        "        os.waitpid(pid, 0)\n"
        "    report = {'forked': len(children)}\n" + REPORT
    )
    started = time.monotonic()
    account, _, report = await passing_attack(client, demo, script)
    assert 0 < report["forked"] < MAX_PROCESSES
    assert time.monotonic() - started < 60
    await assert_healthy(client, account)
