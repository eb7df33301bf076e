"""Enhance tests talk to a real OpenAI-compatible server on loopback, never to a paid API."""

from __future__ import annotations

from pathlib import Path

import pytest

from scriptflow.config import Settings
from tests.support.openai_stub import OpenAIStub
from tests.support.settings import settings_with_openai


@pytest.fixture
def settings(db_url: str, tmp_path: Path, openai_stub: OpenAIStub) -> Settings:
    return settings_with_openai(db_url, tmp_path, openai_stub)
