"""JWT access tokens (pinned algorithm, verified claims) and opaque refresh tokens."""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from scriptflow.errors import Unauthorized

REQUIRED_CLAIMS = ["sub", "exp", "iat", "iss", "aud", "jti", "ver"]
# Clock skew tolerated between the issuer and the verifier when checking a token's lifetime.
LIFETIME_LEEWAY_S = 60


@dataclass(frozen=True)
class TokenConfig:
    secret: str
    algorithm: str
    issuer: str
    audience: str
    expires_in: int


def issue_access_token(
    cfg: TokenConfig, user_id: uuid.UUID, *, token_version: int = 0, now: datetime | None = None
) -> str:
    """A signed access token; `token_version` is the user's, so a later bump revokes it."""
    now = now or datetime.now(UTC)
    claims = {
        "sub": str(user_id),
        "ver": token_version,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=cfg.expires_in)).timestamp()),
        "iss": cfg.issuer,
        "aud": cfg.audience,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, cfg.secret, algorithm=cfg.algorithm)


def decode_access_token(cfg: TokenConfig, token: str) -> dict[str, Any]:
    """Verified claims, or Unauthorized; only the configured algorithm is accepted."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            cfg.secret,
            algorithms=[cfg.algorithm],
            audience=cfg.audience,
            issuer=cfg.issuer,
            options={"require": REQUIRED_CLAIMS},
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("Token expired") from exc
    except jwt.PyJWTError as exc:
        raise Unauthorized("Invalid token") from exc
    try:
        uuid.UUID(str(claims["sub"]))
    except ValueError as exc:
        raise Unauthorized("Invalid token") from exc
    # PyJWT accepts numeric strings for exp and iat; ours are integers, and no token of ours
    # lives longer than the configured lifetime, whatever its exp says.
    exp, iat, ver = claims["exp"], claims["iat"], claims["ver"]
    if not all(type(value) is int for value in (exp, iat, ver)):
        raise Unauthorized("Invalid token")
    if exp - iat > cfg.expires_in + LIFETIME_LEEWAY_S or iat > time.time() + LIFETIME_LEEWAY_S:
        raise Unauthorized("Invalid token")
    return claims


class AccessTokenVerifier:
    """`decode_access_token` with a bounded cache of verified claims until they expire.

    A verified token's claims cannot change, so re-verifying its signature on every request
    is pure cost; expiry is still checked on every hit.
    """

    def __init__(self, cfg: TokenConfig, *, max_entries: int = 4096) -> None:
        self.cfg = cfg
        self.max_entries = max_entries
        self._cache: dict[str, dict[str, Any]] = {}

    def verify(self, token: str) -> dict[str, Any]:
        """Claims of a valid token; whether its `ver` is still the user's is the caller's check."""
        claims = self._cache.get(token)
        if claims is not None:
            if claims["exp"] > time.time():
                return claims
            del self._cache[token]
        claims = decode_access_token(self.cfg, token)
        if len(self._cache) >= self.max_entries:
            self._cache.clear()  # crude but bounded; a full cache refills in one request each
        self._cache[token] = claims
        return claims


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header, or Unauthorized."""
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("Missing bearer token")
    return token


def new_refresh_token() -> tuple[str, str]:
    """A random refresh token and the hash we store (the token itself is never stored)."""
    token = secrets.token_urlsafe(32)
    return token, hash_refresh_token(token)


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
