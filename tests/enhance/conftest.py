"""Enhance tests talk to a real OpenAI-compatible server on loopback, never to a paid API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from scriptflow.config import Settings
from tests.conftest import TEST_SECRET
from tests.enhance.openai_stub import OpenAIStub


@pytest.fixture(scope="session")
def openai_stub() -> Iterator[OpenAIStub]:
    stub = OpenAIStub().start()
    try:
        yield stub
    finally:
        stub.stop()


@pytest.fixture
def stub(openai_stub: OpenAIStub) -> OpenAIStub:
    """The shared stub, reset to a harmless answer for each test."""
    openai_stub.answer("")
    openai_stub.behaviour.requests.clear()
    return openai_stub


@pytest.fixture
def settings(db_url: str, tmp_path: Path, openai_stub: OpenAIStub) -> Settings:
    return Settings(
        DATABASE_URL=db_url,
        JWT_SECRET=TEST_SECRET,
        OPENAI_API_KEY="sk-test-not-a-real-key",
        OPENAI_BASE_URL=openai_stub.base_url,
        openai_max_retries=0,
        openai_timeout_s=10,
        data_dir=tmp_path / "data",
        rate_limit_login_per_minute=1000,
        rate_limit_register_per_minute=1000,
        rate_limit_enhance_per_minute=1000,
        rate_limit_runs_per_minute=1000,
        workers=0,
    )
