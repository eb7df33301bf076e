"""The `openai` provider: any OpenAI-compatible server through the official SDK.

The model returns the full improved script and one rationale per change as structured output;
the diff is computed here. Its output is untrusted: it must parse as Python before anyone
sees it, and the guardrails judge its hunks like any other.
"""

from __future__ import annotations

import ast
from typing import Literal

from pydantic import BaseModel, Field

from scriptflow.enhance.proposal import EnhanceOptions, Finding, Proposal
from scriptflow.errors import AIOutputInvalid, AIProviderUnavailable
from scriptflow.structured_ai import ProviderConfig, structured_answer

DEFAULT_MODEL = "gpt-4o-mini"
SYSTEM_PROMPT = """\
You improve Playwright for Python browser test scripts (sync or async API, pytest-playwright \
tests, or codegen scripts with `def run(playwright)`).
Make tests reliable and readable: replace hard waits with web-first waits, move page.click-style \
calls to the locator API, prefer get_by_role/get_by_label/get_by_test_id over brittle CSS or \
XPath, turn boolean checks into expect(...) assertions, and make URLs that start with a known \
base URL relative.
Never remove or weaken an assertion, never add a hard wait, never skip or xfail a test, never \
delete steps. Keep everything you do not change exactly as it is, including comments and \
formatting.
Return the complete improved script in `improved_script`, and one entry in `changes` per change \
with the 1-based line range it replaces in the ORIGINAL script, its category, why, and how sure \
you are (0 to 1). If nothing should change, return the script unchanged and no changes."""


class ModelChange(BaseModel):
    """One change as the model reports it."""

    line_start: int
    line_end: int
    category: Literal["locator", "wait", "assertion", "flow", "url"]
    rationale: str
    confidence: float


class ModelProposal(BaseModel):
    """The structured output the model must return."""

    improved_script: str
    changes: list[ModelChange] = Field(default_factory=list)


class OpenAIProvider:
    """Proposals from a chat-completions model with structured output."""

    name = "openai"

    def __init__(
        self,
        *,
        api_key: str | None,
        base_url: str | None = None,
        timeout_s: float = 60.0,
        max_retries: int = 2,
        default_model: str = DEFAULT_MODEL,
    ) -> None:
        self._api_key = api_key
        self._base_url = base_url
        self._timeout_s = timeout_s
        self._max_retries = max_retries
        self.default_model = default_model

    async def propose(self, script: str, options: EnhanceOptions) -> Proposal:
        """Ask the model for an improved script; raise 503 or 502 errors a user can act on."""
        if not self._api_key:
            raise AIProviderUnavailable(
                "The openai provider is not configured: set OPENAI_API_KEY (and OPENAI_BASE_URL "
                "for an OpenAI-compatible server such as Ollama, vLLM or Azure), or use the "
                "'rules' provider"
            )
        model = options.model or self.default_model
        parsed = await self._complete(script, options, model)
        content = parsed.improved_script
        try:
            ast.parse(content)
        except SyntaxError as exc:
            raise AIOutputInvalid(
                f"The model's script is not valid Python (line {exc.lineno}); nothing was stored",
                details={"line": exc.lineno, "model": model},
            ) from exc
        line_count = max(script.count("\n") + (not script.endswith("\n")), 1)
        findings = [_finding(change, model, line_count) for change in parsed.changes]
        return Proposal(content=content, findings=findings, model=model)

    async def _complete(self, script: str, options: EnhanceOptions, model: str) -> ModelProposal:
        assert self._api_key is not None
        return await structured_answer(
            ProviderConfig(self._api_key, self._base_url, self._timeout_s, self._max_retries),
            model=model,
            system=SYSTEM_PROMPT,
            user=_user_message(script, options),
            shape=ModelProposal,
            what="script",
            temperature=options.temperature,
        )


def _user_message(script: str, options: EnhanceOptions) -> str:
    parts = [f"Request: {options.prompt}" if options.prompt else "Request: improve the script."]
    if options.base_urls:
        parts.append("Known base URLs: " + ", ".join(options.base_urls))
    if options.locator_hints:
        hints = [
            f"- {selector!r}: role={hint.role!r} name={hint.name!r} test_id={hint.test_id!r}"
            # Where the run saw the locator built: a page object's line, maybe not this file.
            + (
                " built at " + ", ".join(f"{file}:{line}" for file, line in hint.built_at())
                if hint.built_at()
                else ""
            )
            for selector, hint in options.locator_hints.items()
        ]
        parts.append("Elements seen in the last run:\n" + "\n".join(hints))
    parts.append(f"Script ({options.path}):\n```python\n{script}\n```")
    return "\n\n".join(parts)


def _finding(change: ModelChange, model: str, line_count: int) -> Finding:
    start = min(max(change.line_start, 1), line_count)
    end = min(max(change.line_end, start), line_count)
    return Finding(
        rule=f"openai:{model}",
        line_start=start,
        line_end=end,
        category=change.category,
        rationale=change.rationale[:2000],
        confidence=min(max(change.confidence, 0.0), 1.0),
    )
