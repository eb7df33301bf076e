"""Who a notebook acts for: the signed-in user when served, the configured local user otherwise."""

from __future__ import annotations

import uuid

import pytest

from app.web.notebook_context import LOCAL_USER_ENV, identity_for
from scriptflow.errors import Unauthorized

USER_ID = uuid.uuid4()
SERVED_USER = {"username": str(USER_ID), "is_authenticated": True, "display_name": "qa@x.io"}


def test_a_served_notebook_acts_as_the_signed_in_user() -> None:
    identity = identity_for("run", SERVED_USER, {LOCAL_USER_ENV: "local@example.com"})
    assert identity.user_id == USER_ID and identity.email is None


@pytest.mark.parametrize(
    "request_user",
    [None, {}, {**SERVED_USER, "is_authenticated": False}, {**SERVED_USER, "username": "x"}],
)
def test_a_served_notebook_never_falls_back_to_the_local_user(request_user: object) -> None:
    with pytest.raises(Unauthorized):
        identity_for("run", request_user, {LOCAL_USER_ENV: "local@example.com"})  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", ["edit", "script", None])
def test_local_use_acts_as_the_configured_user(mode: str | None) -> None:
    identity = identity_for(mode, None, {LOCAL_USER_ENV: " Local@Example.com "})
    assert identity.email == "local@example.com" and identity.user_id is None


def test_local_use_without_a_configured_user_says_what_to_set() -> None:
    with pytest.raises(Unauthorized, match=LOCAL_USER_ENV):
        identity_for("edit", None, {})
