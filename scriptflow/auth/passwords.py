"""argon2id password hashing; callers run these in a thread (they are deliberately slow).

The cost is argon2-cffi's RFC 9106 low-memory profile (64 MiB, 3 passes). A test suite that
signs up hundreds of users may set ``SCRIPTFLOW_PASSWORD_HASHING=fast-for-tests``: still
argon2id, at the smallest cost the algorithm allows, the way Django's test settings swap in a
fast hasher. Production refuses that profile. Every hash carries its own parameters, so a hash
made under one profile verifies under the other, and a fast one is re-hashed at the next login
with the standard cost (``needs_rehash``).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

STANDARD = "standard"
FAST_FOR_TESTS = "fast-for-tests"


class UnsafeHashingProfile(RuntimeError):
    """The fast test profile was asked for in production."""


def hasher_from_environment(environ: Mapping[str, str]) -> PasswordHasher:
    """The hasher `SCRIPTFLOW_PASSWORD_HASHING` asks for; unknown names are refused."""
    profile = environ.get("SCRIPTFLOW_PASSWORD_HASHING", STANDARD).strip().lower() or STANDARD
    if profile == STANDARD:
        return PasswordHasher()
    if profile != FAST_FOR_TESTS:
        raise UnsafeHashingProfile(
            f"SCRIPTFLOW_PASSWORD_HASHING must be {STANDARD!r} or {FAST_FOR_TESTS!r}"
        )
    if environ.get("SCRIPTFLOW_ENV", "").strip().lower() == "production":
        raise UnsafeHashingProfile(
            f"SCRIPTFLOW_PASSWORD_HASHING={FAST_FOR_TESTS} is for test suites, never production"
        )
    return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


_hasher = hasher_from_environment(os.environ)


@functools.cache
def dummy_hash() -> str:
    """Verified against when the email is unknown, so both failures cost the same time.

    Made on first use, not at import: a CLI or worker process never verifies a password and
    should not pay a standard-cost hash (~0.6 CPU s) to start. The API makes it at start-up
    (`app.main`'s lifespan), so its first unknown-email login costs what every other one does.
    """
    return _hasher.hash("scriptflow-timing-equaliser")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when `password` matches; an unknown user (None) still pays for one verification."""
    try:
        return _hasher.verify(password_hash or dummy_hash(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
