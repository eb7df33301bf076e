"""Benchmark: authenticated `GET /v1/scripts/{id}` on our app against a bare Starlette endpoint.

Run from the repository root::

    .venv/bin/python -m benchmarks.api [--duration 10] [--connections 16,64]

For each backend (SQLite in a temp file, PostgreSQL in a throw-away cluster) it starts our
server (`uvicorn app.main:app`, one process, real settings from the environment), seeds one
user and one script through the API, loads the endpoint with `wrk` on loopback, stops it, then
does the same against a bare Starlette app (one uvicorn process) that runs the same single-row
select with the raw driver and returns the same JSON. Each server is loaded at every
connection count in turn (16 and 64 by default). Prints req/s, p50, p99 and, per backend and
connection count, the ratios against the goal (ours >= 0.5x the bare throughput, ours p99 <= 2x
the bare p99). Always exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent
BENCH_SECRET = "bench-" + "s" * 48
BENCH_PASSWORD = "correct horse battery staple"
THROUGHPUT_GOAL = 0.5
P99_GOAL = 2.0
SERVER_START_TIMEOUT_S = 60.0
SERVER_STOP_TIMEOUT_S = 10.0
BARE_DB_ENV = "SCRIPTFLOW_BENCH_BARE_DB"
SCRIPT_CONTENT = (
    "import re\n"
    "from playwright.sync_api import Page, expect\n\n\n"
    "def test_login(page: Page) -> None:\n"
    "    page.goto('https://example.test/login')\n"
    "    page.get_by_label('Email').fill('user@example.test')\n"
    "    page.get_by_label('Password').fill('hunter2hunter2')\n"
    "    page.get_by_role('button', name='Sign in').click()\n"
    "    expect(page).to_have_url(re.compile('/dashboard'))\n"
    "    expect(page.get_by_role('heading', name='Dashboard')).to_be_visible()\n"
) * 4


# --- The bare endpoint: same select, same JSON, no auth, no ORM. ----------------------------

SELECT_SCRIPT = (
    "SELECT id, project_id, title, path, kind, content, version, created_at, updated_at "
    "FROM scripts WHERE id = {placeholder}"
)


def _uuid_text(value: Any) -> str:
    # SQLite stores UUIDs as 32 hex characters; asyncpg returns uuid.UUID.
    return str(value if isinstance(value, uuid.UUID) else uuid.UUID(value))


def _utc_text(value: Any) -> str:
    # SQLite stores naive UTC text; asyncpg returns aware datetimes. Pydantic writes "Z".
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.isoformat().replace("+00:00", "Z")


def script_json(row: Any) -> dict[str, Any]:
    """The row in ScriptOut's JSON shape."""
    return {
        "id": _uuid_text(row[0]),
        "project_id": _uuid_text(row[1]),
        "title": row[2],
        "path": row[3],
        "kind": row[4],
        "content": row[5],
        "version": row[6],
        "created_at": _utc_text(row[7]),
        "updated_at": _utc_text(row[8]),
    }


def create_bare_app() -> Any:
    """`uvicorn --factory benchmarks.api:create_bare_app`; the database comes from the env."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    target = os.environ[BARE_DB_ENV]
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        if target.startswith("postgresql://"):
            import asyncpg

            pool = await asyncpg.create_pool(target, min_size=10, max_size=10)
            sql = SELECT_SCRIPT.format(placeholder="$1")

            async def fetch(script_id: uuid.UUID) -> Any:
                async with pool.acquire() as conn:
                    return await conn.fetchrow(sql, script_id)

            state["fetch"] = fetch
            try:
                yield
            finally:
                await pool.close()
            return
        import aiosqlite

        db = await aiosqlite.connect(target)
        sql = SELECT_SCRIPT.format(placeholder="?")

        async def fetch_sqlite(script_id: uuid.UUID) -> Any:
            async with db.execute(sql, (script_id.hex,)) as cursor:
                return await cursor.fetchone()

        state["fetch"] = fetch_sqlite
        try:
            yield
        finally:
            await db.close()

    async def get_script(request: Request) -> JSONResponse:
        try:
            script_id = uuid.UUID(request.path_params["script_id"])
        except ValueError:
            return JSONResponse({"error": "bad id"}, status_code=422)
        row = await state["fetch"](script_id)
        if row is None:
            return JSONResponse({"error": "not found"}, status_code=404)
        return JSONResponse(script_json(row))

    return Starlette(routes=[Route("/v1/scripts/{script_id}", get_script)], lifespan=lifespan)


# --- Servers. --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def uvicorn_command(target: str, port: int, *, factory: bool = False) -> list[str]:
    """Identical uvicorn options for both servers, so only the app differs."""
    cmd = [sys.executable, "-m", "uvicorn", target, "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--no-access-log", "--log-level", "warning", "--workers", "1"]
    return cmd + (["--factory"] if factory else [])


@contextmanager
def server(
    cmd: list[str], env: dict[str, str], port: int, log_path: Path
) -> Iterator[tuple[str, int]]:
    """Start a server process, wait until it answers, and always stop it afterwards."""
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            cmd, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited early: {log_path.read_text()[-2000:]}")
            try:
                httpx.get(f"{base}/v1/scripts/{uuid.uuid4()}", timeout=1.0)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"server did not start: {log_path.read_text()[-2000:]}"
                    ) from None
                time.sleep(0.1)
        yield base, proc.pid
    finally:
        stop_process(proc)


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=SERVER_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=SERVER_STOP_TIMEOUT_S)


def our_env(database_url: str, data_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        JWT_SECRET=BENCH_SECRET,
        JWT_EXPIRES_IN="3600",
        SCRIPTFLOW_DATA_DIR=str(data_dir),
        SCRIPTFLOW_WORKERS="0",
        SCRIPTFLOW_LOG_LEVEL="WARNING",
    )
    return env


@dataclass(frozen=True)
class Seeded:
    token: str
    script_id: str
    body: dict[str, Any]


def seed(base: str) -> Seeded:
    """Register, log in and create one script in the personal project, through the API."""
    email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
    creds = {"email": email, "password": BENCH_PASSWORD}
    with httpx.Client(base_url=base, timeout=30.0) as c:
        c.post("/v1/auth/register", json=creds).raise_for_status()
        token = c.post("/v1/auth/login", json=creds).raise_for_status().json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        project_id = c.get("/v1/projects", headers=headers).raise_for_status().json()[0]["id"]
        script = {"project_id": project_id, "title": "Login flow", "content": SCRIPT_CONTENT}
        created = c.post("/v1/scripts", json=script, headers=headers).raise_for_status().json()
        body = c.get(f"/v1/scripts/{created['id']}", headers=headers).raise_for_status().json()
    return Seeded(token=token, script_id=created["id"], body=body)


# --- Load generation. ------------------------------------------------------------------------


@dataclass(frozen=True)
class Load:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int = 0
    cpu_us_per_request: float = 0.0


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def parse_wrk(output: str) -> Load:
    """Requests/sec and the 50%/99% lines of `wrk --latency`."""

    def latency(pct: str) -> float:
        m = re.search(rf"^\s*{pct}%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.MULTILINE)
        if not m:
            raise ValueError(f"no {pct}% line in wrk output:\n{output}")
        return float(m.group(1)) * _UNIT_MS[m.group(2)]

    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if not rps:
        raise ValueError(f"no Requests/sec in wrk output:\n{output}")
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses:\s+(\d+)", output)) + sum(
        int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output)
    )
    total = re.search(r"(\d+) requests in", output)
    count = int(total.group(1)) if total else 0
    return Load(float(rps.group(1)), latency("50"), latency("99"), errors, count)


def run_wrk(url: str, token: str, args: argparse.Namespace, seconds: float) -> Load:
    threads = min(args.threads, args.connections)
    cmd = [
        "wrk", f"-t{threads}", f"-c{args.connections}", f"-d{max(1, round(seconds))}s",
        "--timeout", "5s", "--latency", "-H", f"Authorization: Bearer {token}", url,
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed: {done.stderr.strip() or done.stdout.strip()}")
    return parse_wrk(done.stdout)


def run_asyncio_loadgen(url: str, token: str, args: argparse.Namespace, seconds: float) -> Load:
    """The fallback: this module's asyncio load generator, in its own process."""
    cmd = [sys.executable, "-m", "benchmarks.api", "--loadgen", url, "--token", token,
           "--connections", str(args.connections), "--duration", str(seconds)]  # fmt: skip
    done = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=seconds + 30)
    if done.returncode != 0:
        raise RuntimeError(f"load generator failed: {done.stderr.strip()[-2000:]}")
    return Load(**json.loads(done.stdout))


async def asyncio_load(url: str, token: str, connections: int, seconds: float) -> Load:
    """Keep-alive HTTP/1.1 GETs from `connections` concurrent clients for `seconds`."""
    parsed = httpx.URL(url)
    request = (
        f"GET {parsed.raw_path.decode()} HTTP/1.1\r\nHost: {parsed.host}:{parsed.port}\r\n"
        f"Authorization: Bearer {token}\r\n\r\n"
    ).encode()
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def client() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(parsed.host, parsed.port)
        try:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                writer.write(request)
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5.0)
                length = re.search(rb"(?i)content-length:\s*(\d+)", head)
                await reader.readexactly(int(length.group(1)) if length else 0)
                latencies.append(time.perf_counter() - started)
                if not head.startswith(b"HTTP/1.1 2"):
                    errors += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    cuts = statistics.quantiles(latencies, n=100)
    rate = len(latencies) / elapsed
    return Load(rate, cuts[49] * 1000, cuts[98] * 1000, errors, len(latencies))


# --- The run. --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    backend: str
    server: str
    load: Load
    connections: int = 0


def measure(base: str, pid: int, seeded: Seeded, args: argparse.Namespace) -> Load:
    """Warm up, then measure; CPU per request is robust to other load on the machine."""
    url = f"{base}/v1/scripts/{seeded.script_id}"
    runner = run_wrk if args.loadgen_tool == "wrk" else run_asyncio_loadgen
    if args.warmup > 0:
        runner(url, seeded.token, args, args.warmup)
    cpu_before = process_cpu_s(pid)
    load = runner(url, seeded.token, args, args.duration)
    cpu = process_cpu_s(pid) - cpu_before
    per_request = cpu * 1e6 / load.requests if load.requests else 0.0
    return replace(load, cpu_us_per_request=per_request)


def measure_each(
    base: str, pid: int, seeded: Seeded, args: argparse.Namespace, backend: str, name: str
) -> list[Row]:
    """One measurement per connection count, on the running server."""
    rows = []
    for connections in args.connection_counts:
        load = measure(base, pid, seeded, replace_connections(args, connections))
        rows.append(Row(backend, name, load, connections))
    return rows


def replace_connections(args: argparse.Namespace, connections: int) -> argparse.Namespace:
    return argparse.Namespace(**{**vars(args), "connections": connections})


def bench_backend(
    backend: str, our_url: str, bare_target: str, workdir: Path, args: argparse.Namespace
) -> list[Row]:
    """Ours then bare on one database; each server runs alone so they never share the CPU."""
    port = free_port()
    env = our_env(our_url, workdir / "data")
    with server(uvicorn_command("app.main:app", port), env, port, workdir / "ours.log") as (
        base,
        pid,
    ):
        seeded = seed(base)
        ours = measure_each(base, pid, seeded, args, backend, "ours")
    port = free_port()
    env = dict(os.environ, **{BARE_DB_ENV: bare_target})
    cmd = uvicorn_command("benchmarks.api:create_bare_app", port, factory=True)
    with server(cmd, env, port, workdir / "bare.log") as (base, pid):
        bare_body = httpx.get(f"{base}/v1/scripts/{seeded.script_id}", timeout=10).json()
        if bare_body != seeded.body:
            print(f"warning: bare JSON differs from ours on {backend}:\n{bare_body}\n{seeded.body}")
        bare = measure_each(base, pid, seeded, args, backend, "bare")
    return ours + bare


def bench_sqlite(args: argparse.Namespace) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="scriptflow-bench-") as tmp:
        workdir = Path(tmp)
        path = workdir / "bench.db"
        return bench_backend("sqlite", f"sqlite+aiosqlite:///{path}", str(path), workdir, args)


def bench_postgres(args: argparse.Namespace) -> list[Row]:
    from tests.support.postgres import start_cluster

    cluster = start_cluster()
    try:
        url = cluster.create_database("bench")
        dsn = "postgresql://" + url.split("://", 1)[1]
        with tempfile.TemporaryDirectory(prefix="scriptflow-bench-") as tmp:
            return bench_backend("postgres", url, dsn, Path(tmp), args)
    finally:
        cluster.stop()


def verdicts(ours: Load, bare: Load) -> tuple[float, float, bool, bool]:
    throughput = ours.requests_per_s / bare.requests_per_s if bare.requests_per_s else 0.0
    p99 = ours.p99_ms / bare.p99_ms if bare.p99_ms else float("inf")
    return throughput, p99, throughput >= THROUGHPUT_GOAL, p99 <= P99_GOAL


def render(rows: list[Row]) -> str:
    lines = [
        f"{'backend':<9}{'server':<7}{'conns':>6}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'CPU us/req':>12}{'errors':>8}"
    ]
    for r in rows:
        lines.append(
            f"{r.backend:<9}{r.server:<7}{r.connections:>6}{r.load.requests_per_s:>10.0f}"
            f"{r.load.p50_ms:>9.2f}{r.load.p99_ms:>9.2f}"
            f"{r.load.cpu_us_per_request:>12.0f}{r.load.errors:>8}"
        )
    lines.append("")
    by_key = {(r.backend, r.server, r.connections): r.load for r in rows}
    for backend, connections in dict.fromkeys((r.backend, r.connections) for r in rows):
        ours = by_key.get((backend, "ours", connections))
        bare = by_key.get((backend, "bare", connections))
        if ours is None or bare is None:
            continue
        t, p, t_ok, p_ok = verdicts(ours, bare)
        lines.append(
            f"{backend:<9}{connections:>3} conns  ours/bare throughput {t:5.2f}x "
            f"(goal >= {THROUGHPUT_GOAL}x) {'PASS' if t_ok else 'MISS'}   ours/bare p99 "
            f"{p:5.2f}x (goal <= {P99_GOAL}x) {'PASS' if p_ok else 'MISS'}"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured per run")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds discarded before")
    parser.add_argument(
        "--connections",
        default="16,64",
        help="comma-separated concurrent keep-alive connection counts, each measured in turn",
    )
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument(
        "--backends", default="sqlite,postgres", help="comma-separated: sqlite,postgres"
    )
    parser.add_argument(
        "--loadgen-tool", choices=["wrk", "asyncio"], default="wrk",
        help="wrk (preferred) or the built-in asyncio generator (separate process)",
    )  # fmt: skip
    parser.add_argument("--loadgen", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.connection_counts = [int(c) for c in str(args.connections).split(",") if c.strip()]
    args.connections = args.connection_counts[0]
    return args


def main(argv: list[str] | None = None) -> int:
    """Run every backend, print the table; never fails the caller (a benchmark, not a test)."""
    args = parse_args(argv)
    if args.loadgen:  # we are the load-generator process
        load = asyncio.run(asyncio_load(args.loadgen, args.token, args.connections, args.duration))
        print(json.dumps(load.__dict__))
        return 0
    if args.loadgen_tool == "wrk" and shutil.which("wrk") is None:
        print(
            "wrk not found: install it with `apt-get install -y wrk` (Debian/Ubuntu),\n"
            "or run with `--loadgen-tool asyncio` for the built-in (slower) load generator."
        )
        return 0
    cpus = os.cpu_count() or 1
    print(
        f"GET /v1/scripts/{{id}} — {'/'.join(map(str, args.connection_counts))} connections, "
        f"{args.warmup:g}s warm-up + "
        f"{args.duration:g}s measured per run, load generator: {args.loadgen_tool}, "
        f"{cpus} CPUs (load average {os.getloadavg()[0]:.1f}), one uvicorn process per server",
        flush=True,
    )
    rows: list[Row] = []
    runners = {"sqlite": bench_sqlite, "postgres": bench_postgres}
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        try:
            rows += runners[backend](args)
        except Exception as exc:  # report and carry on with the other backend
            print(f"{backend}: benchmark failed: {type(exc).__name__}: {exc}", flush=True)
    print(render(rows))
    load_1m = os.getloadavg()[0]
    busy = " (busy: other work shared the CPUs, compare CPU us/req)" if load_1m > cpus else ""
    print(f"load average at the end: {load_1m:.1f} on {cpus} CPUs{busy}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
