"""JWTs: only well-formed, signed, current tokens for this service get in."""

from __future__ import annotations

import base64
import json
import time
import uuid
from pathlib import Path

import httpx
import jwt
import pytest

from app.main import create_app
from scriptflow.config import ConfigurationError, Settings
from tests.factories import signup
from tests.support.settings import TEST_SECRET

ISS, AUD = "scriptflow", "scriptflow-api"


def forge(claims: dict[str, object], key: str = TEST_SECRET, alg: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=alg)


def valid_claims(user_id: str) -> dict[str, object]:
    now = int(time.time())
    return {
        "sub": user_id,
        "iat": now,
        "exp": now + 60,
        "iss": ISS,
        "aud": AUD,
        "jti": "j1",
        "ver": 0,
    }


def unsigned(claims: dict[str, object]) -> str:
    def b64(d: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(d).encode()).decode().rstrip("=")

    return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda c: unsigned(c), id="alg-none"),
        pytest.param(lambda c: forge(c, key="another-secret-" + "y" * 40), id="wrong-key"),
        pytest.param(lambda c: forge(c, alg="HS512"), id="other-algorithm"),
        pytest.param(lambda c: forge({**c, "exp": int(time.time()) - 5}), id="expired"),
        pytest.param(lambda c: forge({k: v for k, v in c.items() if k != "exp"}), id="missing-exp"),
        pytest.param(lambda c: forge({k: v for k, v in c.items() if k != "jti"}), id="missing-jti"),
        pytest.param(lambda c: forge({**c, "aud": "someone-else"}), id="wrong-aud"),
        pytest.param(lambda c: forge({**c, "iss": "evil"}), id="wrong-iss"),
        pytest.param(lambda c: forge({**c, "sub": str(uuid.uuid4())}), id="unknown-user"),
        pytest.param(lambda c: forge({**c, "exp": str(c["exp"])}), id="exp-numeric-string"),
        pytest.param(lambda c: forge({**c, "exp": float(c["exp"])}), id="exp-float"),
        pytest.param(lambda c: forge({**c, "exp": int(c["iat"]) + 10**9}), id="exp-far-away"),
        pytest.param(lambda c: forge({**c, "iat": int(c["iat"]) + 3600}), id="issued-in-future"),
        pytest.param(lambda c: forge({k: v for k, v in c.items() if k != "ver"}), id="missing-ver"),
        pytest.param(lambda c: forge({**c, "ver": 1}), id="revoked-version"),
        pytest.param(lambda c: forge({**c, "ver": "0"}), id="ver-string"),
    ],
)
async def test_bad_tokens_are_401(client: httpx.AsyncClient, make) -> None:  # type: ignore[no-untyped-def]
    account = await signup(client)
    token = make(valid_claims(account.user_id))
    r = await client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "UNAUTHORIZED"


async def test_a_forged_but_well_formed_token_works_only_with_our_key(
    client: httpx.AsyncClient,
) -> None:
    account = await signup(client)
    token = forge(valid_claims(account.user_id))
    r = await client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200


async def test_issued_tokens_carry_every_claim(client: httpx.AsyncClient) -> None:
    account = await signup(client)
    claims = jwt.decode(account.token, TEST_SECRET, algorithms=["HS256"], audience=AUD)
    assert {"sub", "exp", "iat", "iss", "aud", "jti", "ver"} <= set(claims)
    assert claims["sub"] == account.user_id
    assert type(claims["exp"]) is int and claims["exp"] - claims["iat"] == 900


@pytest.mark.parametrize("secret", [None, "short", "changeme", "x" * 31])
def test_production_refuses_a_weak_or_missing_secret(tmp_path: Path, secret: str | None) -> None:
    settings = Settings(JWT_SECRET=secret, data_dir=tmp_path).model_copy(
        update={"env": "production"}
    )
    with pytest.raises(ConfigurationError, match="JWT_SECRET"):
        create_app(settings)


def test_development_generates_one_secret_and_keeps_it(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    first = settings.resolve_jwt_secret()
    assert len(first) >= 43
    assert (tmp_path / ".jwt_secret").stat().st_mode & 0o777 == 0o600
    assert Settings(data_dir=tmp_path).resolve_jwt_secret() == first
