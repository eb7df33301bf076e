"""Settings builders for tests (the JWT secret they sign with, the OpenAI stub wiring)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scriptflow.config import Settings
from tests.support.openai_stub import OpenAIStub

TEST_SECRET = "test-secret-" + "x" * 40


def settings_for(db_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    """Settings for one test: its own database and data dir, rate limits out of the way."""
    values: dict[str, Any] = {
        "DATABASE_URL": db_url,
        "JWT_SECRET": TEST_SECRET,
        "data_dir": tmp_path / "data",
        "rate_limit_login_per_minute": 1000,
        "rate_limit_register_per_minute": 1000,
        "rate_limit_enhance_per_minute": 1000,
        "rate_limit_runs_per_minute": 1000,
        "workers": 0,
        # Runs beside the suite's own processes at the same priority: the suite keeps both cores
        # busy with nice-0 work, and a niced run there (production's default, 10) starves past
        # the 1 s Playwright timeouts the fixtures use on purpose. The escape suite and the
        # scale-out test run at the default and check it.
        "run_nice": 0,
    }
    return Settings(**(values | overrides))


def settings_with_openai(db_url: str, tmp_path: Path, stub: OpenAIStub) -> Settings:
    """Settings whose AI provider is the loopback OpenAI stub, failing fast instead of retrying."""
    return settings_for(
        db_url,
        tmp_path,
        OPENAI_API_KEY="sk-test-not-a-real-key",
        OPENAI_BASE_URL=stub.base_url,
        openai_max_retries=0,
        openai_timeout_s=10,
    )


def enhance_service_kwargs(settings: Settings) -> dict[str, Any]:
    """The providers and limits the API hands the enhance service, from the same settings."""
    from scriptflow.enhance.service import providers_from_settings
    from scriptflow.wiring import seen_locators

    return {
        "providers": providers_from_settings(settings),
        "allowed_models": settings.openai_models,
        "max_script_bytes": settings.max_script_bytes,
        "seen_locators": seen_locators,
    }
