"""Registration, login, me, refresh rotation and logout through the API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from app.main import create_app
from scriptflow.config import Settings
from tests.factories import DEFAULT_PASSWORD, create_script, signup


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


@pytest.fixture
async def no_grace_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An app whose refresh tokens have no reuse grace window: any second use is a replay."""
    application = create_app(
        settings.model_copy(update={"refresh_grace_s": 0.0}), run_background=False
    )
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


async def test_refresh_rotates_and_replay_revokes_the_family(
    no_grace_client: httpx.AsyncClient,
) -> None:
    client = no_grace_client
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
    # The replay revoked the whole family, so the legitimate successor is dead too,
    # and so are the access tokens issued to it.
    after = await client.post("/v1/auth/refresh", json={"refresh_token": second})
    assert after.status_code == 401
    me = await client.get(
        "/auth/me", headers={"Authorization": f"Bearer {r.json()['access_token']}"}
    )
    assert me.status_code == 401


async def test_concurrent_refreshes_of_one_token_keep_the_user_logged_in(
    client: httpx.AsyncClient,
) -> None:
    account = await signup(client)
    answers = await asyncio.gather(
        *(
            client.post("/v1/auth/refresh", json={"refresh_token": account.refresh_token})
            for _ in range(10)
        )
    )
    assert [a.status_code for a in answers] == [200] * 10
    # Every pair works: nobody was logged out by the race.
    for answer in answers:
        token = answer.json()["access_token"]
        me = await client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200
    r = await client.post(
        "/v1/auth/refresh", json={"refresh_token": answers[-1].json()["refresh_token"]}
    )
    assert r.status_code == 200


async def test_logout_revokes_outstanding_access_tokens(client: httpx.AsyncClient) -> None:
    account = await signup(client)
    script = await create_script(client, account)
    assert (await client.get(f"/v1/scripts/{script['id']}", headers=account.headers)).is_success
    r = await client.post(
        "/v1/auth/logout", json={"refresh_token": account.refresh_token}, headers=account.headers
    )
    assert r.status_code == 204
    # The hot read and an ordinary route both refuse the token now.
    for url in (f"/v1/scripts/{script['id']}", "/v1/auth/me", "/v1/projects"):
        r = await client.get(url, headers=account.headers)
        assert r.status_code == 401, url
        assert r.json()["error"]["code"] == "UNAUTHORIZED"
    # Logging in again works.
    r = await client.post(
        "/v1/auth/login", json={"email": account.email, "password": account.password}
    )
    token = r.json()["access_token"]
    r = await client.get(
        f"/v1/scripts/{script['id']}", headers={"Authorization": f"Bearer {token}"}
    )
    assert r.status_code == 200


async def test_logout_everywhere_revokes_access_tokens(client: httpx.AsyncClient) -> None:
    account = await signup(client)
    assert (await client.post("/v1/auth/logout", headers=account.headers)).status_code == 204
    assert (await client.get("/v1/auth/me", headers=account.headers)).status_code == 401


@pytest.mark.parametrize(
    "lookalike",
    [
        pytest.param("\u0430lice@example.com", id="cyrillic-a"),
        pytest.param("\uff41lice@example.com", id="fullwidth-a"),
        pytest.param("ALICE@Example.COM", id="case"),
        pytest.param("alice@examp1e.com", id="digit-one-for-l"),
    ],
)
async def test_lookalike_emails_cannot_register_a_second_account(
    client: httpx.AsyncClient, lookalike: str
) -> None:
    await signup(client, email="alice@example.com")
    r = await client.post(
        "/v1/auth/register", json={"email": lookalike, "password": "long enough password"}
    )
    assert r.status_code == 409, r.text
    assert r.json()["error"]["code"] == "CONFLICT"


async def test_emails_are_stored_and_matched_normalised(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/v1/auth/register",
        json={"email": "\uff22\uff4fb@Example.com", "password": "long enough password"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["email"] == "bob@example.com"
    r = await client.post(
        "/v1/auth/login", json={"email": "BOB@example.com", "password": "long enough password"}
    )
    assert r.status_code == 200


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
