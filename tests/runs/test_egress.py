"""Which addresses a runner may reach when private egress is off."""

from __future__ import annotations

import ipaddress
import uuid

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import given
from hypothesis import strategies as st

from scriptflow.config import Settings
from scriptflow.db.engine import transaction
from scriptflow.errors import ValidationFailed
from scriptflow.runs import service
from scriptflow.runs.egress import blocked_reason, is_public_address
from tests.conftest import create_script, signup
from tests.runs.helpers import create_environment


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/login",
        "http://169.254.169.254/latest/meta-data",  # cloud metadata
        "http://10.1.2.3/",
        "http://192.168.0.10/",
        "http://[::1]/",
        "http://[::ffff:10.0.0.1]/",  # IPv4-mapped private
        "http://internal.test/",  # a name that resolves privately
    ],
)
def test_private_targets_are_blocked(url: str) -> None:
    resolve = {"internal.test": ["10.9.9.9"]}.get
    assert blocked_reason(url, lambda host: resolve(host) or []) is not None


def test_public_targets_and_unresolvable_names_pass() -> None:
    assert blocked_reason("https://8.8.8.8/", lambda host: []) is None
    assert blocked_reason("https://shop.example/", lambda host: ["93.184.215.14"]) is None
    assert blocked_reason("https://nowhere.example/", lambda host: []) is None


@given(st.ip_addresses(v=4))
def test_verdict_matches_the_standard_library_for_ipv4(ip: ipaddress.IPv4Address) -> None:
    assert is_public_address(str(ip)) == (ip.is_global and not ip.is_multicast)


async def test_runs_against_private_environments_are_refused_when_egress_is_off(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings, chromium: object
) -> None:
    account = await signup(client)
    await create_environment(client, account, "http://127.0.0.1:9")
    script = await create_script(client, account)
    strict = settings.model_copy(update={"allow_private_egress": False})
    async with transaction(app.state.sessionmaker) as session:
        with pytest.raises(ValidationFailed) as exc:
            await service.create_run(
                session,
                uuid.UUID(account.user_id),
                strict,
                script_id=uuid.UUID(str(script["id"])),
                environment="staging",
                browser="chromium",
            )
    assert "private" in exc.value.message
