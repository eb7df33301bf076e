"""The run fixtures (the demo target on loopback, a real Chromium), shared with tests/runs."""

from tests.runs.conftest import chromium, demo

__all__ = ["chromium", "demo"]
