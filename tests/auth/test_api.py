"""Registration, login, me, refresh rotation and logout through the API."""

from __future__ import annotations

import asyncio

import httpx

from tests.conftest import DEFAULT_PASSWORD, signup


async def test_register_login_me_follow_the_seed_shapes(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/auth/register", json={"email": "Lead@Example.com", "password": "StrongPass!"}
    )
    assert r.status_code == 201
    assert set(r.json()) == {"id", "email"}
    assert r.json()["email"] == "lead@example.com"

    r = await client.post(
        "/auth/login", json={"email": "lead@example.com", "password": "StrongPass!"}
    )
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "bearer"
    assert isinstance(body["expires_in"], int) and body["expires_in"] > 0
    token = body["access_token"]

    r = await client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    assert r.json()["email"] == "lead@example.com"
    r = await client.get("/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200


async def test_duplicate_email_is_a_conflict_whatever_the_case(client: httpx.AsyncClient) -> None:
    await signup(client, email="dup@example.com")
    r = await client.post(
        "/auth/register", json={"email": "DUP@example.COM", "password": DEFAULT_PASSWORD}
    )
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "CONFLICT"


async def test_concurrent_registrations_of_one_email_create_one_user(
    client: httpx.AsyncClient,
) -> None:
    results = await asyncio.gather(
        *[
            client.post("/auth/register", json={"email": "race@example.com", "password": "x" * 12})
            for _ in range(5)
        ]
    )
    codes = sorted(r.status_code for r in results)
    assert codes == [201, 409, 409, 409, 409]


async def test_wrong_password_and_unknown_email_fail_identically(
    client: httpx.AsyncClient,
) -> None:
    account = await signup(client)
    wrong = await client.post("/auth/login", json={"email": account.email, "password": "nope-nope"})
    unknown = await client.post(
        "/auth/login", json={"email": "ghost@example.com", "password": "nope-nope"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


async def test_short_password_is_rejected(client: httpx.AsyncClient) -> None:
    r = await client.post("/auth/register", json={"email": "a@example.com", "password": "short"})
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_refresh_rotates_and_replay_revokes_the_family(client: httpx.AsyncClient) -> None:
    account = await signup(client)
    first = account.refresh_token
    r = await client.post("/v1/auth/refresh", json={"refresh_token": first})
    assert r.status_code == 200
    second = r.json()["refresh_token"]
    assert second != first
    me = await client.get(
        "/auth/me", headers={"Authorization": f"Bearer {r.json()['access_token']}"}
    )
    assert me.status_code == 200

    replay = await client.post("/v1/auth/refresh", json={"refresh_token": first})
    assert replay.status_code == 401
    # The replay revoked the whole family, so the legitimate successor is dead too.
    after = await client.post("/v1/auth/refresh", json={"refresh_token": second})
    assert after.status_code == 401


async def test_logout_revokes_the_refresh_token(client: httpx.AsyncClient) -> None:
    account = await signup(client)
    r = await client.post(
        "/v1/auth/logout", json={"refresh_token": account.refresh_token}, headers=account.headers
    )
    assert r.status_code == 204
    r = await client.post("/v1/auth/refresh", json={"refresh_token": account.refresh_token})
    assert r.status_code == 401


async def test_registration_creates_a_personal_project_owned_by_the_user(
    client: httpx.AsyncClient,
) -> None:
    account = await signup(client)
    r = await client.get(f"/v1/projects/{account.project_id}", headers=account.headers)
    assert r.status_code == 200
    assert r.json()["role"] == "owner"
    assert r.json()["owner_id"] == account.user_id
