"""Benchmark: generating a verified test vs running the generated test three times with pytest.

Run from the repository root::

    .venv/bin/python -m benchmarks.generate [--samples 1] [--pages /login /signup]

In one invocation it serves the demo app on loopback and starts `uvicorn app.main:app`
(embedded SQLite, the embedded worker pool, runs in the bubblewrap namespaces), seeds a user
and an environment pointing at the demo app through the API, then for each page:

- generation: ``POST /v1/projects/{id}/generate`` with ``provider: rules`` and
  ``verify_runs: 3``, then the change set is polled until it leaves ``generating`` — the
  page explored in the sandbox, the module written, its three verification runs done;
- plain pytest: the generated module, as proposed, run three times back to back with
  ``pytest --browser chromium --base-url …`` in a scratch folder (the same Chromium), which is
  what verifying it by hand costs.

Prints both times per page and their ratio against the goal (generation <= 1.5x the three
plain runs). The change set must be `proposed` and every plain run must pass, or the figures
would be meaningless and it says so.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from app.demo.server import DemoServer
from benchmarks.runs import BENCH_PASSWORD, DIRECT_CONFTEST, Server
from scriptflow.config import Settings
from scriptflow.runs.browsers import find_chromium

GOAL = 1.5
VERIFY_RUNS = 3
POLL_S = 0.2


async def seed(client: httpx.AsyncClient, url: str, base_url: str) -> tuple[dict[str, str], str]:
    """A user and an environment pointing at the demo app; (headers, project id)."""
    email = f"bench-{time.time_ns()}@example.com"
    creds = {"email": email, "password": BENCH_PASSWORD}
    (await client.post(f"{url}/v1/auth/register", json=creds)).raise_for_status()
    token = (await client.post(f"{url}/v1/auth/login", json=creds)).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    project = (await client.get(f"{url}/v1/projects", headers=headers)).json()[0]["id"]
    r = await client.post(
        f"{url}/v1/projects/{project}/environments",
        json={"name": "demo", "base_url": base_url},
        headers=headers,
    )
    r.raise_for_status()
    return headers, str(project)


def proposed_content(diff: str) -> str:
    """The new file a /dev/null diff creates."""
    body = diff.split("\n@@", 1)[1].split("\n", 1)[1]
    lines = [line[1:] for line in body.splitlines() if line.startswith("+")]
    return "\n".join(lines) + "\n"


async def generate(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], project: str, path: str, n: int
) -> tuple[float, dict[str, object]]:
    """Seconds from the request to the end of verification, and the change set."""
    started = time.perf_counter()
    r = await client.post(
        f"{url}/v1/projects/{project}/generate",
        json={
            "environment": "demo",
            "path": path,
            "verify_runs": VERIFY_RUNS,
            "target_path": f"tests/test_bench_{n}.py",
        },
        headers=headers,
    )
    if r.status_code != 202:
        raise SystemExit(f"generation of {path} was refused: {r.status_code} {r.text}")
    location = url + r.headers["location"]
    while True:
        changeset: dict[str, object] = (await client.get(location, headers=headers)).json()
        if changeset["status"] != "generating":
            return time.perf_counter() - started, changeset
        await asyncio.sleep(POLL_S)


def plain_runs(content: str, base_url: str) -> float:
    """Wall seconds of three `pytest --browser chromium` invocations of the module."""
    target = find_chromium(Settings())
    if target is None or target.executable_path is None:
        raise SystemExit("Chromium is not installed")
    folder = Path(tempfile.mkdtemp(prefix="bench-generated-"))
    (folder / "test_generated.py").write_text(content)
    (folder / "pytest.ini").write_text("[pytest]\n")
    (folder / "conftest.py").write_text(
        DIRECT_CONFTEST.format(
            executable=str(target.executable_path), args=list(target.launch_args)
        )
    )
    command = [
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
        "--browser", "chromium", "--base-url", base_url, "test_generated.py",
    ]  # fmt: skip
    started = time.perf_counter()
    for _ in range(VERIFY_RUNS):
        done = subprocess.run(command, cwd=folder, capture_output=True, check=False)
        if done.returncode != 0:
            print(done.stdout.decode()[-2000:])
            raise SystemExit("a plain pytest run of the generated module failed")
    return time.perf_counter() - started


async def measure(pages: list[str], samples: int) -> dict[str, tuple[list[float], list[float]]]:
    figures: dict[str, tuple[list[float], list[float]]] = {p: ([], []) for p in pages}
    with DemoServer(flaky_rate=0.0) as demo:
        server = Server(workers=2, isolation="namespaces")
        try:
            async with httpx.AsyncClient(timeout=600) as client:
                await server.wait_ready(client)
                headers, project = await seed(client, server.url, demo.base_url)
                n = 0
                for _ in range(samples):
                    for path in pages:
                        n += 1
                        seconds, changeset = await generate(
                            client, server.url, headers, project, path, n
                        )
                        if changeset["status"] != "proposed":
                            raise SystemExit(
                                f"{path}: {changeset['status']}: {changeset.get('failure_reason')}"
                            )
                        content = proposed_content(str(changeset["proposed_diff"]))
                        plain = await asyncio.to_thread(plain_runs, content, demo.base_url)
                        figures[path][0].append(seconds)
                        figures[path][1].append(plain)
                        print(
                            f"  {path}: generate+verify {seconds:.1f} s, 3 plain runs {plain:.1f} s"
                        )
        finally:
            server.stop()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=1)
    parser.add_argument("--pages", nargs="+", default=["/login", "/signup"])
    args = parser.parse_args()
    figures = asyncio.run(measure(args.pages, args.samples))
    print(
        f"\n{'page':<10} {'generate (s)':>13} {'3x pytest (s)':>14} {'ratio':>7}  goal <= {GOAL}x"
    )
    for path, (generated, plain) in figures.items():
        g, p = statistics.median(generated), statistics.median(plain)
        verdict = "PASS" if g / p <= GOAL else "MISS"
        print(f"{path:<10} {g:>13.1f} {p:>14.1f} {g / p:>6.2f}x  {verdict}")


if __name__ == "__main__":
    main()
