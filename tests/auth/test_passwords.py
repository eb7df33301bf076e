"""Password hashing is argon2id at the standard cost; the fast profile is for test suites only."""

from __future__ import annotations

import httpx
import pytest
from argon2 import PasswordHasher, extract_parameters
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scriptflow.auth import passwords
from scriptflow.auth.models import User
from scriptflow.db.engine import transaction
from tests.factories import signup


def test_the_default_is_argon2id_at_the_rfc_9106_low_memory_cost() -> None:
    params = extract_parameters(passwords.hasher_from_environment({}).hash("correct horse"))
    assert (params.type.name, params.memory_cost, params.time_cost) == ("ID", 65536, 3)


def test_the_fast_profile_is_argon2id_and_refused_in_production_or_misspelt() -> None:
    fast = passwords.hasher_from_environment({"SCRIPTFLOW_PASSWORD_HASHING": "fast-for-tests"})
    assert extract_parameters(fast.hash("correct horse")).type.name == "ID"
    with pytest.raises(passwords.UnsafeHashingProfile, match="never production"):
        passwords.hasher_from_environment(
            {"SCRIPTFLOW_PASSWORD_HASHING": "fast-for-tests", "SCRIPTFLOW_ENV": "production"}
        )
    with pytest.raises(passwords.UnsafeHashingProfile, match="must be"):
        passwords.hasher_from_environment({"SCRIPTFLOW_PASSWORD_HASHING": "md5"})


async def test_a_hash_made_at_another_cost_is_upgraded_at_the_next_login(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    owner = await signup(client)  # hashed at this suite's fast cost
    monkeypatch.setattr(passwords, "_hasher", PasswordHasher())  # the standard cost again
    login = await client.post(
        "/auth/login", json={"email": owner.email, "password": owner.password}
    )
    assert login.status_code == 200, login.text
    async with transaction(sessionmaker) as session:
        stored = await session.scalar(select(User.password_hash).where(User.email == owner.email))
    assert stored is not None and extract_parameters(stored).memory_cost == 65536
    assert passwords.verify_password(stored, owner.password)
