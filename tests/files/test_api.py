"""The project tree through the API: paths, the listing, archive imports, roles, git patches."""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path

import httpx

from tests.factories import Account, create_environment, create_script, signup

SUITE = Path(__file__).parents[1] / "fixtures" / "suite"
PAGE_OBJECT = (
    "import time\r\n"
    "\r\n"
    "\r\n"
    "class CheckoutPage:  # Zoë's page\r\n"
    "    def __init__(self, page):\r\n"
    "        self.page = page\r\n"
    "\r\n"
    "    def pay(self):\r\n"
    "        time.sleep(1)\r\n"
    '        self.page.click("#pay")\r\n'
)


def suite_files() -> dict[str, bytes]:
    return {
        path.relative_to(SUITE).as_posix(): path.read_bytes()
        for path in sorted(SUITE.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


def zipped(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def tarred(files: dict[str, bytes], prefix: str = "./") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(prefix + name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


async def member(client: httpx.AsyncClient, owner: Account, role: str) -> Account:
    other = await signup(client)
    r = await client.post(
        f"/v1/projects/{owner.project_id}/members",
        json={"email": other.email, "role": role},
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text
    return other


async def tree(
    client: httpx.AsyncClient, account: Account, project_id: str | None = None
) -> dict[str, dict[str, object]]:
    project = project_id or account.project_id
    r = await client.get(f"/v1/projects/{project}/files", headers=account.headers)
    assert r.status_code == 200, r.text
    return {entry["path"]: entry for entry in r.json()}


async def test_paths_from_titles_explicit_paths_moves_and_their_refusals(
    client: httpx.AsyncClient,
) -> None:
    owner = await signup(client)
    # The seed's create, no path: one from the title, numbered when taken.
    first = await create_script(client, owner, title="Login flow")
    second = await create_script(client, owner, title="Login flow")
    assert (first["path"], first["kind"]) == ("tests/test_login_flow.py", "test")
    assert second["path"] == "tests/test_login_flow_2.py"

    body = {"project_id": owner.project_id, "title": "Login page", "content": "class P: ...\n"}
    r = await client.post(
        "/v1/scripts", json={**body, "path": "pages/login.py"}, headers=owner.headers
    )
    assert r.status_code == 201 and r.json()["kind"] == "support"
    page_id = r.json()["id"]
    r = await client.post(
        "/v1/scripts", json={**body, "path": "pages/login.py"}, headers=owner.headers
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "PATH_TAKEN"
    for bad in ("../escape.py", "/abs.py", "a\\b.py", "tests/", "notes.md", "a/./b.py"):
        r = await client.post("/v1/scripts", json={**body, "path": bad}, headers=owner.headers)
        assert r.status_code == 422, bad
        error = r.json()["error"]
        assert error["code"] == "VALIDATION_ERROR" and error["details"]["fields"], bad

    # A move keeps the file's history; the kind follows the new path.
    r = await client.put(
        f"/v1/scripts/{page_id}", json={"path": "tests/test_page.py"}, headers=owner.headers
    )
    assert r.status_code == 200 and (r.json()["path"], r.json()["kind"]) == (
        "tests/test_page.py",
        "test",
    )
    r = await client.put(
        f"/v1/scripts/{page_id}", json={"path": first["path"]}, headers=owner.headers
    )
    assert r.status_code == 409
    r = await client.get(f"/v1/scripts/{page_id}", headers=owner.headers)
    assert r.json()["path"] == "tests/test_page.py"
    assert set(await tree(client, owner)) == {
        "tests/test_login_flow.py",
        "tests/test_login_flow_2.py",
        "tests/test_page.py",
    }


async def test_import_stores_the_suite_once_and_refuses_hostile_archives_whole(
    client: httpx.AsyncClient,
) -> None:
    owner = await signup(client)
    files = suite_files()
    extra = {"README.md": b"# suite\n", "data/logo.txt": b"\x89PNG\x00", ".git/HEAD.txt": b"x"}
    url = f"/v1/projects/{owner.project_id}/import"
    r = await client.post(
        url,
        content=zipped({**files, **extra}),
        headers={**owner.headers, "Content-Type": "application/zip"},
    )
    assert r.status_code == 200, r.text
    summary = r.json()
    assert summary["created"] == sorted(files)
    assert summary["updated"] == summary["unchanged"] == []
    assert summary["skipped"] == [
        {"path": ".git/HEAD.txt", "reason": "outside_tree"},
        {"path": "README.md", "reason": "outside_tree"},
        {"path": "data/logo.txt", "reason": "binary"},
    ]
    listing = await tree(client, owner)
    # Keyset pages in path order, the next one in Link, on both databases.
    paths: list[str] = []
    page: str | None = f"/v1/projects/{owner.project_id}/files?limit=2"
    while page:
        r = await client.get(page, headers=owner.headers)
        assert r.status_code == 200 and len(r.json()) <= 2, r.text
        paths += [entry["path"] for entry in r.json()]
        page = r.links.get("next", {}).get("url")
    assert paths == list(listing) == sorted(files)
    r = await client.get(
        f"/v1/projects/{owner.project_id}/files", params={"cursor": "AA"}, headers=owner.headers
    )
    # A cursor decoding to a NUL is still a position (of the cursor's shape), and never
    # reaches PostgreSQL as a NUL, which would be a 500 there.
    assert r.status_code == 200, r.text
    assert listing["conftest.py"]["kind"] == "support"
    assert listing["pages/login_page.py"]["kind"] == "support"
    assert listing["data/accounts.json"]["kind"] == "data"
    assert listing["tests/test_cart.py"]["kind"] == "test"
    assert listing["tests/test_cart.py"]["size_bytes"] == len(files["tests/test_cart.py"])

    # The same folder again, as a multipart .tar.gz: nothing changes, no revision piles up.
    archive = tarred(files)
    r = await client.post(
        url, files={"archive": ("suite.tar.gz", archive, "application/gzip")}, headers=owner.headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["unchanged"] == sorted(files) and r.json()["created"] == []
    assert await tree(client, owner) == listing

    changed = {**files, "data/accounts.json": b'{"valid": {}}\r\n'}
    r = await client.post(
        url, content=tarred(changed), headers={**owner.headers, "Content-Type": "application/gzip"}
    )
    assert r.json()["updated"] == ["data/accounts.json"]
    data_id = listing["data/accounts.json"]["id"]
    r = await client.get(f"/v1/scripts/{data_id}/revisions", headers=owner.headers)
    assert [(rev["version"], rev["source"]) for rev in r.json()] == [(2, "import"), (1, "import")]
    assert "diff --git a/data/accounts.json b/data/accounts.json" in r.json()[0]["diff"]
    r = await client.get(f"/v1/scripts/{data_id}", headers=owner.headers)
    assert r.json()["content"] == '{"valid": {}}\r\n'

    # A hostile member anywhere refuses everything, even the good files beside it.
    before = await tree(client, owner)
    hostile = {**changed, "tests/test_new.py": b"x = 1\n", "../../evil.py": b"import os\n"}
    for body, content_type in ((zipped(hostile), "application/zip"), (b"junk", "application/zip")):
        r = await client.post(
            url, content=body, headers={**owner.headers, "Content-Type": content_type}
        )
        assert r.status_code == 422 and r.json()["error"]["code"] == "UNSAFE_ARCHIVE"
    r = await client.post(
        url, content=b"x", headers={**owner.headers, "Content-Type": "text/plain"}
    )
    assert r.status_code == 422
    r = await client.post(url, files={"other": ("a.zip", zipped(files))}, headers=owner.headers)
    assert r.status_code == 422 and r.json()["error"]["details"]["fields"][0]["field"] == "archive"
    assert await tree(client, owner) == before


async def test_roles_and_projects_gate_the_tree(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    viewer = await member(client, owner, "viewer")
    stranger = await signup(client)
    await create_script(client, owner, title="Checkout")
    archive = {"content": zipped({"tests/test_x.py": b"x = 1\n"})}
    url = f"/v1/projects/{owner.project_id}/import"
    zip_type = {"Content-Type": "application/zip"}
    r = await client.post(url, **archive, headers={**viewer.headers, **zip_type})
    assert r.status_code == 403
    r = await client.post(url, **archive, headers={**stranger.headers, **zip_type})
    assert r.status_code == 404 and r.json()["error"]["code"] == "PROJECT_NOT_FOUND"
    r = await client.get(f"/v1/projects/{owner.project_id}/files", headers=stranger.headers)
    assert r.status_code == 404
    assert set(await tree(client, viewer, owner.project_id)) == {"tests/test_checkout.py"}


async def test_enhance_works_on_page_objects_refuses_data_and_exports_a_git_patch(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    owner = await signup(client)
    body = {"project_id": owner.project_id, "title": "Checkout page", "content": PAGE_OBJECT}
    r = await client.post(
        "/v1/scripts", json={**body, "path": "pages/checkout.py"}, headers=owner.headers
    )
    page = r.json()
    r = await client.post(
        "/v1/scripts",
        json={**body, "path": "data/cards.csv", "content": "number\n4242\n"},
        headers=owner.headers,
    )
    data = r.json()
    r = await client.post(f"/v1/scripts/{data['id']}/enhance", json={}, headers=owner.headers)
    assert r.status_code == 422 and r.json()["error"]["code"] == "NOT_A_PYTHON_FILE"
    await create_environment(client, owner, base_url="http://127.0.0.1:9")
    run = {"script_id": data["id"], "environment": "staging"}
    r = await client.post("/v1/test-runs", json=run, headers=owner.headers)
    assert r.status_code == 422 and r.json()["error"]["code"] == "NOT_A_PYTHON_FILE"

    r = await client.post(f"/v1/scripts/{page['id']}/enhance", json={}, headers=owner.headers)
    assert r.status_code == 200, r.text
    changeset = r.json()
    base = f"/v1/scripts/{page['id']}/changesets/{changeset['id']}"
    r = await client.get(f"{base}/patch", headers=owner.headers)
    assert r.status_code == 409  # proposed, not accepted yet
    r = await client.post(f"{base}/accept", json={}, headers=owner.headers)
    assert r.status_code == 200, r.text
    r = await client.get(f"{base}/patch", headers=owner.headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/x-patch")
    patch = r.content

    # A repository holding the base version takes the patch with git at its root.
    git = shutil.which("git")
    assert git, "git is needed to check the patch applies"
    repo = tmp_path / "repo"
    (repo / "pages").mkdir(parents=True)
    (repo / "pages" / "checkout.py").write_bytes(PAGE_OBJECT.encode())
    subprocess.run([git, "init", "-q", str(repo)], check=True)
    (tmp_path / "change.patch").write_bytes(patch)
    subprocess.run([git, "apply", "--check", str(tmp_path / "change.patch")], cwd=repo, check=True)
    subprocess.run([git, "apply", str(tmp_path / "change.patch")], cwd=repo, check=True)
    r = await client.get(f"/v1/scripts/{page['id']}", headers=owner.headers)
    assert (repo / "pages" / "checkout.py").read_bytes() == r.json()["content"].encode()
    assert r.json()["content"] != PAGE_OBJECT
