"""One structured chat completion against an OpenAI-compatible server, through the official SDK.

Enhance (an improved script) and generate (a plan of steps) both ask a model for an answer of
a pydantic shape. The model's answer is untrusted input: a cut-off, filtered, refused or
ill-shaped one is 502 `AI_OUTPUT_INVALID` and nothing is stored; a provider that is missing,
refuses the key, cannot be reached or fails is 503 `AI_PROVIDER_UNAVAILABLE`. Messages name the
server by scheme and host only, never credentials or query strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlsplit

import pydantic

from scriptflow.errors import AIOutputInvalid, AIProviderUnavailable

Answer = TypeVar("Answer", bound=pydantic.BaseModel)


@dataclass(frozen=True)
class ProviderConfig:
    """Where the model is and how patiently to ask it."""

    api_key: str
    base_url: str | None = None
    timeout_s: float = 60.0
    max_retries: int = 2


async def structured_answer(
    config: ProviderConfig,
    *,
    model: str,
    system: str,
    user: str,
    shape: type[Answer],
    what: str,
    temperature: float | None = None,
) -> Answer:
    """The model's answer parsed as `shape`; `what` names it in errors ("script", "plan")."""
    # The SDK costs most of a second to import; only a call to the provider needs it.
    import openai

    where = public_origin(config.base_url)
    try:
        async with openai.AsyncOpenAI(
            api_key=config.api_key,
            base_url=config.base_url,
            timeout=config.timeout_s,
            max_retries=config.max_retries,
        ) as client:
            completion = await client.chat.completions.parse(
                model=model,
                messages=[
                    {"role": "system", "content": system},
                    {"role": "user", "content": user},
                ],
                response_format=shape,
                temperature=temperature if temperature is not None else openai.omit,
            )
    except (openai.LengthFinishReasonError, openai.ContentFilterFinishReasonError) as exc:
        raise AIOutputInvalid(
            f"The model's {what} was cut off or filtered; nothing was stored",
            details={"model": model},
        ) from exc
    except (pydantic.ValidationError, ValueError) as exc:
        raise AIOutputInvalid(
            f"The model's {what} does not match the expected structure; nothing was stored",
            details={"model": model},
        ) from exc
    except openai.AuthenticationError as exc:
        raise AIProviderUnavailable(
            f"The AI provider at {where} rejected the API key: check OPENAI_API_KEY",
            details={"status": exc.status_code},
        ) from exc
    except openai.APIConnectionError as exc:
        raise AIProviderUnavailable(
            f"The AI provider at {where} is unreachable or timed out: check OPENAI_BASE_URL "
            "and that the server is running",
        ) from exc
    except openai.APIStatusError as exc:
        raise AIProviderUnavailable(
            f"The AI provider at {where} answered {exc.status_code}; try again later, or "
            "check the model name and OPENAI_BASE_URL",
            details={"status": exc.status_code, "model": model},
        ) from exc
    message = completion.choices[0].message if completion.choices else None
    if message is None or message.parsed is None:
        refusal = message.refusal if message is not None else None
        raise AIOutputInvalid(
            f"The model returned no usable {what}" + (" (it refused)" if refusal else ""),
            details={"model": model},
        )
    return message.parsed


def public_origin(base_url: str | None) -> str:
    """The server's scheme and host only: never credentials or query strings in messages."""
    if not base_url:
        return "api.openai.com"
    parts = urlsplit(base_url)
    host = parts.hostname or "the configured URL"
    return f"{parts.scheme}://{host}:{parts.port}" if parts.port else f"{parts.scheme}://{host}"
