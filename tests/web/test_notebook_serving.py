"""What the notebook apps do once instead of on every navigation: one copy of marimo's
frontend for every app, the notebook file parsed once per version, cell positions looked up
once per version (marimo's own per-navigation costs, see app.web.notebook_apps)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from app.web.notebook_apps import (
    MARIMO_ASSETS_PATH,
    load_each_version_once,
    marimo_static_folder,
    preload_links,
    read_cell_positions_once,
    with_preloads,
)
from tests.factories import DEFAULT_PASSWORD, signup

HTML = {"accept": "text/html,application/xhtml+xml"}
ENTRY_SCRIPT = re.compile(r'<script type="module" crossorigin src="([^"]+)"')


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # no database behaviour here
async def test_every_app_loads_one_cached_copy_of_the_frontend_behind_the_login(
    web_client: httpx.AsyncClient,
) -> None:
    anonymous = await web_client.get(f"{MARIMO_ASSETS_PATH}/index.html", headers=HTML)
    assert anonymous.status_code in (302, 303, 307) and "/login" in anonymous.headers["location"]

    account = await signup(web_client)
    r = await web_client.post("/login", data={"email": account.email, "password": DEFAULT_PASSWORD})
    assert r.status_code == 303
    # Every app is built with the same asset URL; one stands for all (each build takes seconds).
    html = (await web_client.get("/notebooks/run/", headers=HTML)).text
    (entry,) = ENTRY_SCRIPT.findall(html)
    assert entry.startswith(f"{MARIMO_ASSETS_PATH}/assets/index-")
    # No file of the frontend under the app's own path: the browser has them all once.
    assert "./assets/" not in html and '"/notebooks/run/assets/' not in html
    # A page without charts names no chart chunks ahead (the dashboard does, see below).
    assert "vega-component" not in html
    script = await web_client.get(entry)
    assert script.status_code == 200
    assert script.headers["content-type"].startswith(("application/javascript", "text/javascript"))
    assert script.headers["cache-control"] == "private, max-age=31536000, immutable"
    # A name without a content hash may change with marimo: the browser asks again.
    manifest = await web_client.get(f"{MARIMO_ASSETS_PATH}/manifest.json")
    assert manifest.status_code == 200 and "immutable" not in manifest.headers.get(
        "cache-control", ""
    )


def test_a_notebook_is_loaded_once_per_version_of_its_file(tmp_path: Path) -> None:
    notebook = tmp_path / "run.py"
    notebook.write_text("one\n")
    loads: list[str] = []

    def load(key: str, defaults: Any = None) -> object:
        loads.append(notebook.read_text())
        return object()

    workspace = SimpleNamespace(load=load, resolve=lambda key: str(notebook))
    load_each_version_once(workspace)
    first = workspace.load("run.py")
    assert workspace.load("run.py") is first and loads == ["one\n"]
    notebook.write_text("two, a longer version\n")
    os.utime(notebook, ns=(1, 1))  # even a modification time going back is a new version
    second = workspace.load("run.py")
    assert second is not first and loads == ["one\n", "two, a longer version\n"]
    assert workspace.load("run.py") is second


def test_cell_positions_are_read_once_per_version_of_the_notebook(tmp_path: Path) -> None:
    from marimo._ast import compiler

    read_cell_positions_once()
    read_cell_positions_once()  # twice is once
    notebook = tmp_path / "nb.py"
    notebook.write_text(
        "import marimo\n\napp = marimo.App()\n\n\n@app.cell\ndef _():\n    x = 1\n    return\n"
    )
    positions = compiler._build_source_position_map(str(notebook))
    assert [code for code, _ in positions] == ["x = 1"]
    assert compiler._build_source_position_map(str(notebook)) is positions
    # What marimo's kernel does when its graph changes: the map stays right regardless.
    compiler._build_source_position_map.cache_clear()
    notebook.write_text(notebook.read_text() + "\n\n@app.cell\ndef _():\n    y = 2\n    return\n")
    moved = compiler._build_source_position_map(str(notebook))
    assert [code for code, _ in moved] == ["x = 1", "y = 2"]
    position = compiler.solve_source_position("y = 2", str(notebook))
    assert position is not None and position.lineno > 6


async def test_a_chart_page_names_the_chart_chunks_it_will_need_in_its_head() -> None:
    links = preload_links(("vega-component",)).decode()
    named = re.findall(r'<link rel="modulepreload" crossorigin href="([^"]+)">', links)
    assert named[0].startswith(f"{MARIMO_ASSETS_PATH}/assets/vega-component-")
    assert len(named) == len(set(named)) == links.count("<link")
    # Each is a file of marimo's frontend, and none is one its page names already.
    folder = marimo_static_folder()
    page = (folder / "index.html").read_text()
    for href in named:
        name = href.removeprefix(f"{MARIMO_ASSETS_PATH}/assets/")
        assert (folder / "assets" / name).is_file() and f"./assets/{name}" not in page
    # The chunk's own static imports come along (react-vega draws the chart).
    assert any("/react-vega-" in href for href in named)
    assert preload_links(("no-such-chunk",)) == b""

    sent: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        sent.append(message)

    page_body = b"<html><head><title>x</title></head><body></body></html>"
    wrapped = with_preloads(send, b'<link rel="modulepreload" href="/a.js">')
    await wrapped(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"text/html; charset=utf-8"),
                (b"content-length", str(len(page_body)).encode()),
            ],
        }
    )
    await wrapped({"type": "http.response.body", "body": page_body})
    start, body = sent
    assert body["body"] == page_body.replace(
        b"</head>", b'<link rel="modulepreload" href="/a.js"></head>'
    )
    assert dict(start["headers"])[b"content-length"] == str(len(body["body"])).encode()
    # Anything but an HTML page passes untouched.
    sent.clear()
    wrapped = with_preloads(send, b"<link>")
    await wrapped(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await wrapped({"type": "http.response.body", "body": b"{}</head>"})
    assert sent[1]["body"] == b"{}</head>"
