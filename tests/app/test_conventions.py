"""API conventions: the seed's error shape everywhere, request ids, health, metrics, OpenAPI."""

from __future__ import annotations

import io
import json
import logging

import httpx

from app.main import create_app
from scriptflow.config import Settings
from scriptflow.logs import JsonFormatter, RequestIdFilter
from tests.factories import signup


def assert_error_shape(body: dict[str, object], code: str) -> None:
    assert set(body) == {"error"}
    error = body["error"]
    assert isinstance(error, dict)
    assert set(error) == {"code", "message", "details"}
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]


async def test_unknown_route_and_method_use_the_error_shape(client: httpx.AsyncClient) -> None:
    r = await client.get("/v1/nowhere")
    assert r.status_code == 404
    assert_error_shape(r.json(), "NOT_FOUND")
    r = await client.patch("/auth/login", json={})
    assert r.status_code == 405
    assert_error_shape(r.json(), "METHOD_NOT_ALLOWED")


async def test_validation_errors_name_the_fields_and_reject_unknown_ones(
    client: httpx.AsyncClient,
) -> None:
    account = await signup(client)
    r = await client.post(
        "/scripts",
        json={"project_id": "not-a-uuid", "title": "", "content": "x", "colour": "red"},
        headers=account.headers,
    )
    assert r.status_code == 422
    assert_error_shape(r.json(), "VALIDATION_ERROR")
    fields = {f["field"] for f in r.json()["error"]["details"]["fields"]}
    assert {"project_id", "title", "colour"} <= fields


async def test_malformed_json_is_a_clear_400(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/auth/login", content=b'{"email": "a@b.c", ', headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 400
    assert_error_shape(r.json(), "BAD_REQUEST")
    assert "JSON" in r.json()["error"]["message"]


async def test_missing_or_bad_token_is_401(client: httpx.AsyncClient) -> None:
    r = await client.get("/scripts")
    assert r.status_code == 401
    assert_error_shape(r.json(), "UNAUTHORIZED")
    r = await client.get("/scripts", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == "Bearer"


async def test_oversized_body_is_413_before_parsing(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/auth/login",
        content=b"x" * (3 * 1024 * 1024),
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 413
    assert_error_shape(r.json(), "PAYLOAD_TOO_LARGE")


async def test_request_id_is_echoed_or_generated(client: httpx.AsyncClient) -> None:
    r = await client.get("/healthz", headers={"X-Request-ID": "trace-abc.123"})
    assert r.headers["X-Request-ID"] == "trace-abc.123"
    r = await client.get("/healthz")
    assert len(r.headers["X-Request-ID"]) == 32
    # Header injection attempts are replaced, not echoed.
    r = await client.get("/v1/nowhere", headers={"X-Request-ID": "bad id\twith spaces"})
    assert r.headers["X-Request-ID"] != "bad id\twith spaces"


async def test_request_id_is_on_every_json_log_line(client: httpx.AsyncClient) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        await client.get("/healthz", headers={"X-Request-ID": "req-42"})
        await client.post("/auth/login", json={"email": "a@b.co", "password": "x"},
                          headers={"X-Request-ID": "req-43"})  # fmt: skip
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    access = [line for line in lines if line["logger"] == "scriptflow.access"]
    assert [line["request_id"] for line in access] == ["req-42", "req-43"]
    assert access[0]["route"] == "/healthz" and access[0]["status"] == 200
    # No secret material leaks into logs: the password is nowhere.
    assert '"x"' not in stream.getvalue() and "password" not in stream.getvalue()


async def test_health_readiness_and_metrics(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    r = await client.get("/readyz")
    assert r.status_code == 200 and r.json()["database"] == "ok"
    await client.get("/v1/nowhere")
    text = (await client.get("/metrics")).text
    assert "scriptflow_http_requests_total" in text
    assert 'route="/healthz"' in text
    assert "scriptflow_http_request_duration_seconds_bucket" in text
    assert "scriptflow_http_errors_total" in text


async def test_schema_has_v1_paths_only(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert "/v1/scripts/{script_id}" in paths
    assert "/scripts/{script_id}" not in paths
    assert "/auth/login" not in paths and "/v1/auth/login" in paths


async def test_an_unexpected_error_is_a_500_without_internals(settings: Settings) -> None:
    application = create_app(settings, run_background=False)

    @application.get("/v1/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals: password=hunter2")

    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            r = await c.get("/v1/boom")
    assert r.status_code == 500
    assert_error_shape(r.json(), "INTERNAL_ERROR")
    assert "hunter2" not in r.text and "RuntimeError" not in r.text
    assert r.headers.get("X-Request-ID")


async def test_login_and_register_are_rate_limited(settings: Settings) -> None:
    strict = settings.model_copy(
        update={"rate_limit_login_per_minute": 3, "rate_limit_register_per_minute": 2}
    )
    application = create_app(strict, run_background=False)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            creds = {"email": "rl@example.com", "password": "wrong-password"}
            codes = [(await c.post("/auth/login", json=creds)).status_code for _ in range(4)]
            assert codes == [401, 401, 401, 429]
            r = await c.post("/auth/login", json=creds)
            assert_error_shape(r.json(), "RATE_LIMITED")
            assert int(r.headers["Retry-After"]) >= 1
            regs = [
                (
                    await c.post(
                        "/auth/register", json={"email": f"r{i}@example.com", "password": "x" * 10}
                    )
                ).status_code
                for i in range(3)
            ]
            assert regs == [201, 201, 429]
