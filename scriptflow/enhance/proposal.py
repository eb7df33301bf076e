"""What every enhancement provider takes and returns, and the interface they share."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

from scriptflow.changesets.guardrails import Category

RuleFamily = Literal["waits", "selectors", "assertions", "urls"]
RULE_FAMILIES: tuple[RuleFamily, ...] = ("waits", "selectors", "assertions", "urls")


@dataclass(frozen=True)
class LocatorHint:
    """What a run's trace snapshot knows about the element a selector matched, and where the
    run saw its locator built (a page object's file and line, which may not be the file whose
    test used it)."""

    role: str | None = None
    name: str | None = None
    test_id: str | None = None
    label: str | None = None
    file: str | None = None
    line: int | None = None
    # Every (file, line) the run saw the locator built at, the first one (file, line) included:
    # one selector may be built in a page object and again in a test.
    places: tuple[tuple[str, int], ...] = ()

    def built_at(self) -> tuple[tuple[str, int], ...]:
        """Every place known, at least the first when only that one is."""
        if self.places:
            return self.places
        return ((self.file, self.line),) if self.file and self.line else ()


# Keyed by the selector string exactly as it appears in the script.
LocatorHints = dict[str, LocatorHint]


@dataclass(frozen=True)
class Finding:
    """One observation about the script; `changed` says whether the proposal acts on it."""

    rule: str
    line_start: int
    line_end: int
    category: Category
    rationale: str
    confidence: float
    changed: bool = True

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form, as stored on the change set."""
        return asdict(self)


@dataclass(frozen=True)
class EnhanceOptions:
    """The request as a provider sees it."""

    prompt: str | None = None
    model: str | None = None
    temperature: float | None = None
    base_urls: tuple[str, ...] = ()
    locator_hints: LocatorHints = field(default_factory=dict)
    path: str = "script.py"


@dataclass(frozen=True)
class Proposal:
    """A provider's answer: the full improved script and the findings behind it."""

    content: str
    findings: list[Finding]
    model: str | None = None


class Provider(Protocol):
    """An enhancement provider: proposes an improved script for a base script."""

    name: str

    async def propose(self, script: str, options: EnhanceOptions) -> Proposal:
        """Return the improved script and findings; never mutates anything."""
        ...
