"""Optional plain-language summaries of insights from the configured AI provider.

Never required: without ``OPENAI_API_KEY`` the insight keeps its rule-written summary and a
request for an AI one is a 503 that says what to set. The evidence sent is the insight's own
``details`` (run ids, counts, locators), never script content or secrets.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from scriptflow.config import Settings
from scriptflow.errors import AIOutputInvalid, AIProviderUnavailable

SYSTEM_PROMPT = (
    "You explain automated browser-test findings to a QA lead. In two or three plain sentences, "
    "say what the finding means, how sure the evidence is, and what to try first. Use only the "
    "evidence given; do not invent numbers."
)
MAX_SUMMARY_CHARS = 1200


class Summarizer(Protocol):
    """Writes a plain-language summary of one insight."""

    async def summarize(self, insight: dict[str, Any]) -> str: ...


class OpenAISummarizer:
    """Any OpenAI-compatible chat-completions endpoint (OPENAI_API_KEY, OPENAI_BASE_URL)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    async def summarize(self, insight: dict[str, Any]) -> str:
        """One short paragraph; raises 503/502 domain errors a user can act on."""
        # The SDK costs most of a second to import; only a call to the provider needs it.
        import openai

        key = self._settings.openai_api_key
        if key is None or not key.get_secret_value():
            raise AIProviderUnavailable(
                "No AI provider is configured: set OPENAI_API_KEY (and OPENAI_BASE_URL for an "
                "OpenAI-compatible server); insights work without it"
            )
        model = self._settings.openai_models[0]
        try:
            async with openai.AsyncOpenAI(
                api_key=key.get_secret_value(),
                base_url=self._settings.openai_base_url,
                timeout=self._settings.openai_timeout_s,
                max_retries=self._settings.openai_max_retries,
            ) as client:
                completion = await client.chat.completions.create(
                    model=model,
                    messages=[
                        {"role": "system", "content": SYSTEM_PROMPT},
                        {"role": "user", "content": json.dumps(insight, default=str)[:8000]},
                    ],
                )
        except openai.APIConnectionError as exc:
            raise AIProviderUnavailable(
                "The AI provider is unreachable or timed out: check OPENAI_BASE_URL"
            ) from exc
        except openai.APIStatusError as exc:
            raise AIProviderUnavailable(
                f"The AI provider answered {exc.status_code}; check OPENAI_API_KEY and the model",
                details={"status": exc.status_code, "model": model},
            ) from exc
        text = completion.choices[0].message.content if completion.choices else None
        if not text or not text.strip():
            raise AIOutputInvalid("The AI provider returned an empty summary")
        return text.strip()[:MAX_SUMMARY_CHARS]
