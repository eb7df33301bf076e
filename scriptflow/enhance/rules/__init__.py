"""The `rules` provider: deterministic, offline libcst codemods for Playwright scripts."""

from __future__ import annotations

import asyncio
import re

from scriptflow.enhance.proposal import RULE_FAMILIES, EnhanceOptions, Proposal, RuleFamily
from scriptflow.errors import ScriptSyntaxError

# Words in a prompt that name a rule family; the first mention decides the order.
_FAMILY_WORDS: dict[RuleFamily, tuple[str, ...]] = {
    "waits": ("wait", "sleep", "timeout", "timing", "flaky", "flakiness"),
    "selectors": ("selector", "locator", "brittle"),
    "assertions": ("assert", "expect", "check"),
    "urls": ("url", "base url", "relative", "environment"),
}


def families_for_prompt(prompt: str | None) -> list[RuleFamily]:
    """The rule families a prompt asks for, in the order it names them; all when it names none."""
    if not prompt:
        return list(RULE_FAMILIES)
    text = prompt.lower()
    first_mention: dict[RuleFamily, int] = {}
    for family, words in _FAMILY_WORDS.items():
        positions = [
            match.start() for word in words for match in re.finditer(re.escape(word), text)
        ]
        if positions:
            first_mention[family] = min(positions)
    if not first_mention:
        return list(RULE_FAMILIES)
    return sorted(first_mention, key=lambda family: first_mention[family])


def enhance_with_rules(script: str, options: EnhanceOptions) -> Proposal:
    """Apply the prompt's rule families to a script (pure; raises SyntaxError)."""
    # libcst and the codemods load on first use: a tenth of every process's start-up (API,
    # worker, CLI), most of which never rewrite a script.
    from scriptflow.enhance.rules.engine import rewrite

    families = families_for_prompt(options.prompt)
    content, findings = rewrite(script, families, options)
    return Proposal(content=content, findings=findings, model=None)


class RulesProvider:
    """Deterministic codemods; the default provider."""

    name = "rules"

    async def propose(self, script: str, options: EnhanceOptions) -> Proposal:
        """Run the codemods off the event loop: parsing a long script is CPU work."""
        try:
            return await asyncio.to_thread(enhance_with_rules, script, options)
        except SyntaxError as exc:
            raise script_syntax_error(exc) from exc


def script_syntax_error(exc: SyntaxError) -> ScriptSyntaxError:
    """422 SCRIPT_SYNTAX_ERROR naming the line and column where parsing failed."""
    line = exc.lineno or 1
    return ScriptSyntaxError(
        f"The script is not valid Python: line {line}: {exc.msg}",
        details={"line": line, "column": exc.offset, "error": exc.msg},
    )


__all__ = ["RulesProvider", "enhance_with_rules", "families_for_prompt", "script_syntax_error"]
