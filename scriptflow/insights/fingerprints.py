"""Stable fingerprints: one finding keeps one identity across refreshes and processes."""

from __future__ import annotations

import hashlib
import json


def fingerprint(insight_type: str, *identity: object) -> str:
    """SHA-256 (hex, 64 chars) of the type and the identity parts, as canonical JSON."""
    canonical = json.dumps(
        [insight_type, *[None if part is None else str(part) for part in identity]],
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()
