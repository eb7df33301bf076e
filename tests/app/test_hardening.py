"""The defects an outside tester found (issue 11), each pinned by the behaviour a client sees."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from app.main import create_app
from scriptflow.config import Settings
from scriptflow.db.read_pool import DriverReadPool
from tests.factories import Account, create_script, signup

HUGE = 10**30


async def _client(settings: Settings, **overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
    application = create_app(settings.model_copy(update=overrides), run_background=False)
    async with application.router.lifespan_context(application):
        # A client that is not loopback, named (RFC 2606 `.invalid`) rather than addressed: the
        # app is called in-process through the ASGI scope, so no packet is sent anywhere.
        transport = httpx.ASGITransport(app=application, client=("client.invalid", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


def assert_validation_error(r: httpx.Response, field: str | None = None) -> None:
    assert r.status_code == 422, r.text
    body = r.json()["error"]
    assert body["code"] == "VALIDATION_ERROR"
    if field is not None:
        assert any(field in f["field"] for f in body["details"]["fields"]), body


# --- Integers and moments beyond what the database stores. ----------------------------------


async def test_versions_past_the_column_range_are_422_not_500(client: httpx.AsyncClient) -> None:
    account = await signup(client)
    script = await create_script(client, account)
    sid, h = script["id"], account.headers
    for big in (2**31, HUGE):
        assert_validation_error(await client.get(f"/v1/scripts/{sid}/revisions/{big}", headers=h))
        assert_validation_error(
            await client.get(f"/v1/scripts/{sid}/revisions/{big}/impact", headers=h)
        )
        assert_validation_error(
            await client.post(f"/v1/scripts/{sid}/revert", json={"version": big}, headers=h),
            "version",
        )
        r = await client.post(
            "/v1/test-runs",
            json={"script_id": sid, "environment": "staging", "version": big},
            headers=h,
        )
        assert_validation_error(r, "version")
        r = await client.put(
            f"/v1/scripts/{sid}", json={"title": "x", "expected_version": big}, headers=h
        )
        assert_validation_error(r, "expected_version")


def _old_style_cursor(moment: str) -> str:
    raw = json.dumps({"c": moment, "i": str(uuid.uuid4())}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
async def test_since_at_the_ends_of_time_is_an_answer_not_a_500(
    client: httpx.AsyncClient, moment: str
) -> None:
    account = await signup(client)
    r = await client.get("/v1/test-runs", params={"since": moment}, headers=account.headers)
    assert r.status_code == 200, r.text
    assert r.json() == []


async def test_forged_cursors_are_422_on_every_list(client: httpx.AsyncClient) -> None:
    account = await signup(client)
    script = await create_script(client, account)
    lists = [
        "/v1/scripts",
        "/v1/projects",
        "/v1/test-runs",
        f"/v1/scripts/{script['id']}/changesets",
        f"/v1/scripts/{script['id']}/insights",
        f"/v1/projects/{account.project_id}/insights",
    ]
    for url in lists:
        for cursor in (_old_style_cursor("0001-01-01T00:00:00+14:00"), "not a cursor"):
            r = await client.get(url, params={"cursor": cursor}, headers=account.headers)
            assert_validation_error(r, "cursor")


async def test_a_cursor_pages_through_in_order(client: httpx.AsyncClient) -> None:
    account = await signup(client)
    made = [str((await create_script(client, account, title=f"s{i}"))["id"]) for i in range(5)]
    seen: list[str] = []
    url: str | None = "/v1/scripts?limit=2"
    while url:
        r = await client.get(url, headers=account.headers)
        seen += [s["id"] for s in r.json()]
        link = r.headers.get("Link")
        url = link.split(">")[0].lstrip("<") if link else None
    assert seen == made[::-1]


# --- NUL characters: one rule for every text field, on both databases. ------------------------


async def test_nul_characters_are_422_everywhere(client: httpx.AsyncClient) -> None:
    account = await signup(client)
    script = await create_script(client, account)
    h, sid, pid = account.headers, script["id"], account.project_id
    attempts = [
        ("post", "/v1/scripts", {"project_id": pid, "title": "a\x00b", "content": "x"}, "title"),
        ("post", "/v1/scripts", {"project_id": pid, "title": "t", "content": "\x00"}, "content"),
        ("put", f"/v1/scripts/{sid}", {"content": "print(1)\x00\n"}, "content"),
        ("post", "/v1/projects", {"name": "p\x00"}, "name"),
        ("patch", f"/v1/projects/{pid}", {"settings": {"insights": {"k\x00": 1}}}, "settings"),
        (
            "post",
            f"/v1/scripts/{sid}/enhance",
            {"prompt": "\x00", "provider": "rules"},
            "prompt",
        ),
        (
            "post",
            "/v1/test-runs",
            {"script_id": sid, "environment": "st\x00ging"},
            "environment",
        ),
        ("post", "/v1/auth/login", {"email": "a\x00@example.com", "password": "x"}, "email"),
    ]
    for method, url, body, field in attempts:
        r = await client.request(method, url, json=body, headers=h)
        assert_validation_error(r, field)
    r = await client.get("/v1/scripts", params={"q": "a\x00"}, headers=h)
    assert_validation_error(r, "q")


# --- Status codes, headers and links. -------------------------------------------------------


async def test_a_chunked_body_over_the_cap_is_413(client: httpx.AsyncClient) -> None:
    account = await signup(client)

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"title": "'
        for _ in range(40):
            yield b"x" * 65536
        yield b'"}'

    r = await client.post(
        "/v1/projects",
        content=chunks(),
        headers={**account.headers, "Content-Type": "application/json"},
    )
    assert r.status_code == 413, r.text
    assert r.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_a_405_allows_every_method_of_the_path(client: httpx.AsyncClient) -> None:
    r = await client.post(f"/v1/scripts/{uuid.uuid4()}")
    assert r.status_code == 405
    assert set(r.headers["Allow"].split(", ")) == {"GET", "PUT", "DELETE"}


async def test_links_never_echo_the_host_header(settings: Settings) -> None:
    async for c in _client(settings):
        account = await signup(c)
        for i in range(3):
            await create_script(c, account, title=f"s{i}")
        r = await c.get("/v1/scripts?limit=1", headers={**account.headers, "Host": "evil.test"})
        assert r.headers["Link"].startswith("</v1/scripts?")
        assert "evil" not in r.headers["Link"]
    async for c in _client(settings, public_url="https://qa.example.com/"):
        account = await signup(c)
        for i in range(3):
            await create_script(c, account, title=f"s{i}")
        r = await c.get("/v1/scripts?limit=1", headers={**account.headers, "Host": "evil.test"})
        assert r.headers["Link"].startswith("<https://qa.example.com/v1/scripts?")


async def test_metrics_need_the_token_when_one_is_set(settings: Settings) -> None:
    async for c in _client(settings, metrics_token=SecretStr("m" * 40)):
        assert (await c.get("/metrics")).status_code == 401
        assert (
            await c.get("/metrics", headers={"Authorization": "Bearer nope"})
        ).status_code == 401
        r = await c.get("/metrics", headers={"Authorization": f"Bearer {'m' * 40}"})
        assert r.status_code == 200 and "scriptflow_http_requests_total" in r.text


async def test_metrics_answer_only_loopback_in_production_without_a_token(
    settings: Settings,
) -> None:
    async for c in _client(settings, env="production"):
        r = await c.get("/metrics")  # the transport's client is not loopback
        assert r.status_code == 403
        assert r.json()["error"]["code"] == "FORBIDDEN"
        # The schema and the docs are off in production by default.
        assert (await c.get("/openapi.json")).status_code == 404
        assert (await c.get("/docs")).status_code == 404


async def test_docs_can_be_switched_on_in_production(settings: Settings) -> None:
    async for c in _client(settings, env="production", docs_enabled=True):
        assert (await c.get("/openapi.json")).status_code == 200


async def test_the_schema_documents_our_errors_and_metrics_as_text(
    client: httpx.AsyncClient,
) -> None:
    schema = (await client.get("/openapi.json")).json()
    assert "HTTPValidationError" not in json.dumps(schema)
    for path, operations in schema["paths"].items():
        if not path.startswith("/v1/"):
            continue
        for method, operation in operations.items():
            documented = set(operation["responses"])
            wanted = {"400", "401", "403", "404", "409", "413", "422", "429", "503"}
            assert wanted <= documented, (method, path, wanted - documented)
            body = operation["responses"]["422"]["content"]["application/json"]["schema"]
            assert body["$ref"].endswith("/ValidationErrorOut")
    metrics = schema["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert set(metrics) == {"text/plain"}
    limit = next(
        p for p in schema["paths"]["/v1/scripts"]["get"]["parameters"] if p["name"] == "limit"
    )
    assert (limit["schema"]["minimum"], limit["schema"]["maximum"]) == (1, 200)


# --- Scripts, projects and roles. -----------------------------------------------------------


async def test_a_title_only_put_honours_the_expected_version(client: httpx.AsyncClient) -> None:
    account = await signup(client)
    script = await create_script(client, account)
    sid, h = script["id"], account.headers
    r = await client.put(f"/v1/scripts/{sid}", json={"content": "print(2)\n"}, headers=h)
    assert r.json()["version"] == 2
    r = await client.put(
        f"/v1/scripts/{sid}", json={"title": "stale", "expected_version": 1}, headers=h
    )
    assert r.status_code == 409, r.text
    r = await client.put(
        f"/v1/scripts/{sid}", json={"title": "stale"}, headers={**h, "If-Match": '"1"'}
    )
    assert r.status_code == 409, r.text
    assert (await client.get(f"/v1/scripts/{sid}", headers=h)).json()["title"] == "Login flow"
    r = await client.put(
        f"/v1/scripts/{sid}", json={"title": "fresh"}, headers={**h, "If-Match": '"2"'}
    )
    assert r.status_code == 200 and r.json()["title"] == "fresh"


async def test_reverting_to_the_current_content_adds_no_revision(
    client: httpx.AsyncClient,
) -> None:
    account = await signup(client)
    script = await create_script(client, account)
    sid, h = script["id"], account.headers
    await client.put(f"/v1/scripts/{sid}", json={"content": "print(2)\n"}, headers=h)
    first = await client.post(f"/v1/scripts/{sid}/revert", json={"version": 1}, headers=h)
    assert first.status_code == 200 and first.json()["version"] == 3
    for _ in range(5):
        r = await client.post(f"/v1/scripts/{sid}/revert", json={"version": 1}, headers=h)
        assert r.status_code == 200 and r.json()["version"] == 3
    r = await client.post(f"/v1/scripts/{sid}/revert", json={"version": 3}, headers=h)
    assert r.status_code == 200 and r.json()["version"] == 3
    versions = [
        rev["version"]
        for rev in (await client.get(f"/v1/scripts/{sid}/revisions", headers=h)).json()
    ]
    assert versions == [3, 2, 1]


async def test_project_list_items_carry_the_callers_role(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    viewer = await signup(client)
    await client.post(
        f"/v1/projects/{owner.project_id}/members",
        json={"email": viewer.email, "role": "viewer"},
        headers=owner.headers,
    )
    roles = {
        p["id"]: p["role"]
        for p in (await client.get("/v1/projects", headers=viewer.headers)).json()
    }
    assert roles == {viewer.project_id: "owner", owner.project_id: "viewer"}


async def test_invalid_project_settings_name_their_fields(client: httpx.AsyncClient) -> None:
    account = await signup(client)
    r = await client.patch(
        f"/v1/projects/{account.project_id}",
        json={"settings": {"confirm_flaky_reruns": 99, "colour": "red"}},
        headers=account.headers,
    )
    assert_validation_error(r, "settings.confirm_flaky_reruns")
    fields = {f["field"] for f in r.json()["error"]["details"]["fields"]}
    assert "settings.colour" in fields


async def test_ai_calls_share_one_rate_limit_per_user(settings: Settings) -> None:
    async for c in _client(settings, rate_limit_enhance_per_minute=2):
        account: Account = await signup(c)
        script = await create_script(
            c, account, content="import time\n\ndef test_x(page):\n    time.sleep(1)\n"
        )
        h = account.headers
        for _ in range(2):
            r = await c.post(f"/v1/scripts/{script['id']}/enhance", json={}, headers=h)
            assert r.status_code == 200, r.text
        r = await c.post(f"/v1/scripts/{script['id']}/enhance", json={}, headers=h)
        assert r.status_code == 429, r.text
        # A summary shares the key too, once it really calls the provider:
        # tests/insights/test_summary.py, which has a real insight to summarise.


async def test_the_hot_read_answers_exactly_like_the_routed_endpoints(
    client: httpx.AsyncClient,
) -> None:
    account = await signup(client)
    script = await create_script(client, account, title="Café ✓", content="print('é')\n")
    r = await client.get(f"/v1/scripts/{script['id']}", headers=account.headers)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.headers["ETag"] == '"1"' and r.headers["X-Request-ID"]
    listed = (await client.get("/v1/scripts", headers=account.headers)).json()[0]
    assert r.json() == listed == {**script}
    unversioned = await client.get(f"/scripts/{script['id']}", headers=account.headers)
    assert unversioned.content == r.content
    missing = await client.get(f"/v1/scripts/{uuid.uuid4()}", headers=account.headers)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "SCRIPT_NOT_FOUND"
    bad = await client.get("/v1/scripts/not-a-uuid", headers=account.headers)
    assert_validation_error(bad, "script_id")
    anonymous = await client.get(f"/v1/scripts/{script['id']}")
    assert anonymous.status_code == 401 and anonymous.headers["WWW-Authenticate"] == "Bearer"


async def test_the_hot_reads_pool_cannot_write(settings: Settings) -> None:
    pool = await DriverReadPool.open(settings.resolved_database_url)
    try:
        async with pool.acquire() as connection:
            with pytest.raises(Exception, match=r"(?i)read.only|readonly"):
                await connection.execute("CREATE TABLE hot_reads_probe (x integer)")
    finally:
        await pool.close()
