"""The generators' edges, configured from settings (the OpenAI planner shares enhance's)."""

from __future__ import annotations

from scriptflow.config import Settings
from scriptflow.generate.openai_planner import DEFAULT_MODEL, OpenAIPlanner


def planner_from_settings(settings: Settings) -> OpenAIPlanner:
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    default_model = (
        DEFAULT_MODEL
        if DEFAULT_MODEL in settings.openai_models or not settings.openai_models
        else settings.openai_models[0]
    )
    return OpenAIPlanner(
        api_key=key,
        base_url=settings.openai_base_url,
        timeout_s=settings.openai_timeout_s,
        max_retries=settings.openai_max_retries,
        default_model=default_model,
    )
